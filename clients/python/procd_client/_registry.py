"""ProcessRegistry: the table of the processes a ProcessManager manages.

As in the released runtime, the registry maps each pid this manager started
(or registered) to a record ``{process, config, started_at, status}``. In
procd_client the processes it starts live in procd: their records hold a
:class:`~procd_client._process.ProcessHandle`, kept fresh from procd's event
stream. A process this client spawned itself and registered (the original's
``register_existing_process``) is tracked by this client alone: procd.v1 has
no call to adopt a process, so its status, waits, signals and hang checks are
done here, as the original did.

The registry also owns the connection to procd, which the other components
reach through it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable, Dict, List, Optional, TypedDict, Union

from ._connection import Connection, ResponseStream
from ._convert import OutputChunk, chunk_from_proto, process_status, stream_value, to_duration
from ._pb import pb
from ._process import ProcessHandle
from .config import ClientConfig, ProcessConfig
from .errors import NotFound, OutOfRange, ProcdError, ResourceExhausted

__all__ = ["ProcessRegistry", "ProcessRecord", "ProcessRef"]

log = logging.getLogger("procd_client")

#: What the per-process calls accept: a pid (the original API), procd's id
#: ("p-42"), or a ProcessHandle.
ProcessRef = Union[int, str, ProcessHandle]


class ProcessRecord(TypedDict):
    """One registry entry, as in the released runtime."""

    process: Any
    config: ProcessConfig
    started_at: float
    status: str


def config_from_record(record: Any) -> ProcessConfig:
    """A ProcessConfig rebuilt from procd's record of a process this manager
    did not start (its environment is not part of the record)."""
    return ProcessConfig(
        command=list(record.command),
        cwd=record.cwd or None,
        name=record.name or "unknown",
        labels=dict(record.labels) or None,
    )


class ProcessRegistry:
    """The released runtime's registry (all methods are coroutines but the
    ``processes`` property), over this client's view of procd.

    Args:
        client: how to reach procd (default: ``ClientConfig()``, that is
            PROCD_SOCKET / PROCD_ADDR or procd's default socket). Keyword
            only; the original took no arguments.
    """

    def __init__(self, *, client: Optional[ClientConfig] = None):
        self._conn = Connection(client or ClientConfig())
        self._records: Dict[int, Dict[str, Any]] = {}
        # Every handle this registry made, registered or not, by procd id:
        # the event stream refreshes them.
        self._handles: Dict[str, ProcessHandle] = {}
        self._listeners: List[Callable[[Any], None]] = []
        self._watcher: Optional["asyncio.Task[None]"] = None
        self._watcher_loop: Optional[asyncio.AbstractEventLoop] = None
        self._watch_stream: Optional[ResponseStream[Any]] = None
        self._watch_stopping = False

    @property
    def client_config(self) -> ClientConfig:
        """The resolved connection settings (socket or address…)."""
        return self._conn.config

    # ------------------------------------------------------------ the original's table

    async def register(
        self,
        pid: int,
        process: Any,
        config: ProcessConfig,
        started_at: Optional[float] = None,
        status: str = "running",
    ) -> None:
        """Adds (or replaces) the record of ``pid``."""
        self._records[pid] = {
            "process": process,
            "config": config,
            "started_at": time.time() if started_at is None else started_at,
            "status": status,
        }
        if isinstance(process, ProcessHandle):
            self._handles[process.id] = process

    async def unregister(self, pid: int) -> None:
        """Removes the record of ``pid``; no error if there is none. A procd
        process keeps running and keeps its record in procd."""
        self._records.pop(pid, None)

    async def get_process(self, pid: int) -> Optional[ProcessRecord]:
        """A copy of the record of ``pid``, or None."""
        r = self._records.get(pid)
        return dict(r) if r is not None else None  # type: ignore[return-value]

    async def list_pids(self) -> List[int]:
        return list(self._records)

    async def update_status(self, pid: int, status: str) -> None:
        r = self._records.get(pid)
        if r is not None:
            r["status"] = status

    async def clear(self) -> None:
        self._records.clear()

    async def snapshot(self) -> Dict[int, ProcessRecord]:
        return {pid: dict(r) for pid, r in self._records.items()}  # type: ignore[misc]

    async def contains(self, pid: int) -> bool:
        return pid in self._records

    async def get_process_field(self, pid: int, field: str) -> Any:
        r = self._records.get(pid)
        return None if r is None else r.get(field)

    @property
    def processes(self) -> Dict[int, ProcessRecord]:
        """A copy of the table."""
        return {pid: dict(r) for pid, r in self._records.items()}  # type: ignore[misc]

    # ------------------------------------------------------------ procd

    def handle_for(self, target: ProcessRef) -> Optional[ProcessHandle]:
        """The handle of a registered procd process, if ``target`` is one."""
        if isinstance(target, ProcessHandle):
            return target
        if isinstance(target, int) and not isinstance(target, bool):
            r = self._records.get(target)
            if r is not None and isinstance(r["process"], ProcessHandle):
                return r["process"]
            return None
        if isinstance(target, str) and not target.isdigit():
            return self._handles.get(target)
        return None

    def ref(self, target: ProcessRef) -> Dict[str, Any]:
        """The target fields of a request. Processes this client knows are
        addressed by id, which no other process can reuse."""
        h = self.handle_for(target)
        if h is not None:
            return {"id": h.id}
        if isinstance(target, bool):
            raise TypeError(f"not a process: {target!r}")
        if isinstance(target, int):
            return {"pid": target}
        if isinstance(target, str):
            return {"pid": int(target)} if target.isdigit() else {"id": target}
        raise TypeError(f"a process is a pid, an id or a ProcessHandle, not {target!r}")

    def observe(self, record: Any, config: Optional[ProcessConfig] = None) -> ProcessHandle:
        """The handle of a procd record, made (unregistered) if new, and
        refreshed with it."""
        h = self._handles.get(record.id)
        if h is None:
            h = ProcessHandle(self, record, config if config is not None else config_from_record(record))
            self._handles[record.id] = h
        else:
            h._observe(record)
        return h

    def forget(self, process_id: str) -> None:
        """Drops a handle whose record procd no longer holds."""
        h = self._handles.pop(process_id, None)
        if h is not None:
            r = self._records.get(h.pid)
            if r is not None and r["process"] is h:
                del self._records[h.pid]

    def status_of(self, record: Any) -> Dict[str, Any]:
        """procd's full status dict of a record, with the handle and config."""
        h = self.observe(record)
        d = process_status(record)
        d["process"] = h
        d["config"] = h.config
        return d

    async def _unary(self, name: str, request: Any, **kwargs: Any) -> Any:
        return await self._conn.unary(name, request, **kwargs)

    async def _start(self, spec: Any, config: ProcessConfig) -> ProcessHandle:
        await self._ensure_watcher()
        resp = await self._unary("StartProcess", pb.StartProcessRequest(spec=spec))
        return self.observe(resp.process, config)

    async def _get(self, target: ProcessRef) -> Optional[Any]:
        """procd's record, or None if procd does not know the process."""
        try:
            resp = await self._unary("GetProcess", pb.GetProcessRequest(**self.ref(target)))
        except NotFound:
            return None
        self.observe(resp.process)
        return resp.process

    async def _details(self, target: ProcessRef) -> Optional[Dict[str, Any]]:
        record = await self._get(target)
        return None if record is None else self.status_of(record)

    async def _wait(self, target: ProcessRef, timeout: Optional[float], *, until_ready: bool = False) -> Optional[Any]:
        """The WaitForProcessResponse, or None for an unknown process. A set
        timeout of 0 polls. ``until_ready``: return once the process is ready
        (its ``ready_at`` is then set) or has ended."""
        req = pb.WaitForProcessRequest(until_ready=until_ready, **self.ref(target))
        deadline = None
        if timeout is not None:
            req.timeout.CopyFrom(to_duration(max(timeout, 0)))
            deadline = max(timeout, 0) + 30.0
        try:
            resp = await self._unary("WaitForProcess", req, timeout=deadline, short=False)
        except NotFound:
            return None
        self.observe(resp.process)
        return resp

    async def _signal(self, target: ProcessRef, signal: str, *, leader_only: bool = False) -> bool:
        """True if procd delivered ``signal``; False for a finished or
        unknown process."""
        req = pb.SendSignalRequest(signal=signal, leader_only=leader_only, **self.ref(target))
        try:
            resp = await self._unary("SendSignal", req)
        except NotFound:
            return False
        return bool(resp.results) and all(r.delivered for r in resp.results)

    async def _stop(
        self, target: ProcessRef, *, force: bool = False, grace: Optional[float] = None, signal: Optional[str] = None
    ) -> bool:
        """Stops a process; True once its tree is gone (also if it had
        finished), False if procd does not know it. Raises ProcdError if
        procd reports it could not stop it."""
        req = pb.StopProcessRequest(**self.ref(target))
        if force:
            req.signal = "SIGKILL"
            req.grace.CopyFrom(to_duration(0.0))
        else:
            if grace is not None:
                req.grace.CopyFrom(to_duration(grace))
            if signal:
                req.signal = str(signal)
        try:
            resp = await self._unary("StopProcess", req, short=False)
        except NotFound:
            return False
        errors = []
        for r in resp.results:
            self.observe(r.process)
            if r.error:
                errors.append(f"{r.process.id}: {r.error}")
        if errors:
            raise ProcdError("; ".join(errors))
        return True

    async def _heartbeat(self, target: ProcessRef) -> bool:
        """UpdateActivity: True if recorded, False for a finished or unknown
        process. Raises FailedPrecondition if heartbeats are not one of the
        process's activity sources."""
        try:
            resp = await self._unary("UpdateActivity", pb.UpdateActivityRequest(**self.ref(target)))
        except NotFound:
            return False
        self.observe(resp.process)
        return resp.process.state not in (pb.PROCESS_STATE_EXITED, pb.PROCESS_STATE_LOST)

    def _read_output(
        self,
        target: ProcessRef,
        stream: Optional[str] = None,
        *,
        offset: int = 0,
        tail_bytes: Optional[int] = None,
        follow: bool = False,
    ) -> ResponseStream[OutputChunk]:
        req = pb.ReadOutputRequest(stream=stream_value(stream), offset=offset, follow=follow, **self.ref(target))
        if tail_bytes is not None:
            req.tail_bytes = tail_bytes
        return self._conn.stream("process", "ReadOutput", req, chunk_from_proto)

    async def _write_input(self, target: ProcessRef, data: bytes, *, close: bool) -> int:
        resp = await self._unary(
            "WriteInput", pb.WriteInputRequest(data=data, close=close, **self.ref(target)), short=False
        )
        return resp.written

    # ------------------------------------------------------------ procd's event stream

    def add_listener(self, fn: Callable[[Any], None]) -> None:
        """Calls ``fn(event)`` (a procd.v1.Event) for every event of a
        process this registry has a handle for."""
        self._listeners.append(fn)

    async def _ensure_watcher(self) -> None:
        """Follows procd's events (from now on) to keep the handles'
        returncode and hung state fresh."""
        loop = asyncio.get_running_loop()
        if self._watcher is not None and not self._watcher.done() and self._watcher_loop is loop:
            return
        seq = (await self._unary("GetStats", pb.GetStatsRequest())).events.last_seq
        if self._watcher is not None and not self._watcher.done() and self._watcher_loop is loop:
            return  # another start made it meanwhile
        self._watcher_loop = loop
        self._watch_stopping = False
        self._watcher = loop.create_task(self._watch(seq), name="procd_client events")

    async def _stop_watcher(self) -> None:
        """Ends the event stream and waits for the watcher. The stream is
        closed rather than the task cancelled, so the watcher sees its call
        end: nothing of it is left to complete on a loop that may close."""
        task, self._watcher = self._watcher, None
        if task is None or task.done() or self._watcher_loop is not asyncio.get_running_loop():
            return
        self._watch_stopping = True
        stream = self._watch_stream
        if stream is not None:
            await stream.aclose()
        try:
            await asyncio.wait_for(asyncio.shield(task), 5.0)
        except asyncio.TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _watch(self, after_seq: int) -> None:
        delay = 0.05
        while not self._watch_stopping:
            req = pb.WatchEventsRequest(after_seq=after_seq, batch=True)
            stream = self._conn.stream("process", "WatchEvents", req, _raw_events, flatten=True)
            self._watch_stream = stream
            try:
                async with stream:
                    async for ev in stream:
                        after_seq = ev.seq
                        delay = 0.05
                        self._dispatch(ev)
            except (OutOfRange, ResourceExhausted) as e:
                # Events were lost: start again from now and re-read the
                # live handles, so none misses its exit.
                log.debug("procd_client: event stream restarted: %s", e)
                try:
                    after_seq = (await self._unary("GetStats", pb.GetStatsRequest())).events.last_seq
                    for h in [h for h in self._handles.values() if h.returncode is None]:
                        await self._get(h)
                except ProcdError:
                    pass
            except ProcdError as e:
                if self._watch_stopping or self._conn.closed:
                    return
                log.debug("procd_client: event stream failed (%s); retrying in %.2fs", e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _dispatch(self, ev: Any) -> None:
        h = self._handles.get(ev.process_id)
        if h is None:
            return
        if ev.type == pb.EVENT_TYPE_EXITED:
            h._observe_exit(ev.exit)
        elif ev.type == pb.EVENT_TYPE_HUNG:
            h.hung = True
        elif ev.type == pb.EVENT_TYPE_RECOVERED:
            h.hung = False
        for fn in list(self._listeners):
            try:
                fn(ev)
            except Exception:  # noqa: BLE001 - a listener's failure is its own
                log.exception("procd_client: event listener failed")


def _raw_events(resp: Any) -> List[Any]:
    if len(resp.events):
        return list(resp.events)
    return [resp.event] if resp.HasField("event") else []
