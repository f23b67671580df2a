"""ProcessWatchdog: the released runtime's watchdog, as a facade over procd's.

procd watches the processes it runs itself (per-process timers; hung
processes are stopped with reason HUNG), with the settings this facade's
``config`` puts in their specs. What stays here, in a loop that runs every
``config.check_interval`` between ``start()`` and ``stop()``:

* the ``activity_callback`` of each process is called and new activity is
  forwarded to procd as an UpdateActivity heartbeat;
* ``on_hang(pid, record, hang_seconds)`` is called when procd reports a
  process hung (its event stream);
* processes this client registered itself (not procd's) are checked and
  killed as the original did.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal as _signal
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Union

from ._convert import from_timestamp
from ._pb import pb
from ._process import ProcessHandle
from ._registry import ProcessRegistry
from .config import WatchdogConfig
from .errors import FailedPrecondition, ProcdError, ProcessStopError, WatchdogStartError

__all__ = [
    "ProcessWatchdog",
    "wait_for_process_exit",
    "TerminationStrategy",
    "SignalTerminationStrategy",
    "BestEffortTerminationStrategy",
]

log = logging.getLogger("procd_client")


async def wait_for_process_exit(process: Any, timeout: Optional[float] = None) -> Optional[int]:
    """Waits for a process object (a ProcessHandle, an asyncio Process or a
    Popen) to exit and returns its returncode; raises asyncio.TimeoutError
    after ``timeout`` seconds."""
    wait = getattr(process, "wait", None)
    if isinstance(process, ProcessHandle) or (wait is not None and inspect.iscoroutinefunction(wait)):
        return await asyncio.wait_for(process.wait(), timeout)

    async def poll() -> Optional[int]:
        while process.poll() is None:
            await asyncio.sleep(0.05)
        return process.returncode

    return await asyncio.wait_for(poll(), timeout)


class TerminationStrategy:
    """How the watchdog ends a hung process it tracks itself:
    ``await strategy.terminate(pid, record)`` returns True once it is gone."""

    async def terminate(self, pid: int, record: Mapping[str, Any]) -> bool:  # pragma: no cover - interface
        raise NotImplementedError


class SignalTerminationStrategy(TerminationStrategy):
    """The default with a dispatcher: "timeout", 0.5 s, "force", 1 s."""

    def __init__(self, dispatcher: Any):
        self.dispatcher = dispatcher

    async def terminate(self, pid: int, record: Mapping[str, Any]) -> bool:
        process = record.get("process")
        await self.dispatcher.send("timeout", pid, record)
        try:
            await wait_for_process_exit(process, 0.5)
            return True
        except asyncio.TimeoutError:
            pass
        await self.dispatcher.send("force", pid, record)
        try:
            await wait_for_process_exit(process, 1.0)
            return True
        except asyncio.TimeoutError:
            return False


class BestEffortTerminationStrategy(TerminationStrategy):
    """The default without a dispatcher: SIGKILL to the process (its group
    if it leads one) from here; ProcessStopError on unexpected errors."""

    async def terminate(self, pid: int, record: Mapping[str, Any]) -> bool:
        process = record.get("process")
        if isinstance(process, ProcessHandle):
            return await process._registry._stop(process, force=True)
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, _signal.SIGKILL)
            else:
                os.kill(pid, _signal.SIGKILL)
        except ProcessLookupError:
            return True
        except OSError as e:
            raise ProcessStopError(f"Failed to kill process {pid}", context={"pid": pid}) from e
        try:
            await wait_for_process_exit(process, 1.0)
        except asyncio.TimeoutError:
            return False
        return True


def _valid_timestamp(value: Any, now: float) -> Optional[float]:
    if isinstance(value, bool):
        return now if value else None
    if isinstance(value, (int, float)) and 0 <= value <= now + 1.0:
        return float(value)
    return None


class ProcessWatchdog:
    """The released runtime's watchdog (see the module comment).

    ``ProcessWatchdog(registry, signal_dispatcher, config=None, *,
    termination_strategy=None, clock=None, logger=None,
    metrics_sampler=None, on_hang=None)``. The design document's
    ``ProcessWatchdog(config)`` works too.
    """

    def __init__(
        self,
        registry: Union[ProcessRegistry, WatchdogConfig, None] = None,
        signal_dispatcher: Any = None,
        config: Optional[WatchdogConfig] = None,
        *,
        termination_strategy: Optional[TerminationStrategy] = None,
        clock: Optional[Callable[[], float]] = None,
        logger: Optional[logging.Logger] = None,
        metrics_sampler: Optional[Callable[[], Any]] = None,
        on_hang: Optional[Callable[[int, Mapping[str, Any], float], Any]] = None,
    ):
        if isinstance(registry, WatchdogConfig):  # the design document's ProcessWatchdog(config)
            if config is not None:
                raise TypeError("ProcessWatchdog: the WatchdogConfig was given twice")
            registry, config = None, registry
        self.registry: ProcessRegistry = registry if registry is not None else ProcessRegistry()
        self.signal_dispatcher = signal_dispatcher
        self.config: WatchdogConfig = config if config is not None else WatchdogConfig()
        self.clock = clock or time.time
        self.logger = logger or log
        self.metrics_sampler = metrics_sampler
        self.on_hang = on_hang
        if termination_strategy is None:
            termination_strategy = (
                SignalTerminationStrategy(signal_dispatcher)
                if signal_dispatcher is not None
                else BestEffortTerminationStrategy()
            )
        self.termination_strategy = termination_strategy
        self._task: Optional["asyncio.Task[None]"] = None
        self._task_loop: Optional[asyncio.AbstractEventLoop] = None
        self._activity: Dict[int, float] = {}
        self._forwarded: Dict[str, float] = {}
        self._unforwardable: Set[str] = set()
        self._hang_reported: Set[str] = set()
        self._killed_reported: Set[str] = set()
        self.last_scan_at: Optional[float] = None
        self.last_error: Optional[str] = None

    # ------------------------------------------------------------ loop

    @property
    def active(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Starts the loop (idempotent)."""
        try:
            loop = asyncio.get_running_loop()
            if self.active and self._task_loop is loop:
                return
            self._task_loop = loop
            self._task = loop.create_task(self._run(), name="procd_client watchdog")
        except Exception as e:  # noqa: BLE001 - reported as the original's error
            raise WatchdogStartError(
                f"Failed to start the process watchdog: {e}",
                context={"check_interval": self.config.check_interval, "process_timeout": self.config.process_timeout},
            ) from e

    async def stop(self) -> None:
        """Stops the loop and waits for it (idempotent)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            if self._task_loop is asyncio.get_running_loop():
                await asyncio.gather(task, return_exceptions=True)

    async def __aenter__(self) -> "ProcessWatchdog":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def _run(self) -> None:
        while True:
            try:
                await self.scan_once(await self.registry.snapshot())
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - the loop goes on; last_error says why
                self.last_error = f"{type(e).__name__}: {e}"
                self.logger.warning("procd_client: watchdog scan failed: %s", e)
            await asyncio.sleep(self.config.check_interval)

    # ------------------------------------------------------------ activity

    async def update_activity(self, pid: int) -> None:
        """Records activity now: a heartbeat to procd for a procd process,
        the clock's time for a process tracked here."""
        handle = self.registry.handle_for(pid)
        if handle is None:
            record = await self.registry.get_process(pid)
            if record is None:
                try:
                    await self.registry._heartbeat(pid)  # a procd process of another client
                except FailedPrecondition as e:
                    self.logger.warning("procd_client: heartbeat for pid %s not recorded: %s", pid, e.message)
                return
            self._activity[pid] = self.clock()
            return
        try:
            await self.registry._heartbeat(handle)
        except FailedPrecondition as e:
            self.logger.warning("procd_client: heartbeat for %s not recorded: %s", handle.id, e.message)

    async def register_process(
        self,
        pid: int,
        process: Any,
        activity_callback: Optional[Callable[[], Any]] = None,
        name: Optional[str] = None,
    ) -> None:
        """The design document's registration: ``process`` (an object this
        client spawned) is tracked by this watchdog (see
        ProcessManager.register_existing_process)."""
        from .config import ProcessConfig

        config = ProcessConfig(
            command=[name or str(pid)], name=name or "unknown", activity_callback=activity_callback
        )
        await self.registry.register(pid, process, config)
        self._activity[pid] = self.clock()

    async def _callback_value(self, callback: Callable[[], Any], now: float) -> Optional[float]:
        try:
            value = callback()
            if inspect.isawaitable(value):
                value = await value
        except Exception:  # noqa: BLE001 - a failing callback keeps the old value
            self.logger.debug("procd_client: activity callback failed", exc_info=True)
            return None
        return _valid_timestamp(value, now)

    # ------------------------------------------------------------ scans

    async def scan_once(self, processes: Optional[Mapping[int, Mapping[str, Any]]] = None) -> Dict[str, Any]:
        """One scan: ``{"hung": [pid], "killed": [pid], "removed": [pid],
        "timestamp": t}``. procd processes: activity callbacks are forwarded,
        the ones procd reports hung are listed in ``hung``, and those procd
        ended as hung in ``killed``; they are not removed (procd keeps their
        records). Processes tracked here are checked as the original did:
        exited ones removed, hung ones killed when auto_kill is set or the
        hang exceeds max_hang_time. ``processes`` defaults to the registry's
        snapshot."""
        if processes is None:
            processes = await self.registry.snapshot()
        now = self.clock()
        hung: List[int] = []
        killed: List[int] = []
        removed: List[int] = []
        for pid, record in list(processes.items()):
            process = record.get("process")
            config = record.get("config")
            callback = getattr(config, "activity_callback", None)
            if isinstance(process, ProcessHandle):
                await self._scan_procd(pid, process, record, callback, now, hung, killed)
            else:
                await self._scan_local(pid, process, record, callback, now, hung, killed, removed)
        self.last_scan_at = now
        return {"hung": hung, "killed": killed, "removed": removed, "timestamp": now}

    async def _scan_procd(self, pid, handle: ProcessHandle, record, callback, now, hung, killed) -> None:
        if handle.returncode is not None:
            reason = handle.record.exit.reason if handle.record.HasField("exit") else None
            if reason == pb.EXIT_REASON_HUNG and handle.id not in self._killed_reported:
                self._killed_reported.add(handle.id)
                killed.append(pid)
            return
        if callback is not None and handle.id not in self._unforwardable:
            last = self._forwarded.get(handle.id, handle.started_at)
            value = await self._callback_value(callback, now)
            if value is not None and value > last:
                self._forwarded[handle.id] = value
                try:
                    await self.registry._heartbeat(handle)
                except FailedPrecondition as e:
                    self._unforwardable.add(handle.id)
                    self.logger.warning(
                        "procd_client: activity callback of %s is not forwarded: %s", handle.id, e.message
                    )
                except ProcdError as e:
                    self.logger.debug("procd_client: heartbeat for %s failed: %s", handle.id, e)
        if handle.hung:
            hung.append(pid)
            if handle.id not in self._hang_reported:
                self._hang_reported.add(handle.id)
                last_activity = from_timestamp(handle.record.last_activity) or handle.started_at
                self._call_on_hang(pid, record, max(0.0, now - last_activity))
        else:
            self._hang_reported.discard(handle.id)

    async def _scan_local(self, pid, process, record, callback, now, hung, killed, removed) -> None:
        if getattr(process, "returncode", None) is not None:
            await self.registry.unregister(pid)
            self._activity.pop(pid, None)
            removed.append(pid)
            return
        activity = self._activity.get(pid, record.get("started_at") or now)
        if callback is not None:
            value = await self._callback_value(callback, now)
            if value is not None:
                activity = max(activity, value) if value <= now else now
                self._activity[pid] = activity
        cfg = getattr(record.get("config"), "watchdog", None) or self.config
        hang = now - activity
        limit = (cfg.process_timeout or 0) + (cfg.extra_buffer or 0)
        if not cfg.process_timeout or hang <= limit:
            return
        hung.append(pid)
        self._call_on_hang(pid, record, hang)
        if cfg.auto_kill or (cfg.max_hang_time is not None and hang > cfg.max_hang_time):
            if await self.termination_strategy.terminate(pid, record):
                await self.registry.update_status(pid, "stopped")
                await self.registry.unregister(pid)
                self._activity.pop(pid, None)
                killed.append(pid)

    def _call_on_hang(self, pid: int, record: Mapping[str, Any], hang: float) -> None:
        if self.on_hang is None:
            return
        try:
            self.on_hang(pid, record, hang)
        except Exception:  # noqa: BLE001
            self.logger.exception("procd_client: on_hang callback failed")

    # ------------------------------------------------------------ stats

    async def get_stats(self) -> Dict[str, Any]:
        """``{total_processes, running_processes, finished_processes,
        watchdog_active, last_scan_at, last_error}``, plus
        ``system_metrics`` with a metrics_sampler (dropped if it fails).
        procd's own watchdog counters: ProcessManager.get_daemon_stats()."""
        snapshot = await self.registry.snapshot()
        running = sum(1 for r in snapshot.values() if getattr(r["process"], "returncode", None) is None)
        stats: Dict[str, Any] = {
            "total_processes": len(snapshot),
            "running_processes": running,
            "finished_processes": len(snapshot) - running,
            "watchdog_active": self.active,
            "last_scan_at": self.last_scan_at,
            "last_error": self.last_error,
        }
        if self.metrics_sampler is not None:
            try:
                metrics = self.metrics_sampler()
                if inspect.isawaitable(metrics):
                    metrics = await metrics
                stats["system_metrics"] = metrics
            except Exception:  # noqa: BLE001 - the original drops the key
                self.logger.debug("procd_client: metrics sampler failed", exc_info=True)
        return stats

