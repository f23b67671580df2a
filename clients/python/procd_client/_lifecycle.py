"""ProcessLifecycle: starting and stopping, as the released runtime's
component of that name, done by procd.

A start is a StartProcess call; like the original, a process that exits
within ``ClientConfig.early_exit_check`` seconds (0.1 by default) is reported
as a ProcessStartError with its output. A stop is a StopProcess call (the
stop signal to the group, the grace period, SIGKILL), which returns once the
whole tree is gone. Processes this client registered itself are stopped from
here, as the original did.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal as _signal
from typing import Any, Dict, List, Optional

from ._convert import enum_name
from ._pb import pb
from ._process import ProcessHandle
from ._registry import ProcessRegistry
from ._watchdog import ProcessWatchdog, wait_for_process_exit
from .config import ProcessConfig, client_environment
from .errors import MCPError, ProcdError, ProcessStartError, ProcessStopError, runtime_error

__all__ = ["ProcessLifecycle"]

log = logging.getLogger("procd_client")


class ProcessLifecycle:
    """``ProcessLifecycle(watchdog, registry, signal_handler, logger)``:
    ``start(config)``, ``stop(pid, force=False)`` and
    ``stop_all(force=False)``."""

    def __init__(
        self,
        watchdog: ProcessWatchdog,
        registry: ProcessRegistry,
        signal_handler: Any,
        logger: Optional[logging.Logger] = None,
    ):
        self.watchdog = watchdog
        self.registry = registry
        self.signal_handler = signal_handler
        self.logger = logger or log

    def spec(self, config: ProcessConfig) -> Any:
        """The ProcessSpec of ``config`` for this client (its watchdog
        settings, and this client's cwd and environment when it inherits its
        context)."""
        inherit = self.registry.client_config.inherit_context
        return config.to_spec(
            self.watchdog.config,
            base_env=client_environment() if inherit else None,
            default_cwd=os.getcwd() if inherit else None,
        )

    async def start(self, config: ProcessConfig) -> ProcessHandle:
        """Starts the watchdog loop, then the process; registers and returns
        it. Raises ProcessStartError (also an instance of the daemon error's
        class, e.g. NotFound, when procd refused the start)."""
        await self.watchdog.start()
        name = config.name
        cwd = os.fspath(config.cwd) if config.cwd is not None else None
        try:
            handle = await self.registry._start(self.spec(config), config)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - every start failure is a ProcessStartError
            why = e.message if isinstance(e, ProcdError) else str(e)
            err = runtime_error(
                ProcessStartError,
                f"Failed to start process {name}: {why}",
                context={"name": name, "command": list(config.command or []), "cwd": cwd},
                cause=e,
            )
            raise err from e
        check = self.registry.client_config.early_exit_check
        if check and check > 0:
            resp = await self.registry._wait(handle, check)
            if resp is not None and not resp.timed_out:
                await self._early_exit(handle, config, cwd)
        if config.wait_ready and config.ready is not None:
            await self._wait_ready(handle, config, cwd)
        await self.registry.register(handle.pid, handle, config, started_at=handle.started_at, status="running")
        return handle

    async def _wait_ready(self, handle: ProcessHandle, config: ProcessConfig, cwd: Optional[str]) -> None:
        """Waits until the process is ready; ProcessStartError if it ended first."""
        resp = await self.registry._wait(handle, None, until_ready=True)
        if resp is None or resp.process.HasField("ready_at"):
            return
        p = resp.process
        why = enum_name(pb.ExitReason, p.exit.reason) if p.HasField("exit") else "ended"
        raise ProcessStartError(
            f"Process {config.name} ended before it was ready ({why})"
            + (f"; last probe: {p.ready_error}" if p.ready_error else ""),
            context={"command": list(config.command), "cwd": cwd, "reason": why, "ready_error": p.ready_error},
        )

    async def _early_exit(self, handle: ProcessHandle, config: ProcessConfig, cwd: Optional[str]) -> None:
        out: Dict[str, str] = {}
        for stream in ("stderr", "stdout"):
            try:
                parts = [c.data async for c in self.registry._read_output(handle, stream)]
                out[stream] = b"".join(parts).decode(errors="replace")
            except Exception:  # noqa: BLE001 - the output is a courtesy
                out[stream] = ""
        text = out["stderr"].strip() or out["stdout"].strip() or "No output"
        rc = handle.returncode
        raise ProcessStartError(
            f"Process {config.name} exited with code {rc}: {text}",
            context={
                "command": list(config.command),
                "cwd": cwd,
                "env": {"keys": sorted(config.env or {})},
                "returncode": rc,
                "stderr": out["stderr"],
                "stdout": out["stdout"],
            },
        )

    async def stop(
        self, pid: int, force: bool = False, *, grace: Optional[float] = None, signal: Optional[str] = None
    ) -> bool:
        """Stops ``pid``: True once it has exited (or had already), False if
        unknown; the record is unregistered. Raises ProcessStopError.
        procd_client: ``grace`` and ``signal`` override a procd process's
        grace period and stop signal."""
        record = await self.registry.get_process(pid)
        process = record["process"] if record is not None else None
        name = record["config"].name if record is not None else None
        try:
            if record is None:
                # Not this manager's: a process procd holds (another client's).
                return await self.registry._stop(pid, force=force, grace=grace, signal=signal)
            if isinstance(process, ProcessHandle):
                # False: procd no longer holds the record, which it removes
                # only once the process has finished.
                await self.registry._stop(process, force=force, grace=grace, signal=signal)
                ok = True
            else:
                ok = await self._stop_local(pid, process, force)
        except asyncio.CancelledError:
            raise
        except MCPError:
            raise
        except Exception as e:  # noqa: BLE001
            raise runtime_error(
                ProcessStopError,
                f"Failed to stop process {pid}: {e}",
                context={"pid": pid, "force": force, "name": name},
                cause=e,
            ) from e
        if not ok:
            raise ProcessStopError(
                f"Process {name} ({pid}) did not exit after stop attempt",
                context={"pid": pid, "force": force, "name": name},
            )
        await self.registry.unregister(pid)
        return True

    async def _stop_local(self, pid: int, process: Any, force: bool) -> bool:
        """The original's stop of a process this client spawned: SIGTERM to
        its group and up to 2 s, then SIGKILL and up to 1 s (force: SIGKILL
        and 1 s)."""
        if getattr(process, "returncode", None) is not None:
            return True
        steps = [(_signal.SIGKILL, 1.0)] if force else [(_signal.SIGTERM, 2.0), (_signal.SIGKILL, 1.0)]
        for sig, wait in steps:
            try:
                if os.getpgid(pid) == pid:
                    os.killpg(pid, sig)
                else:
                    os.kill(pid, sig)
            except ProcessLookupError:
                pass
            try:
                await wait_for_process_exit(process, wait)
                return True
            except asyncio.TimeoutError:
                continue
        return getattr(process, "returncode", None) is not None

    async def stop_all(self, force: bool = False) -> None:
        """Stops every registered process concurrently; raises
        ProcessStopError with ``context["failed_processes"]`` if any stop
        failed or returned False."""
        pids = await self.registry.list_pids()
        results = await asyncio.gather(*(self.stop(pid, force) for pid in pids), return_exceptions=True)
        failed: List[Dict[str, Any]] = []
        for pid, r in zip(pids, results):
            if isinstance(r, asyncio.CancelledError):
                raise r
            if isinstance(r, BaseException):
                failed.append({"pid": pid, "error": type(r).__name__, "message": str(r)})
            elif r is not True:
                failed.append({"pid": pid, "error": None, "message": "process not found or not stopped"})
        if failed:
            raise ProcessStopError(
                f"Failed to stop {len(failed)} of {len(pids)} processes",
                context={"failed_processes": failed},
            )
