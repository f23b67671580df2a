"""ProcessManager: the released asyncio runtime's ProcessManager, served by
procd.

Code written against the original moves over by changing its import::

    from procd_client import ProcessManager, ProcessConfig

    manager = ProcessManager.from_config(config_dict={"watchdog_process_timeout": 10.0})
    process = await manager.start_process(ProcessConfig(command=["sleep", "1"], name="nap"))
    result = await manager.wait(process.pid, timeout=5.0)   # ProcessCompletionResult
    await manager.shutdown()

The manager wires the same components as the original (a registry, a signal
dispatcher, a watchdog, a lifecycle and an inspector) and keeps its methods,
signatures, return shapes, events and exceptions. The processes themselves are
procd's: they outlive this client unless it stops them, other clients
(procctl) can see and control them, and their exit records, output and events
stay with the daemon. procd's extra detail is in separate methods
(``get_process_details``, ``wait_for_process_record``, ``get_daemon_stats``,
``heartbeat``, ``watch_events``, ``read_output``…) and keyword-only options.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Union

from ._connection import ResponseStream
from ._convert import Event, OutputChunk, enum_values, event_from_proto, message_to_dict, str_map, to_duration
from ._lifecycle import ProcessLifecycle
from ._session import Session, open_session
from ._monitor import ProcessCompletionResult, ProcessInspector, status_dict
from ._pb import pb
from ._process import ProcessHandle
from ._registry import ProcessRef, ProcessRegistry
from ._signals import SignalDispatcher
from ._watchdog import ProcessWatchdog
from .config import ClientConfig, ProcessConfig, WatchdogConfig
from .errors import (
    MCPError,
    NotFound,
    ProcdError,
    ProcessSignalError,
    ProcessStopError,
    runtime_error,
)

__all__ = ["ProcessManager", "ProcessHandle", "ProcessTarget"]

log = logging.getLogger("procd_client")

#: What the per-process methods accept: a pid (the original API), procd's id
#: ("p-42"), or the handle start_process returned.
ProcessTarget = ProcessRef

#: An observer: ``cb(event_name, payload)``.
Observer = Callable[[str, Dict[str, Any]], Any]


def _events_of(resp: Any) -> List[Event]:
    """The events of one WatchEventsResponse: a batch (``events``) or one."""
    batch = getattr(resp, "events", None)
    if batch:
        return [event_from_proto(e) for e in batch]
    return [event_from_proto(resp.event)] if resp.HasField("event") else []


class _ManagerMeta(type):
    """As in the original: isinstance is true for any class with the same
    name and module (so a reloaded module's managers still pass)."""

    def __instancecheck__(cls, instance: Any) -> bool:
        if type.__instancecheck__(cls, instance):
            return True
        return any(c.__name__ == cls.__name__ and c.__module__ == cls.__module__ for c in type(instance).__mro__)


class ProcessManager(metaclass=_ManagerMeta):
    """The released runtime's ProcessManager, its processes run by procd.

    ``ProcessManager(watchdog, registry, signal_handler, lifecycle, monitor,
    logger)`` as the original; usually made with :meth:`from_config` (the
    released factory) or :meth:`create_with_config` (the design document's).

    Attributes:
        registry: the :class:`ProcessRegistry` of this manager's processes
            (it also holds the connection to procd).
        signal_dispatcher: the :class:`SignalDispatcher`.
        lifecycle, monitor: the :class:`ProcessLifecycle` and
            :class:`ProcessInspector`.
        watchdog: the :class:`ProcessWatchdog`; its ``config`` is the hang
            settings procd applies to the processes this manager starts.
            Assignable (the lifecycle and inspector follow).
    """

    def __init__(
        self,
        watchdog: ProcessWatchdog,
        registry: ProcessRegistry,
        signal_handler: SignalDispatcher,
        lifecycle: ProcessLifecycle,
        monitor: ProcessInspector,
        logger: Optional[logging.Logger],
    ):
        self.registry = registry
        self.signal_dispatcher = signal_handler
        self.lifecycle = lifecycle
        self.monitor = monitor
        self.logger = logger or log
        self._watchdog = watchdog
        self._observers: List[Observer] = []
        self._daemon_observers: List[Observer] = []
        registry.add_listener(self._on_daemon_event)

    # ------------------------------------------------------------ construction

    @classmethod
    def with_dependencies(
        cls,
        watchdog: ProcessWatchdog,
        registry: ProcessRegistry,
        signal_handler: SignalDispatcher,
        lifecycle: ProcessLifecycle,
        monitor: ProcessInspector,
        logger: Optional[logging.Logger],
    ) -> "ProcessManager":
        return cls(watchdog, registry, signal_handler, lifecycle, monitor, logger)

    @classmethod
    def from_config(
        cls,
        config: Union[WatchdogConfig, ClientConfig, Mapping[str, Any], None] = None,
        config_dict: Optional[Mapping[str, Any]] = None,
        logger: Optional[logging.Logger] = None,
        *,
        signal_strategies: Optional[Mapping[str, Any]] = None,
        register_default_signal_strategies: bool = True,
        socket: Optional[str] = None,
        address: Optional[str] = None,
        tls_ca: Optional[str] = None,
        tls_cert: Optional[str] = None,
        tls_key: Optional[str] = None,
        token: Optional[str] = None,
        token_file: Optional[str] = None,
        inherit_context: Optional[bool] = None,
        rpc_timeout: Optional[float] = None,
        early_exit_check: Optional[float] = None,
    ) -> "ProcessManager":
        """A manager and its components, as the released factory builds them
        (nothing is dialled and the watchdog is not started: safe outside a
        running loop).

        Args:
            config: a WatchdogConfig (as in the original), a ClientConfig, or
                a mapping (see ``config_dict``).
            config_dict: an application configuration dict; when truthy it
                wins over ``config``. Its ``watchdog_check_interval``,
                ``watchdog_process_timeout``, ``watchdog_extra_buffer``,
                ``watchdog_max_hang_time`` and ``auto_kill`` keys make the
                WatchdogConfig; the keys of :class:`ClientConfig` (``socket``,
                ``address``…) say how to reach procd.
            logger, signal_strategies, register_default_signal_strategies:
                as in the original (see SignalDispatcher).
            socket … early_exit_check: procd_client options (see
                :class:`ClientConfig`); they override the configuration's.
        """
        source = config_dict if config_dict else config
        if source is None:
            client = ClientConfig()
        elif isinstance(source, ClientConfig):
            client = source
        elif isinstance(source, WatchdogConfig):
            client = ClientConfig(watchdog=source)
        elif isinstance(source, Mapping):
            client = ClientConfig.from_mapping(source)
        else:
            raise TypeError(f"from_config: unsupported configuration {type(source).__name__}")
        overrides = {
            k: v
            for k, v in dict(
                socket=socket,
                address=address,
                tls_ca=tls_ca,
                tls_cert=tls_cert,
                tls_key=tls_key,
                token=token,
                token_file=token_file,
                inherit_context=inherit_context,
                rpc_timeout=rpc_timeout,
                early_exit_check=early_exit_check,
            ).items()
            if v is not None
        }
        if overrides:
            client = dataclasses.replace(client, **overrides)
        registry = ProcessRegistry(client=client)
        dispatcher = SignalDispatcher(registry, logger, signal_strategies, register_default_signal_strategies)
        watchdog = ProcessWatchdog(registry, dispatcher, registry.client_config.watchdog, logger=logger)
        lifecycle = ProcessLifecycle(watchdog, registry, dispatcher, logger)
        monitor = ProcessInspector(registry, watchdog, logger)
        return cls(watchdog, registry, dispatcher, lifecycle, monitor, logger)

    @classmethod
    def create_with_config(
        cls,
        config: Optional[WatchdogConfig] = None,
        *,
        socket: Optional[str] = None,
        address: Optional[str] = None,
        tls_ca: Optional[str] = None,
        tls_cert: Optional[str] = None,
        tls_key: Optional[str] = None,
        token: Optional[str] = None,
        token_file: Optional[str] = None,
        watchdog: Optional[WatchdogConfig] = None,
        inherit_context: Optional[bool] = None,
        rpc_timeout: Optional[float] = None,
        early_exit_check: Optional[float] = None,
    ) -> "ProcessManager":
        """The design document's factory: :meth:`from_config` with a
        WatchdogConfig (``config`` or ``watchdog``) and procd_client's
        connection options."""
        if config is not None and watchdog is not None:
            raise ValueError("pass the WatchdogConfig once: config or watchdog, not both")
        return cls.from_config(
            watchdog or config or WatchdogConfig(),
            socket=socket,
            address=address,
            tls_ca=tls_ca,
            tls_cert=tls_cert,
            tls_key=tls_key,
            token=token,
            token_file=token_file,
            inherit_context=inherit_context,
            rpc_timeout=rpc_timeout,
            early_exit_check=early_exit_check,
        )

    # ------------------------------------------------------------ attributes

    @property
    def watchdog(self) -> ProcessWatchdog:
        return self._watchdog

    @watchdog.setter
    def watchdog(self, value: ProcessWatchdog) -> None:
        self._watchdog = value
        self.lifecycle.watchdog = value
        self.monitor.watchdog = value

    @property
    def config(self) -> ClientConfig:
        """How this manager reaches procd (resolved)."""
        return self.registry.client_config

    @property
    def watchdog_config(self) -> WatchdogConfig:
        """The hang settings of the processes this manager starts."""
        return self.watchdog.config

    # ------------------------------------------------------------ observers

    def add_observer(self, callback: Observer, *, daemon_events: bool = False) -> None:
        """Calls ``callback(event_name, payload)`` synchronously for this
        manager's events, as the original: ``started``, ``stopped``,
        ``stopped_all``, ``shutdown``, ``shutdown_failed``, ``signal``,
        ``signal_all`` (every payload has ``"event"``). With
        ``daemon_events=True`` it also gets procd's events of this manager's
        processes, named ``"procd.<type>"`` (``procd.exited``,
        ``procd.hung``…) with ``pid``, ``process_name``, ``process_id``,
        ``seq``, ``detail``, ``signal`` and ``exit``."""
        self._observers.append(callback)
        if daemon_events:
            self._daemon_observers.append(callback)

    def _emit(self, name: str, payload: Dict[str, Any], observers: Optional[List[Observer]] = None) -> None:
        data = dict(payload)
        data["event"] = name
        for cb in list(self._observers if observers is None else observers):
            try:
                cb(name, data)
            except Exception:  # noqa: BLE001 - logged and swallowed, as the original
                self.logger.exception("procd_client: observer failed on %s", name)

    def _on_daemon_event(self, raw: Any) -> None:
        if not self._daemon_observers:
            return
        record = self.registry._records.get(raw.pid)
        if record is None or getattr(record["process"], "id", None) != raw.process_id:
            return
        ev = event_from_proto(raw)
        self._emit(
            f"procd.{ev.type}",
            {
                "pid": ev.pid,
                "process_name": ev.name,
                "process_id": ev.process_id,
                "seq": ev.seq,
                "detail": ev.detail,
                "signal": ev.signal,
                "exit": ev.exit,
            },
            self._daemon_observers,
        )

    # ------------------------------------------------------------ helpers

    async def _pid_of(self, target: ProcessTarget) -> Optional[int]:
        if isinstance(target, ProcessHandle):
            return target.pid
        if isinstance(target, str):
            if target.isdigit():
                return int(target)
            h = self.registry.handle_for(target)
            if h is None:
                record = await self.registry._get(target)
                return None if record is None else record.pid
            return h.pid
        return target

    # ------------------------------------------------------------ lifecycle

    async def start_process(self, config: ProcessConfig) -> ProcessHandle:
        """Starts a process under procd and returns its handle.

        As the original: the watchdog loop starts, and a process that exits
        within ``early_exit_check`` seconds (0.1) raises ProcessStartError
        ("Process <name> exited with code <rc>: <output>"). A start procd
        refuses raises ProcessStartError("Failed to start process <name>"),
        which is also an instance of the daemon's error (NotFound for a
        missing executable or cwd, PermissionDenied, InvalidArgument…).
        Emits ``started``.
        """
        handle = await self.lifecycle.start(config)
        self._emit("started", {"pid": handle.pid, "process_name": config.name, "command": list(config.command)})
        return handle

    async def open_session(self, config: ProcessConfig, *, stdin: bool = True,
                           local_pipes: Optional[bool] = None) -> Session:
        """Starts a process with pipes, like ``asyncio.create_subprocess_exec``
        with stdin, stdout and stderr as PIPE, and returns its
        :class:`Session` (``stdin``, ``stdout``, ``stderr``, ``pid``,
        ``wait()``). Lossless: every byte arrives, and a slow reader holds
        the process back, as a pipe does (``start_process`` with
        ``read_output`` reads the record instead, which may drop). The
        process is bound to the session: procd stops it (CLIENT_GONE) if
        this client goes away first. Over the local socket the bytes go
        through this process's own pipes, not gRPC (``local_pipes`` None:
        whenever procd can take them). A start procd refuses raises its
        error (NotFound, PermissionDenied…)."""
        return await open_session(self.registry._conn, self.lifecycle.spec(config), stdin=stdin, local_pipes=local_pipes)

    async def stop_process(
        self,
        pid: ProcessTarget,
        force: bool = False,
        *,
        grace: Optional[float] = None,
        signal: Optional[str] = None,
    ) -> bool:
        """Stops a process and returns True once its whole tree is gone
        (also if it had already exited); False for an unknown process. The
        record is unregistered (procd keeps it: get_process_status then
        reports it finished). Graceful: the process's stop signal (SIGTERM)
        to its group, ``grace`` (its own, 2 s by default), SIGKILL;
        ``force``: SIGKILL at once. Emits ``stopped``. Raises
        ProcessStopError."""
        target = await self._pid_of(pid)
        if target is None:
            result = False
        elif grace is not None or signal is not None:
            result = await self.lifecycle.stop(target, force, grace=grace, signal=signal)
        else:
            result = await self.lifecycle.stop(target, force)
        self._emit("stopped", {"pid": target if target is not None else pid, "force": force, "result": result})
        return result

    async def stop_all_processes(self, force: bool = False, *, daemon_wide: bool = False) -> None:
        """Stops every process of this manager concurrently (``daemon_wide``:
        every process procd holds). Raises ProcessStopError listing
        ``failed_processes`` if any stop failed; emits ``stopped_all`` on
        success."""
        if daemon_wide:
            req = pb.StopProcessRequest(selector=pb.Selector(all=True))
            if force:
                req.signal = "SIGKILL"
                req.grace.CopyFrom(to_duration(0.0))
            try:
                resp = await self.registry._unary("StopProcess", req, short=False)
            except ProcdError as e:
                raise runtime_error(ProcessStopError, f"Failed to stop all processes: {e}", cause=e) from e
            failed = []
            for r in resp.results:
                self.registry.observe(r.process)
                if r.error:
                    failed.append({"pid": r.process.pid, "error": None, "message": r.error})
            for pid in await self.registry.list_pids():
                await self.registry.unregister(pid)
            if failed:
                raise ProcessStopError(
                    f"Failed to stop {len(failed)} processes", context={"failed_processes": failed}
                )
        else:
            await self.lifecycle.stop_all(force)
        self._emit("stopped_all", {"force": force})

    async def shutdown(self, *, stop_processes: bool = True, force: bool = False) -> None:
        """As the original: stops this manager's processes (emitting
        ``shutdown_failed`` and re-raising on error), then in every case
        stops the watchdog loop and clears the registry, and emits
        ``shutdown`` on success. The connection to procd is closed and
        reopened on the next call: the manager stays usable. With
        ``stop_processes=False`` the processes keep running under procd;
        ``force`` kills them at once."""
        try:
            if stop_processes:
                await self.stop_all_processes(force)
        except Exception as e:
            self._emit("shutdown_failed", {"error": str(e)})
            raise
        finally:
            await self.watchdog.stop()
            await self.registry.clear()
            await self.registry._stop_watcher()
            await self.registry._conn.close()
        self._emit("shutdown", {})

    async def __aenter__(self) -> "ProcessManager":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.shutdown()

    # ------------------------------------------------------------ status and waits

    async def get_process_status(self, pid: ProcessTarget) -> Optional[Dict[str, Any]]:
        """``{"process", "config", "started_at", "status"}`` plus
        ``"exit_code"`` once ``status`` is ``"finished"`` (a returncode: -N
        for signal N); None if neither this manager nor procd knows the
        process. ``status`` is ``"running"`` until the process and its tree
        are gone. procd's record in full: :meth:`get_process_details`."""
        target = await self._pid_of(pid)
        return None if target is None else await self.monitor.get_status(target)

    async def list_processes(
        self,
        *,
        daemon_wide: bool = False,
        states: Optional[Iterable[str]] = None,
        name: Optional[str] = None,
        labels: Optional[Mapping[str, str]] = None,
    ) -> List[Dict[str, Any]]:
        """The status dicts of this manager's processes. procd_client
        options: ``daemon_wide`` (every process procd holds), ``states``
        ("running", "stopping", "exited"), ``name``, ``labels``."""
        if not (daemon_wide or states or name or labels):
            return await self.monitor.list_processes()
        out = []
        for d in await self.list_process_details(daemon_wide=daemon_wide, states=states, name=name, labels=labels):
            h = d["process"]
            record = self.registry._records.get(h.pid)
            if record is not None and record["process"] is h:
                out.append(status_dict(dict(record)))
            else:
                out.append(status_dict({"process": h, "config": h.config, "started_at": h.started_at, "status": "running"}))
        return out

    async def wait(self, pid: ProcessTarget, timeout: Optional[float] = None) -> Optional[ProcessCompletionResult]:
        """Waits for a process to exit: ``ProcessCompletionResult(pid,
        exit_code, timed_out)``, or None for an unknown process. After
        ``timeout`` seconds: ``timed_out=True`` with the current exit_code
        (None); the process is neither killed nor unregistered."""
        target = await self._pid_of(pid)
        return None if target is None else await self.monitor.wait_for_completion(target, timeout)

    async def wait_for_process(self, pid: ProcessTarget, timeout: Optional[float] = None) -> Optional[int]:
        """The design document's wait: the exit code (-N for signal N), or
        None if ``timeout`` passed first or the process is unknown."""
        r = await self.wait(pid, timeout)
        if r is None or r.timed_out:
            return None
        return r.exit_code

    async def is_process_registered(self, pid: int) -> bool:
        """Whether this manager manages ``pid`` (started or registered it,
        and has not stopped, cleaned up or shut it down since)."""
        return await self.registry.contains(pid)

    async def get_stats(self) -> Dict[str, Any]:
        """``{"processes": {status: count}, "watchdog": {...},
        "total_managed": n}`` for this manager's processes. procd's own
        figures: :meth:`get_daemon_stats`."""
        return await self.monitor.get_statistics()

    async def cleanup_finished_processes(self, *, daemon_wide: bool = False) -> int:
        """Unregisters this manager's finished processes and removes their
        records (and output) from procd; returns how many. ``daemon_wide``:
        every finished record procd holds."""
        if daemon_wide:
            resp = await self.registry._unary("CleanupFinished", pb.CleanupFinishedRequest())
            removed = set(resp.removed_ids)
            for pid, record in (await self.registry.snapshot()).items():
                if getattr(record["process"], "id", None) in removed:
                    await self.registry.unregister(pid)
            for pid in removed:
                self.registry.forget(pid)
            return len(removed)
        return await self.monitor.cleanup_finished_processes()

    # ------------------------------------------------------------ activity and signals

    async def update_activity(self, pid: ProcessTarget) -> None:
        """Records activity of a process now (a heartbeat to procd); no
        validation, as the original. :meth:`heartbeat` says whether procd
        recorded it."""
        target = await self._pid_of(pid)
        if target is not None:
            await self.watchdog.update_activity(target)

    async def heartbeat(self, pid: ProcessTarget) -> bool:
        """procd's UpdateActivity: True if recorded, False if the process
        has finished or is unknown. Raises FailedPrecondition if heartbeats
        are not one of its activity sources."""
        return await self.registry._heartbeat(pid)

    async def send_timeout_signal(
        self, pid: ProcessTarget, signal_type: str = "timeout", *, leader_only: bool = False
    ) -> bool:
        """Sends a kind of signal to a process's group: "timeout" (SIGTERM),
        "force" (SIGKILL), "interrupt" (SIGINT), a kind registered with the
        dispatcher, or (procd_client) any signal name or number ("SIGUSR1",
        "HUP", "10"). Returns True once sent; False for an unknown or exited
        process (no event) or an unknown kind (the ``signal`` event is still
        emitted). ``leader_only``: to the leader alone. Errors other than
        the runtime's own become ProcessSignalError."""
        target = await self._pid_of(pid)
        if target is None:
            return False
        record = await self.registry.get_process(target)
        handle = self.registry.handle_for(target)
        if record is None:
            rec = await self.registry._get(target)  # a process another client started
            if rec is None or rec.state in (pb.PROCESS_STATE_EXITED, pb.PROCESS_STATE_LOST):
                return False
            handle = self.registry.observe(rec)
            record = {"process": handle, "config": handle.config, "started_at": handle.started_at, "status": "running"}
        elif getattr(record["process"], "returncode", None) is not None:
            return False
        name = getattr(record.get("config"), "name", None)
        try:
            if leader_only:
                if handle is None:
                    raise ValueError("leader_only applies to procd processes")
                result = await self.registry._signal(handle, str(signal_type), leader_only=True)
            else:
                result = await self.signal_dispatcher.send(signal_type, target, record)
        except MCPError:
            raise
        except Exception as e:  # noqa: BLE001
            raise runtime_error(
                ProcessSignalError,
                f"Failed to send {signal_type} signal to process {target}: {e}",
                context={"pid": target, "signal_type": signal_type, "name": name},
                cause=e,
            ) from e
        self._emit("signal", {"pid": target, "signal": signal_type, "process_name": name, "result": result})
        return result

    async def send_timeout_signal_to_all(
        self, signal_type: str = "timeout", *, daemon_wide: bool = False
    ) -> Dict[int, bool]:
        """Sends a kind of signal to every process of this manager
        (``daemon_wide``: every process procd holds): ``{pid: sent}``, ``{}``
        when there is none. Emits ``signal_all``; raises ProcessSignalError
        (``failed_processes``) if any dispatch raised."""
        if daemon_wide:
            try:
                resp = await self.registry._unary(
                    "SendSignal", pb.SendSignalRequest(selector=pb.Selector(all=True), signal=str(signal_type))
                )
            except ProcdError as e:
                raise runtime_error(
                    ProcessSignalError,
                    f"Failed to send {signal_type} signal to all processes: {e}",
                    context={"signal_type": signal_type, "failed_processes": []},
                    cause=e,
                ) from e
            return {r.pid: r.delivered for r in resp.results}
        snapshot = await self.registry.snapshot()
        if not snapshot:
            return {}
        results: Dict[int, bool] = {}
        failures: List[Dict[str, Any]] = []

        async def one(pid: int, record: Dict[str, Any]) -> None:
            try:
                results[pid] = bool(await self.signal_dispatcher.send(signal_type, pid, record))
            except Exception as e:  # noqa: BLE001
                results[pid] = False
                failures.append({"pid": pid, "error": type(e).__name__, "message": str(e)})

        await asyncio.gather(*(one(pid, dict(r)) for pid, r in snapshot.items()))
        results = {pid: results[pid] for pid in snapshot}
        self._emit("signal_all", {"signal": signal_type, "results": dict(results), "failures": failures or None})
        if failures:
            raise ProcessSignalError(
                f"Failed to send {signal_type} signal to {len(failures)} processes",
                context={"signal_type": signal_type, "failed_processes": failures},
            )
        return results

    async def register_existing_process(
        self,
        pid: int,
        process: Any,
        name: Optional[str] = None,
        activity_callback: Optional[Callable[[], Any]] = None,
        *,
        config: Optional[ProcessConfig] = None,
    ) -> None:
        """Registers a process this client spawned itself (an
        ``asyncio.subprocess.Process`` or a Popen). procd.v1 cannot adopt a
        process, so this client tracks it as the original did: status,
        wait, signals, stops and the watchdog's hang checks (while the
        watchdog loop runs) are done from here. Default config:
        ``command=[name or str(pid)]``, ``name=name or "unknown"``."""
        if config is None:
            config = ProcessConfig(
                command=[name or str(pid)], name=name or "unknown", activity_callback=activity_callback
            )
        await self.registry.register(pid, process, config)
        await self.watchdog.update_activity(pid)

    # ------------------------------------------------------------ procd's detail

    async def get_process_details(self, pid: ProcessTarget) -> Optional[Dict[str, Any]]:
        """procd's full status of a process, or None if procd does not know
        it: ``status`` and ``exit_code`` as in get_process_status, ``process``
        and ``config``, and every field of procd's record — ``id``,
        ``state`` (starting/running/stopping/exited, backoff/failed under a
        restart policy, lost), ``signal`` ("SIGKILL"),
        ``signal_number``, ``reason`` ("EXITED", "STOPPED", "HUNG",
        "DEADLINE", "DAEMON_SHUTDOWN"), ``core_dumped``, ``exit``,
        ``finished_at``, ``duration``, ``last_activity``, ``labels``,
        ``command``, ``executable``, ``cwd``, ``watchdog`` (settings and
        state), ``stdout``/``stderr`` counters, ``stdout_bytes``,
        ``stderr_bytes``, ``usage``, the readiness fields (``ready``,
        ``ready_at``, ``ready_attempts``, ``ready_error``,
        ``startup_timeout``), a restart policy's ``attempt``, ``runs`` and
        ``restart``… and ``record``, the protobuf message."""
        return await self.registry._details(pid)

    async def list_process_details(
        self,
        *,
        daemon_wide: bool = False,
        states: Optional[Iterable[str]] = None,
        name: Optional[str] = None,
        labels: Optional[Mapping[str, str]] = None,
    ) -> List[Dict[str, Any]]:
        """procd's full status (see :meth:`get_process_details`) of this
        manager's processes (``daemon_wide``: of all), oldest first,
        filtered by ``states``, ``name`` and ``labels``."""
        req = pb.ListProcessesRequest(
            states=enum_values(pb.ProcessState, states, "states"),
            name=name or "",
            labels=str_map(labels, "labels"),
        )
        resp = await self.registry._unary("ListProcesses", req)
        own = {getattr(r["process"], "id", None) for r in self.registry._records.values()}
        return [self.registry.status_of(p) for p in resp.processes if daemon_wide or p.id in own]

    async def wait_for_process_record(
        self, pid: ProcessTarget, timeout: Optional[float] = None
    ) -> Optional[Dict[str, Any]]:
        """Waits like :meth:`wait` and returns procd's full status (see
        :meth:`get_process_details`) plus ``timed_out``; ``timeout=0``
        polls. None for a process procd does not know."""
        resp = await self.registry._wait(pid, timeout)
        if resp is None:
            return None
        d = self.registry.status_of(resp.process)
        d["timed_out"] = resp.timed_out
        return d

    async def wait_until_ready(
        self, pid: ProcessTarget, timeout: Optional[float] = None
    ) -> Optional[Dict[str, Any]]:
        """Waits until the process is ready (see ProcessConfig.ready) or has
        ended, and returns procd's full status plus ``timed_out`` and
        ``is_ready`` (False: it ended, or timed out, before it was ready).
        None for a process procd does not know."""
        resp = await self.registry._wait(pid, timeout, until_ready=True)
        if resp is None:
            return None
        d = self.registry.status_of(resp.process)
        d["timed_out"] = resp.timed_out
        d["is_ready"] = resp.process.HasField("ready_at")
        return d

    async def get_daemon_stats(self) -> Dict[str, Any]:
        """procd's GetStats in full: ``processes``, ``output``, ``events``,
        ``daemon``, ``watchdog`` (procd's watchdog counters), ``batches``."""
        return message_to_dict(await self.registry._unary("GetStats", pb.GetStatsRequest()))

    async def remove_process(self, pid: ProcessTarget) -> Optional[Dict[str, Any]]:
        """Removes one finished process's record and output from procd;
        returns its final full status, or None if procd does not know it.
        Raises FailedPrecondition for a process still running."""
        try:
            resp = await self.registry._unary("RemoveProcess", pb.RemoveProcessRequest(**self.registry.ref(pid)))
        except NotFound:
            return None
        d = self.registry.status_of(resp.process)
        self.registry.forget(resp.process.id)
        return d

    # ------------------------------------------------------------ events and output

    def watch_events(
        self,
        after_seq: Optional[int] = None,
        types: Optional[Iterable[str]] = None,
        process_ids: Optional[Iterable[ProcessTarget]] = None,
        names: Optional[Iterable[str]] = None,
        labels: Optional[Mapping[str, str]] = None,
        *,
        batch: bool = False,
    ) -> ResponseStream[Event]:
        """An async iterator of procd's events (:class:`Event`).

        Args:
            after_seq: replay the retained events with a larger sequence
                number first (0: everything retained), then follow; None:
                only events from now on. Raises OutOfRange (when iterated) if
                events after it were already dropped from the daemon's ring.
            types: event types to keep ("started", "exited", "hung"…).
            process_ids: processes to keep: ids, handles, or pids of
                processes this manager started.
            names, labels: process names and labels to keep.
            batch: ask procd to pack the events ready at once into one
                message; the iterator yields them one by one either way.

        A subscriber too slow for the daemon's ring is ended with
        ResourceExhausted naming the sequence to resume after. End the
        subscription with ``async with`` or ``aclose()``.
        """
        ids = []
        for t in process_ids or []:
            ref = self.registry.ref(t)
            if "id" not in ref:
                raise ValueError(
                    f"process_ids filters by id: pid {t} is not a process this manager started; pass its id"
                )
            ids.append(ref["id"])
        req = pb.WatchEventsRequest(
            types=enum_values(pb.EventType, types, "types"),
            process_ids=ids,
            names=list(names or []),
            labels=str_map(labels, "labels"),
        )
        if after_seq is not None:
            req.after_seq = after_seq
        if batch:
            req.batch = True
        return self.registry._conn.stream("process", "WatchEvents", req, _events_of, flatten=True)

    def read_output(
        self,
        pid: ProcessTarget,
        stream: Optional[str] = None,
        *,
        offset: int = 0,
        tail_bytes: Optional[int] = None,
        follow: bool = False,
    ) -> ResponseStream[OutputChunk]:
        """An async iterator of a process's captured output chunks
        (:class:`OutputChunk`), from byte ``offset`` (or ``tail_bytes``
        before the end) of ``stream`` ("stdout", "stderr", or None for
        both). With ``follow`` it goes on until the process has exited and
        all its output was sent."""
        return self.registry._read_output(pid, stream, offset=offset, tail_bytes=tail_bytes, follow=follow)

    async def get_output(self, pid: ProcessTarget, stream: str = "stdout", *, follow: bool = False) -> bytes:
        """The captured bytes of one stream ("stdout" or "stderr") still held
        by procd; with ``follow``, everything until the process ends."""
        if stream not in ("stdout", "stderr"):
            raise ValueError(f'stream must be "stdout" or "stderr", not {stream!r}')
        parts = []
        async with self.read_output(pid, stream, follow=follow) as chunks:
            async for c in chunks:
                parts.append(c.data)
        return b"".join(parts)

    async def write_input(self, pid: ProcessTarget, data: Union[bytes, str], *, close: bool = False) -> int:
        """Writes to the stdin of a process started with ``stdin_pipe=True``
        (then closes it with ``close``); returns the bytes written. Raises
        FailedPrecondition if its stdin is not a pipe."""
        if isinstance(data, str):
            data = data.encode()
        return await self.registry._write_input(pid, data, close=close)

    async def close_input(self, pid: ProcessTarget) -> None:
        """Closes a piped stdin (end of input)."""
        await self.write_input(pid, b"", close=True)
