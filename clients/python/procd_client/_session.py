"""Sessions: a process procd starts for this client, with its stdin, stdout
and stderr as pipes, like ``asyncio.create_subprocess_exec(..., stdin=PIPE,
stdout=PIPE, stderr=PIPE)`` — the way to drive a stdio server (an MCP
server, any JSON-RPC over stdio) under procd.

A session is lossless (procd's rule: the ring and log files are records and
may drop; a session is a pipe and never does): every byte of output arrives,
in order, and a client that reads slowly holds the process back, as a pipe
would. The process is bound to the session: if this client goes away before
the process ends, procd stops its tree (reason CLIENT_GONE).

Over the local socket the session hands procd this process's own pipes
(``AttachStart.local_pipes``): the process reads our stdin pipe directly and
procd writes its output straight into our pipes as it records it, so the
bytes never cross gRPC. Where procd cannot take them (a remote daemon, a
procd not allowed to) the same API runs over the Attach stream.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any, Optional, Union

import grpc

from ._convert import returncode
from ._pb import pb
from .errors import from_rpc_error

__all__ = ["Session", "StreamStdin"]

# One stdin message at most (procd takes messages up to 4 MiB).
_STDIN_CHUNK = 1 << 20


class StreamStdin:
    """Stdin over the Attach stream, written like an ``asyncio.StreamWriter``:
    ``write()`` queues, ``drain()`` sends, ``write_eof()``/``close()`` end
    the input."""

    def __init__(self, session: "Session"):
        self._session = session
        self._pending = bytearray()
        self._closed = False

    def write(self, data: Union[bytes, bytearray, memoryview]) -> None:
        if self._closed:
            raise RuntimeError("stdin of this session is closed")
        self._pending.extend(data)

    async def drain(self) -> None:
        data, self._pending = bytes(self._pending), bytearray()
        for i in range(0, len(data), _STDIN_CHUNK):
            await self._session._send(pb.AttachRequest(stdin=data[i : i + _STDIN_CHUNK]))

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True  # what is pending goes first, then end of input
            self._session._closing.append(asyncio.ensure_future(self._finish()))

    async def _finish(self) -> None:
        await self.drain()
        await self._session._send(pb.AttachRequest(close_stdin=True))

    def is_closing(self) -> bool:
        return self._closed

    async def wait_closed(self) -> None:
        for t in list(self._session._closing):
            await t


class Session:
    """A process procd started for this client, with pipes. ``stdin`` is an
    ``asyncio.StreamWriter`` (or :class:`StreamStdin` on the stream), or None
    without ``stdin=True``; ``stdout`` and ``stderr`` are
    ``asyncio.StreamReader``; ``pid``, ``id`` and ``returncode`` as the
    names say; ``local_pipes`` tells whether the bytes skip gRPC. Read
    stdout and stderr as you would a child's (both, or the process may wait
    for you), then ``await wait()``; ``async with`` closes it."""

    def __init__(self) -> None:
        self.stdin: Any = None
        self.stdout = asyncio.StreamReader(limit=1 << 24)
        self.stderr = asyncio.StreamReader(limit=1 << 24)
        self.pid: Optional[int] = None
        self.id: Optional[str] = None
        self.returncode: Optional[int] = None
        self.local_pipes = False
        self.local_pipes_reason = ""
        self.record: Any = None  # the final Process record
        self._call: Any = None
        self._where = ""
        self._task: Optional["asyncio.Task[Optional[int]]"] = None
        self._pipes_done: Optional["asyncio.Future[Any]"] = None
        self._closing: list = []

    async def _send(self, req: Any) -> None:
        try:
            await self._call.write(req)
        except grpc.RpcError as e:
            raise from_rpc_error(e, self._where) from None

    async def wait(self) -> Optional[int]:
        """Waits for the process and every byte of its output; returns its
        returncode (-N for signal N, as asyncio's)."""
        assert self._task is not None
        return await asyncio.shield(self._task)

    async def close(self) -> None:
        """Ends the session as a client's death would: stdin is closed (end
        of input: a stdio server exits on its own), the pipes are let go,
        and a process still running after its grace period is stopped by
        procd (CLIENT_GONE)."""
        if self.stdin is not None and not self.stdin.is_closing():
            self.stdin.close()
        for t in list(self._closing):
            try:
                await t
            except BaseException:  # noqa: BLE001 - closing
                pass
        if self._call is not None and self._task is not None and not self._task.done():
            self._call.cancel()
        if self._task is not None:
            try:
                await self._task
            except BaseException:  # noqa: BLE001 - closing
                pass

    async def __aenter__(self) -> "Session":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def _offer(stdin: bool) -> "tuple[Any, dict]":
    """Makes our pipes and the LocalPipes offer; returns (offer, fds)."""
    fds = {}
    fds["out"] = os.pipe()
    fds["err"] = os.pipe()
    lp = pb.LocalPipes(stdout=fds["out"][1], stderr=fds["err"][1])
    if stdin:
        fds["in"] = os.pipe()
        lp.stdin = fds["in"][0]
    return lp, fds


def _close_fds(fds: dict, *which: "tuple[str, int]") -> None:
    for name, end in which:
        pair = fds.get(name)
        if pair is not None and pair[end] >= 0:
            try:
                os.close(pair[end])
            except OSError:
                pass
            fds[name] = (pair[0], -1) if end == 1 else (-1, pair[1])


async def _reader_on(fd: int, reader: asyncio.StreamReader) -> Any:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    return transport


async def _writer_on(fd: int) -> asyncio.StreamWriter:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.connect_write_pipe(
        lambda: asyncio.streams.FlowControlMixin(loop=loop), os.fdopen(fd, "wb", buffering=0)
    )
    return asyncio.StreamWriter(transport, protocol, None, loop)


async def open_session(conn: Any, spec: Any, *, stdin: bool = True, local_pipes: Optional[bool] = None) -> Session:
    """Starts spec through Attach and returns the session once procd has
    started the process (ProcessStartError-free: a refusal raises the
    daemon's error, e.g. NotFound). ``local_pipes`` None means: when the
    connection is the local socket on Linux."""
    s = Session()
    s._where = conn.where
    spec.bind_to_session = True
    if stdin:
        spec.stdin = pb.STDIN_MODE_PIPE
    start = pb.AttachStart(spec=spec, stdin=stdin)
    if local_pipes is None:
        local_pipes = sys.platform.startswith("linux") and not conn.config.address
    fds: dict = {}
    if local_pipes:
        lp, fds = _offer(stdin)
        start.local_pipes.CopyFrom(lp)
    method = conn.process_method("Attach")
    s._call = method(metadata=conn._metadata)
    taken = False
    try:
        await s._call.write(pb.AttachRequest(start=start))
        first = await s._call.read()
        if fds:
            answer = first.local_pipes if first is not grpc.aio.EOF and first.HasField("local_pipes") else None
            # Whatever the answer, the ends we offered are procd's or unused.
            _close_fds(fds, ("out", 1), ("err", 1), ("in", 0))
            taken = answer is not None and answer.taken
            if not taken:
                s.local_pipes_reason = answer.reason if answer is not None else "procd did not answer the offer"
                _close_fds(fds, ("out", 0), ("err", 0), ("in", 1))
            if answer is not None:
                first = await s._call.read()
        if first is grpc.aio.EOF or not first.HasField("started"):
            raise RuntimeError(f"procd ended the session before starting the process (got {first!r})")
    except grpc.RpcError as e:
        _close_fds(fds, ("out", 0), ("err", 0), ("in", 1), ("out", 1), ("err", 1), ("in", 0))
        raise from_rpc_error(e, conn.where) from None
    except BaseException:
        _close_fds(fds, ("out", 0), ("err", 0), ("in", 1), ("out", 1), ("err", 1), ("in", 0))
        raise
    if taken:  # our ends, now that the process runs
        s.local_pipes = True
        await _reader_on(fds["out"][0], s.stdout)
        await _reader_on(fds["err"][0], s.stderr)
        if stdin:
            s.stdin = await _writer_on(fds["in"][1])
    s.pid, s.id = first.started.pid, first.started.id
    if stdin and not s.local_pipes:
        s.stdin = StreamStdin(s)
    if not stdin:
        await s._call.done_writing()
    s._task = asyncio.ensure_future(_pump(s))
    return s


async def _pump(s: Session) -> Optional[int]:
    """Reads the session's messages to the final record: output (on the
    stream path) into the readers, then the exit status."""
    try:
        while True:
            msg = await s._call.read()
            if msg is grpc.aio.EOF:
                raise RuntimeError("procd ended the session without the process's exit record")
            kind = msg.WhichOneof("kind")
            if kind == "output":
                out = s.stderr if msg.output.stream == pb.STREAM_STDERR else s.stdout
                if msg.output.data:
                    out.feed_data(msg.output.data)
            elif kind == "exit":
                s.record = msg.exit
                s.returncode = returncode(msg.exit.exit) if msg.exit.HasField("exit") else None
                return s.returncode
    except grpc.RpcError as e:
        raise from_rpc_error(e, s._where) from None
    finally:
        if not s.local_pipes:
            s.stdout.feed_eof()
            s.stderr.feed_eof()
