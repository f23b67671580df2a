"""ProcessManager: the original asyncio ProcessManager's API, served by procd.

Code written against the original moves over by changing its import::

    from procd_client import ProcessManager, ProcessConfig

    manager = ProcessManager.create_with_config()
    process = await manager.start_process(ProcessConfig(command=["sleep", "1"], name="nap"))
    exit_code = await manager.wait_for_process(process.pid, timeout=5.0)
    await manager.shutdown()

The processes are procd's: they outlive this client unless it stops them,
other clients (procctl) can see and control them, and their exit records,
output and events stay with the daemon.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from ._connection import Connection, ResponseStream
from ._convert import (
    Event,
    OutputChunk,
    chunk_from_proto,
    enum_values,
    event_from_proto,
    from_timestamp,
    message_to_dict,
    process_status,
    returncode,
    str_map,
    stream_value,
    to_duration,
)
from ._pb import pb
from .config import ClientConfig, ProcessConfig, WatchdogConfig, client_environment
from .errors import FailedPrecondition, NotFound, ProcdError

__all__ = ["ProcessManager", "ProcessHandle", "ProcessTarget"]

log = logging.getLogger("procd_client")

#: What the per-process methods accept: a pid (the original API), procd's id
#: ("p-42"), or the handle start_process returned.
ProcessTarget = Union[int, str, "ProcessHandle"]


def _events_of(resp: Any) -> List[Event]:
    """The events of one WatchEventsResponse: a batch (``events``) or one."""
    batch = getattr(resp, "events", None)
    if batch:
        return [event_from_proto(e) for e in batch]
    return [event_from_proto(resp.event)] if resp.HasField("event") else []


class ProcessHandle:
    """A process started by :meth:`ProcessManager.start_process`.

    The original returned an ``asyncio.subprocess.Process``; this handle has
    the same ``pid`` and a ``returncode`` (None until this client has seen
    the process end), plus procd's ``id`` and the full record.

    Attributes:
        id: procd's id, unique for the daemon's lifetime ("p-42").
        pid: the process id.
        name: the process's name.
        config: the ProcessConfig it was started with.
        record: the latest ``procd.v1.Process`` message this client received.
        returncode: exit code, or -N for signal N, once seen; else None.
    """

    def __init__(self, manager: "ProcessManager", record: Any, config: ProcessConfig):
        self._manager = manager
        self.record = record
        self.config = config
        self.returncode: Optional[int] = None

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def pid(self) -> int:
        return self.record.pid

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def command(self) -> List[str]:
        return list(self.record.command)

    @property
    def started_at(self) -> float:
        return from_timestamp(self.record.started_at)

    def _observe(self, record: Any) -> None:
        self.record = record
        if record.state == pb.PROCESS_STATE_EXITED:
            self.returncode = returncode(record.exit)

    async def wait(self, timeout: Optional[float] = None) -> Optional[int]:
        """See :meth:`ProcessManager.wait_for_process`."""
        return await self._manager.wait_for_process(self, timeout=timeout)

    async def status(self) -> Optional[Dict[str, Any]]:
        """See :meth:`ProcessManager.get_process_status`."""
        return await self._manager.get_process_status(self)

    async def send_signal(self, signal: str = "timeout") -> bool:
        """See :meth:`ProcessManager.send_timeout_signal`."""
        return await self._manager.send_timeout_signal(self, signal)

    async def stop(self, force: bool = False) -> bool:
        """See :meth:`ProcessManager.stop_process`."""
        return await self._manager.stop_process(self, force=force)

    async def update_activity(self) -> bool:
        """See :meth:`ProcessManager.update_activity`."""
        return await self._manager.update_activity(self)

    def __repr__(self) -> str:
        return f"<ProcessHandle id={self.id} pid={self.pid} name={self.name!r} returncode={self.returncode}>"


class ProcessManager:
    """The original ProcessManager's methods, as calls to procd.

    Scope: procd is shared, so the bulk methods (``send_timeout_signal_to_all``,
    ``stop_all_processes``, ``cleanup_finished_processes``,
    ``list_processes``) and ``shutdown`` act on the processes *this manager
    started*, as the original's did; pass ``daemon_wide=True`` to the bulk
    methods to act on every process of the daemon. The per-process methods
    accept any process of the daemon, by pid, id or handle.

    Missing processes: like the original, ``get_process_status`` and
    ``wait_for_process`` return None, and ``send_timeout_signal``,
    ``stop_process`` and ``update_activity`` return False, for a process
    procd does not know (NOT_FOUND). Every other failure raises a
    :class:`~procd_client.errors.ProcdError`.
    """

    def __init__(self, config: Optional[ClientConfig] = None):
        self._conn = Connection(config or ClientConfig())
        self.config: ClientConfig = self._conn.config
        self.watchdog_config: WatchdogConfig = self.config.watchdog
        self._handles: Dict[str, ProcessHandle] = {}
        self._pids: Dict[int, str] = {}
        self._monitors: Dict[str, asyncio.Task] = {}
        self._shut_down = False

    # ------------------------------------------------------------ factories

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
        client_context: Optional[bool] = None,
        rpc_timeout: Optional[float] = None,
    ) -> "ProcessManager":
        """A manager connected to procd (lazily: nothing is dialled until
        the first call, so this is safe outside a running event loop).

        Args:
            config: a WatchdogConfig (positional, as the original accepted);
                same as ``watchdog``.
            socket, address, tls_ca, tls_cert, tls_key, token, token_file,
            client_context, rpc_timeout: see :class:`ClientConfig`; unset ones
                come from PROCD_SOCKET, PROCD_ADDR, PROCD_TLS_CA,
                PROCD_TLS_CERT, PROCD_TLS_KEY, PROCD_TOKEN_FILE and the
                default socket.
            watchdog: the defaults of the processes this manager starts.
        """
        if config is not None and watchdog is not None:
            raise ValueError("pass the WatchdogConfig once: config or watchdog, not both")
        return cls(
            ClientConfig(
                socket=socket,
                address=address,
                tls_ca=tls_ca,
                tls_cert=tls_cert,
                tls_key=tls_key,
                token=token,
                token_file=token_file,
                watchdog=watchdog or config or WatchdogConfig(),
                client_context=client_context,
                rpc_timeout=rpc_timeout,
            )
        )

    @classmethod
    def from_config(
        cls,
        config: Union[ClientConfig, WatchdogConfig, Mapping[str, Any], None] = None,
        config_dict: Optional[Mapping[str, Any]] = None,
    ) -> "ProcessManager":
        """A manager from a configuration object.

        ``config`` may be a :class:`ClientConfig`, a :class:`WatchdogConfig`
        (as in the original), or a mapping (see
        :meth:`ClientConfig.from_mapping`). ``config_dict``, as in the
        original, is a mapping that takes precedence over ``config``.
        """
        source = config_dict if config_dict else config
        if source is None:
            return cls(ClientConfig())
        if isinstance(source, ClientConfig):
            return cls(source)
        if isinstance(source, WatchdogConfig):
            return cls(ClientConfig(watchdog=source))
        if isinstance(source, Mapping):
            return cls(ClientConfig.from_mapping(source))
        raise TypeError(f"from_config: unsupported configuration {type(source).__name__}")

    # ------------------------------------------------------------ helpers

    def _ref(self, target: ProcessTarget) -> Dict[str, Any]:
        """The oneof target fields of a request: this client's own processes
        are addressed by id (canonical, immune to pid reuse)."""
        if isinstance(target, ProcessHandle):
            return {"id": target.id}
        if isinstance(target, bool):
            raise TypeError(f"not a process: {target!r}")
        if isinstance(target, int):
            own = self._pids.get(target)
            return {"id": own} if own else {"pid": target}
        if isinstance(target, str):
            return {"pid": int(target)} if target.isdigit() else {"id": target}
        raise TypeError(f"a process is a pid, an id or a ProcessHandle, not {target!r}")

    def _observe(self, record: Any) -> Any:
        h = self._handles.get(record.id)
        if h is not None:
            h._observe(record)
        return record

    def _status(self, record: Any) -> Dict[str, Any]:
        self._observe(record)
        d = process_status(record)
        h = self._handles.get(record.id)
        if h is not None:
            d["process"] = h
            d["config"] = h.config
        return d

    def _spec(self, config: ProcessConfig) -> Any:
        local = self.config.client_context
        return config.to_spec(
            self.watchdog_config,
            base_env=client_environment() if local else None,
            default_cwd=os.getcwd() if local else None,
        )

    def _forget(self, process_id: str) -> None:
        h = self._handles.pop(process_id, None)
        if h is not None and self._pids.get(h.pid) == process_id:
            del self._pids[h.pid]
        task = self._monitors.pop(process_id, None)
        if task is not None:
            task.cancel()

    def _check_open(self) -> None:
        if self._shut_down:
            raise ProcdError("this ProcessManager was shut down")

    # ------------------------------------------------------------ lifecycle

    async def start_process(self, config: ProcessConfig) -> ProcessHandle:
        """Starts a process and returns its handle once it is running.

        Exec failures raise: NotFound (executable not in the PATH searched,
        missing cwd; the message names them), PermissionDenied,
        InvalidArgument (empty command, bad env key…), ResourceExhausted
        (process limit). No record is left behind by a failed start.
        With an ``activity_callback``, polling starts now (see ProcessConfig).
        """
        self._check_open()
        resp = await self._conn.unary("StartProcess", pb.StartProcessRequest(spec=self._spec(config)))
        handle = ProcessHandle(self, resp.process, config)
        self._handles[handle.id] = handle
        self._pids[handle.pid] = handle.id
        if config.activity_callback is not None:
            self._monitors[handle.id] = asyncio.ensure_future(
                self._monitor_activity(handle, config.activity_callback)
            )
        log.debug("procd_client: started %s pid %d (%s)", handle.id, handle.pid, handle.name)
        return handle

    async def wait_for_process(self, pid: ProcessTarget, timeout: Optional[float] = None) -> Optional[int]:
        """Waits for a process to finish and returns its exit code.

        Returns the exit code, ``-N`` when signal N killed it (asyncio's
        returncode convention; procctl's shell-style 128+N is not used), or
        None if ``timeout`` seconds passed first or procd does not know the
        process (as the original). The process's whole tree is gone and its
        output recorded when this returns.
        """
        r = await self.wait_for_process_record(pid, timeout=timeout)
        if r is None or r["timed_out"]:
            return None
        return r["exit_code"]

    async def wait_for_process_record(
        self, pid: ProcessTarget, timeout: Optional[float] = None
    ) -> Optional[Dict[str, Any]]:
        """Like :meth:`wait_for_process`, returning the full status dict (see
        :meth:`get_process_status`) with ``timed_out``: the final record, or
        the live one and ``timed_out=True`` after ``timeout`` seconds
        (``timeout=0`` polls). None for an unknown process."""
        req = pb.WaitForProcessRequest(**self._ref(pid))
        deadline = None
        if timeout is not None:
            # A set timeout of 0 is a poll (procd answers at once).
            req.timeout.CopyFrom(to_duration(max(timeout, 0)))
            deadline = max(timeout, 0) + 30.0
        try:
            resp = await self._conn.unary("WaitForProcess", req, timeout=deadline, short=False)
        except NotFound:
            return None
        d = self._status(resp.process)
        d["timed_out"] = resp.timed_out
        return d

    async def get_process_status(self, pid: ProcessTarget) -> Optional[Dict[str, Any]]:
        """The current status of a process, or None if procd does not know it.

        The dict has the original's keys — ``pid``, ``name``, ``status``
        (``"running"`` until the process and its tree are gone, then
        ``"finished"``), ``exit_code`` (None while running; -N for signal
        N), ``started_at`` (epoch seconds), and for processes this manager
        started ``process`` (the handle) and ``config`` — and every field of
        procd's record: ``id``, ``state`` (running/stopping/exited),
        ``signal`` ("SIGKILL"), ``signal_number``, ``reason`` ("EXITED",
        "STOPPED", "HUNG", "DEADLINE", "DAEMON_SHUTDOWN"), ``core_dumped``,
        ``exit`` (the exit record as a dict), ``finished_at``, ``duration``,
        ``last_activity``, ``labels``, ``command``, ``executable``, ``cwd``,
        ``watchdog`` (settings and state: idle, slow, hung, sources…),
        ``stdout``/``stderr`` (total/dropped/log bytes), ``stdout_bytes``,
        ``stderr_bytes``, ``usage``, … and ``record``, the protobuf message.
        """
        try:
            resp = await self._conn.unary("GetProcess", pb.GetProcessRequest(**self._ref(pid)))
        except NotFound:
            return None
        return self._status(resp.process)

    async def list_processes(
        self,
        *,
        daemon_wide: bool = False,
        states: Optional[Iterable[str]] = None,
        name: Optional[str] = None,
        labels: Optional[Mapping[str, str]] = None,
    ) -> List[Dict[str, Any]]:
        """Status dicts of this manager's processes (``daemon_wide``: of
        every process procd holds), oldest first, optionally filtered by
        state ("running", "stopping", "exited"), name and labels."""
        req = pb.ListProcessesRequest(
            states=enum_values(pb.ProcessState, states, "states"),
            name=name or "",
            labels=str_map(labels, "labels"),
        )
        resp = await self._conn.unary("ListProcesses", req)
        return [
            self._status(p) for p in resp.processes if daemon_wide or p.id in self._handles
        ]

    async def get_stats(self) -> Dict[str, Any]:
        """Statistics, in the original's shape plus procd's figures.

        ``processes`` ({"running": n, "stopping": n, "finished": n}),
        ``total_managed`` and ``watchdog`` describe the whole daemon (it is
        shared); ``client`` counts what this manager started; ``procd`` is
        GetStats in full (processes, output, events, daemon, watchdog,
        batches).
        """
        resp = await self._conn.unary("GetStats", pb.GetStatsRequest())
        full = message_to_dict(resp)
        ps, ws = resp.processes, resp.watchdog
        total = ps.running + ps.stopping + ps.exited
        watchdog = dict(full["watchdog"] or {})
        watchdog.update(
            total_processes=total,
            watched_processes=ws.watched,
            hung_processes=ws.hung,
            slow_processes=ws.slow,
            watchdog_active=ws.active,
        )
        own_running = sum(1 for h in self._handles.values() if h.returncode is None)
        return {
            "processes": {"running": ps.running, "stopping": ps.stopping, "finished": ps.exited},
            "total_managed": total,
            "watchdog": watchdog,
            "client": {
                "started": len(self._handles),
                "not_seen_finished": own_running,
                "activity_monitors": len(self._monitors),
            },
            "procd": full,
        }

    async def update_activity(self, pid: ProcessTarget) -> bool:
        """Records a heartbeat for a process now (procd's UpdateActivity).

        Returns True if it was recorded, False if the process has finished or
        procd does not know it (the original returned None either way).
        Raises FailedPrecondition if heartbeat is not one of the process's
        activity sources.
        """
        try:
            resp = await self._conn.unary("UpdateActivity", pb.UpdateActivityRequest(**self._ref(pid)))
        except NotFound:
            return False
        self._observe(resp.process)
        return resp.process.state != pb.PROCESS_STATE_EXITED

    # ------------------------------------------------------------ signals and stops

    async def send_timeout_signal(
        self, pid: ProcessTarget, signal_type: str = "timeout", *, leader_only: bool = False
    ) -> bool:
        """Sends a signal to a process's group (``leader_only``: to the
        leader alone).

        ``signal_type`` is one of the original's kinds — "timeout"
        (SIGTERM), "force" (SIGKILL), "interrupt" (SIGINT) — or any signal
        name ("SIGUSR1", "HUP") or number ("9"). Returns True if delivered,
        False if the process had already exited or procd does not know it.
        Raises InvalidArgument for an unknown signal name.
        """
        req = pb.SendSignalRequest(signal=str(signal_type), leader_only=leader_only, **self._ref(pid))
        try:
            resp = await self._conn.unary("SendSignal", req)
        except NotFound:
            return False
        return bool(resp.results) and all(r.delivered for r in resp.results)

    async def send_timeout_signal_to_all(
        self, signal_type: str = "timeout", *, daemon_wide: bool = False
    ) -> Dict[int, bool]:
        """Sends a signal to every process this manager started
        (``daemon_wide``: every process procd holds) and returns
        ``{pid: delivered}``; finished processes map to False."""
        if daemon_wide:
            resp = await self._conn.unary(
                "SendSignal", pb.SendSignalRequest(selector=pb.Selector(all=True), signal=str(signal_type))
            )
            return {r.pid: r.delivered for r in resp.results}
        handles = list(self._handles.values())
        results = await asyncio.gather(*(self.send_timeout_signal(h, signal_type) for h in handles))
        return {h.pid: ok for h, ok in zip(handles, results)}

    async def stop_process(
        self,
        pid: ProcessTarget,
        force: bool = False,
        *,
        grace: Optional[float] = None,
        signal: Optional[str] = None,
    ) -> bool:
        """Stops a process and returns once its whole tree is gone.

        Graceful (default): the process's stop signal (SIGTERM) to its group,
        ``grace`` seconds (default the process's, 2.0), then SIGKILL to the
        group. ``force``: SIGKILL at once. Returns True when the process is
        gone (also if it had already finished), False if procd does not know
        it.
        """
        req = pb.StopProcessRequest(**self._ref(pid))
        if force:
            req.signal = "SIGKILL"
            req.grace.CopyFrom(to_duration(0.0))
        else:
            if grace is not None:
                req.grace.CopyFrom(to_duration(grace))
            if signal:
                req.signal = str(signal)
        try:
            resp = await self._conn.unary("StopProcess", req, short=False)
        except NotFound:
            return False
        ok = True
        for r in resp.results:
            self._observe(r.process)
            if r.error:
                log.warning("procd_client: stop %s: %s", r.process.id, r.error)
                ok = False
        return ok

    async def stop_all_processes(self, force: bool = False, *, daemon_wide: bool = False) -> Dict[int, bool]:
        """Stops every process this manager started (``daemon_wide``: every
        process procd holds), in parallel; returns ``{pid: stopped}``."""
        if daemon_wide:
            req = pb.StopProcessRequest(selector=pb.Selector(all=True))
            if force:
                req.signal = "SIGKILL"
                req.grace.CopyFrom(to_duration(0.0))
            resp = await self._conn.unary("StopProcess", req, short=False)
            out = {}
            for r in resp.results:
                self._observe(r.process)
                out[r.process.pid] = not r.error
            return out
        handles = [h for h in self._handles.values()]
        results = await asyncio.gather(*(self.stop_process(h, force=force) for h in handles))
        return {h.pid: ok for h, ok in zip(handles, results)}

    async def cleanup_finished_processes(self, *, daemon_wide: bool = False) -> int:
        """Removes the records of this manager's finished processes
        (``daemon_wide``: of every finished process) from procd and returns
        how many were removed. Their output goes with them; afterwards
        get_process_status returns None for them, as in the original."""
        if daemon_wide:
            resp = await self._conn.unary("CleanupFinished", pb.CleanupFinishedRequest())
            for pid in resp.removed_ids:
                self._forget(pid)
            return len(resp.removed_ids)
        removed = 0
        for h in list(self._handles.values()):
            try:
                await self._conn.unary("RemoveProcess", pb.RemoveProcessRequest(id=h.id))
            except FailedPrecondition:
                continue  # still running
            except NotFound:
                self._forget(h.id)  # removed by someone else, or by retention
                continue
            self._forget(h.id)
            removed += 1
        return removed

    async def remove_process(self, pid: ProcessTarget) -> Optional[Dict[str, Any]]:
        """Removes one finished process's record and output; returns its
        final status, or None if procd does not know it. Raises
        FailedPrecondition for a process still running."""
        try:
            resp = await self._conn.unary("RemoveProcess", pb.RemoveProcessRequest(**self._ref(pid)))
        except NotFound:
            return None
        d = self._status(resp.process)
        self._forget(resp.process.id)
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
                message (less overhead for a busy subscriber); the iterator
                yields them one by one either way.

        A subscriber too slow for the daemon's ring is ended with
        ResourceExhausted naming the sequence to resume after. Use it as
        ``async for ev in manager.watch_events(...)``, and ``async with`` (or
        ``aclose()``) to end the subscription early.
        """
        ids = []
        for t in process_ids or []:
            ref = self._ref(t)
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
            if "batch" not in req.DESCRIPTOR.fields_by_name:
                raise ValueError("this procd_client's API has no batched event delivery")
            req.batch = True
        return self._conn.stream("process", "WatchEvents", req, _events_of, flatten=True)

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
        req = pb.ReadOutputRequest(stream=stream_value(stream), offset=offset, follow=follow, **self._ref(pid))
        if tail_bytes is not None:
            req.tail_bytes = tail_bytes
        return self._conn.stream("process", "ReadOutput", req, chunk_from_proto)

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
        resp = await self._conn.unary(
            "WriteInput", pb.WriteInputRequest(data=data, close=close, **self._ref(pid)), short=False
        )
        return resp.written

    async def close_input(self, pid: ProcessTarget) -> None:
        """Closes a piped stdin (end of input)."""
        await self.write_input(pid, b"", close=True)

    # ------------------------------------------------------------ activity callbacks

    async def _monitor_activity(self, handle: ProcessHandle, callback) -> None:
        """Polls ``callback`` every check_interval while the process runs and
        forwards new activity as UpdateActivity heartbeats."""
        interval = self.watchdog_config.check_interval
        last = handle.started_at
        waiter = asyncio.ensure_future(
            self._conn.unary("WaitForProcess", pb.WaitForProcessRequest(id=handle.id), short=False)
        )
        try:
            while True:
                done, _ = await asyncio.wait({waiter}, timeout=interval)
                if done:
                    if not waiter.cancelled() and waiter.exception() is None:
                        self._observe(waiter.result().process)
                    return
                try:
                    value = callback()
                    if inspect.isawaitable(value):
                        value = await value
                except Exception:
                    log.warning("procd_client: activity callback of %s failed", handle.id, exc_info=True)
                    continue
                if value is True:
                    fresh = True
                elif isinstance(value, (int, float)) and not isinstance(value, bool) and value > last:
                    fresh, last = True, float(value)
                else:
                    fresh = False
                if not fresh:
                    continue
                try:
                    if not await self.update_activity(handle):
                        return
                except FailedPrecondition as e:
                    log.warning("procd_client: activity callback of %s is not forwarded: %s", handle.id, e.message)
                    return
                except ProcdError as e:
                    log.debug("procd_client: heartbeat for %s failed: %s", handle.id, e)
        finally:
            if not waiter.done():
                waiter.cancel()
            if self._monitors.get(handle.id) is asyncio.current_task():
                del self._monitors[handle.id]

    # ------------------------------------------------------------ shutdown

    async def shutdown(self, *, stop_processes: bool = True, force: bool = False) -> None:
        """Stops the activity callbacks, stops the processes this manager
        started that are still running (gracefully, in parallel; ``force``:
        SIGKILL), and closes the connection. Processes started by other
        clients are left alone, and finished records stay in procd. With
        ``stop_processes=False`` this manager's processes keep running under
        procd. Idempotent; the manager cannot be used afterwards."""
        if self._shut_down:
            return
        self._shut_down = True
        monitors = list(self._monitors.values())
        for t in monitors:
            t.cancel()
        if monitors:
            await asyncio.gather(*monitors, return_exceptions=True)
        try:
            if stop_processes:
                running = [h for h in self._handles.values() if h.returncode is None]
                results = await asyncio.gather(
                    *(self.stop_process(h, force=force) for h in running), return_exceptions=True
                )
                for h, r in zip(running, results):
                    if isinstance(r, BaseException):
                        log.warning("procd_client: could not stop %s at shutdown: %s", h.id, r)
        finally:
            await self._conn.close()

    async def __aenter__(self) -> "ProcessManager":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.shutdown()
