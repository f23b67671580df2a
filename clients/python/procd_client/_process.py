"""ProcessHandle: what start_process returns, standing in for the
``asyncio.subprocess.Process`` the released runtime returned.

The process belongs to procd, so every operation is a call to the daemon:
``returncode`` is refreshed from procd's event stream (and from every record
this client receives), ``wait()`` is WaitForProcess, ``terminate()``,
``kill()`` and ``send_signal()`` are SendSignal, and ``stdout``/``stderr``
relay the output procd captured (ReadOutput with follow).
"""

from __future__ import annotations

import asyncio
import logging
import signal as _signal
from typing import TYPE_CHECKING, Any, AsyncIterator, Dict, List, Optional, Union

from ._convert import from_timestamp, returncode
from ._pb import pb

if TYPE_CHECKING:  # pragma: no cover
    from ._registry import ProcessRegistry
    from .config import ProcessConfig

__all__ = ["ProcessHandle", "OutputRelay", "InputRelay"]

log = logging.getLogger("procd_client")


def _log_failure(task: "asyncio.Task[Any]") -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("procd_client: %s failed: %s", task.get_name(), task.exception())


class OutputRelay:
    """One captured stream of a procd process, read like an
    ``asyncio.StreamReader``: ``read()``, ``readline()``, ``readexactly()``,
    ``at_eof()`` and ``async for line in relay``. It follows the output
    procd captured from the start (ReadOutput with follow) and ends when the
    process has exited and everything was read."""

    def __init__(self, handle: "ProcessHandle", stream: str):
        self._handle = handle
        self._stream = stream
        self._buf = bytearray()
        self._it: Optional[AsyncIterator[Any]] = None
        self._eof = False

    async def _fill(self) -> bool:
        """Appends the next chunk; False at the end of the stream."""
        if self._eof:
            return False
        if self._it is None:
            self._it = self._handle._registry._read_output(self._handle, self._stream, follow=True)
        try:
            chunk = await self._it.__anext__()
        except StopAsyncIteration:
            self._eof = True
            return False
        self._buf.extend(chunk.data)
        return True

    def at_eof(self) -> bool:
        return self._eof and not self._buf

    async def read(self, n: int = -1) -> bytes:
        if n < 0:
            while await self._fill():
                pass
        elif not self._buf:
            await self._fill()
        if n < 0 or n >= len(self._buf):
            data, self._buf = bytes(self._buf), bytearray()
        else:
            data, self._buf = bytes(self._buf[:n]), self._buf[n:]
        return data

    async def readline(self) -> bytes:
        while b"\n" not in self._buf and await self._fill():
            pass
        i = self._buf.find(b"\n")
        end = len(self._buf) if i < 0 else i + 1
        data, self._buf = bytes(self._buf[:end]), self._buf[end:]
        return data

    async def readexactly(self, n: int) -> bytes:
        while len(self._buf) < n and await self._fill():
            pass
        if len(self._buf) < n:
            partial = bytes(self._buf)
            self._buf = bytearray()
            raise asyncio.IncompleteReadError(partial, n)
        return await self.read(n)

    def __aiter__(self) -> "OutputRelay":
        return self

    async def __anext__(self) -> bytes:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    async def aclose(self) -> None:
        it, self._it = self._it, None
        self._eof = True
        if it is not None and hasattr(it, "aclose"):
            await it.aclose()


class InputRelay:
    """The stdin pipe of a process started with ``stdin_pipe=True``, written
    like an ``asyncio.StreamWriter``: ``write()`` queues, ``drain()`` sends
    (WriteInput), ``close()``/``write_eof()`` end the input."""

    def __init__(self, handle: "ProcessHandle"):
        self._handle = handle
        self._pending = bytearray()
        self._closing = False

    def write(self, data: Union[bytes, bytearray, memoryview]) -> None:
        if self._closing:
            raise RuntimeError("stdin of this process is closed")
        self._pending.extend(data)

    def writelines(self, lines: List[bytes]) -> None:
        for line in lines:
            self.write(line)

    async def drain(self) -> None:
        data, self._pending = bytes(self._pending), bytearray()
        if data:
            await self._handle._registry._write_input(self._handle, data, close=False)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.close()

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Ends the input after what was written (sent in the background;
        ``await wait_closed()`` to be sure it arrived)."""
        if self._closing:
            return
        self._closing = True
        data, self._pending = bytes(self._pending), bytearray()
        self._closed = asyncio.ensure_future(self._handle._registry._write_input(self._handle, data, close=True))
        self._closed.add_done_callback(_log_failure)

    async def wait_closed(self) -> None:
        if getattr(self, "_closed", None) is not None:
            await self._closed


class ProcessHandle:
    """A process procd runs for this client.

    Like the ``asyncio.subprocess.Process`` the released runtime returned it
    has ``pid``, ``returncode`` (None while the process runs; the exit code,
    or -N when signal N ended it, once this client has seen it end — procd's
    exit events keep it fresh), ``await wait()``, ``terminate()``,
    ``kill()``, ``send_signal(sig)`` (plain calls that send the signal in
    the background and return an awaitable of whether it was delivered),
    ``stdout``/``stderr`` (:class:`OutputRelay` over the captured output)
    and ``stdin`` (an :class:`InputRelay` with ``stdin_pipe=True``, else
    None: procd gives processes /dev/null).

    procd extras: ``id`` ("p-7", never reused, across restarts of procd
    too), ``name``, ``command``, ``started_at``, ``config``, ``record`` (the
    latest ``procd.v1.Process`` received), ``lost`` (True once procd reports
    the process LOST: procd died while it ran, a restarted procd found only
    its record, and ``returncode`` stays None because how it ended is
    unknown), ``status()``, ``stop()``, ``update_activity()``.
    """

    def __init__(self, registry: "ProcessRegistry", record: Any, config: "ProcessConfig"):
        self._registry = registry
        self.record = record
        self.config = config
        self.returncode: Optional[int] = None
        self.hung = False
        self.lost = False
        self.stdout = OutputRelay(self, "stdout")
        self.stderr = OutputRelay(self, "stderr")
        self.stdin: Optional[InputRelay] = InputRelay(self) if record.stdin == pb.STDIN_MODE_PIPE else None
        self._observe(record)

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
        if record.id != self.record.id:
            return
        self.record = record
        if record.state in (pb.PROCESS_STATE_EXITED, pb.PROCESS_STATE_FAILED):
            self.returncode = returncode(record.exit)
            self.hung = False
        elif record.state == pb.PROCESS_STATE_LOST:
            self.lost = True
            self.hung = False
        elif record.HasField("watchdog"):
            self.hung = record.watchdog.hung

    def _observe_exit(self, exit_status: Any) -> None:
        if self.returncode is None:
            self.returncode = returncode(exit_status)
            self.hung = False

    async def wait(self, timeout: Optional[float] = None) -> Optional[int]:
        """Waits until the process (and its whole tree) is gone and returns
        ``returncode``; with ``timeout``, None if it still runs then. A
        LOST process (see ``lost``) is gone too, with ``returncode`` None."""
        r = await self._registry._wait(self, timeout)
        if r is None or r.timed_out:
            return None
        return self.returncode

    def send_signal(self, sig: Union[int, str, _signal.Signals] = "timeout") -> "asyncio.Task[bool]":
        """Sends ``sig`` (a number, a ``signal.Signals``, a name like
        "SIGUSR1", or a kind: "timeout", "force", "interrupt") to the
        process's group. Returns a task: await it for whether procd
        delivered it (False if the process had exited)."""
        name = sig.name if isinstance(sig, _signal.Signals) else str(sig)
        task = asyncio.ensure_future(self._registry._signal(self, name))
        task.add_done_callback(_log_failure)
        return task

    def terminate(self) -> "asyncio.Task[bool]":
        """SIGTERM to the process's group (see :meth:`send_signal`)."""
        return self.send_signal("SIGTERM")

    def kill(self) -> "asyncio.Task[bool]":
        """SIGKILL to the process's group (see :meth:`send_signal`)."""
        return self.send_signal("SIGKILL")

    async def status(self) -> Optional[Dict[str, Any]]:
        """procd's full status of this process (see
        ProcessManager.get_process_details)."""
        return await self._registry._details(self)

    async def stop(self, force: bool = False) -> bool:
        """Stops the process (see ProcessManager.stop_process)."""
        return await self._registry._stop(self, force=force)

    async def update_activity(self) -> bool:
        """A heartbeat now (see ProcessManager.heartbeat)."""
        return await self._registry._heartbeat(self)

    def __repr__(self) -> str:
        return f"<ProcessHandle id={self.id} pid={self.pid} name={self.name!r} returncode={self.returncode}>"
