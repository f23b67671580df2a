"""The gRPC channel to procd, shared by ProcessManager and AsyncFuzzExecutor.

The channel is created lazily, inside the running event loop (grpc.aio
channels belong to the loop that made them), and re-created if the client is
later used from another loop. Every call goes through :meth:`unary` or
:meth:`stream`, which add the bearer token and turn gRPC errors into
:class:`~procd_client.errors.ProcdError`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
from typing import Any, AsyncIterator, Callable, Optional, Tuple, TypeVar

import grpc
import grpc.aio

from ._pb import pb_grpc
from .config import ClientConfig
from .errors import Cancelled, from_rpc_error

log = logging.getLogger("procd_client")

T = TypeVar("T")

_MAX_MESSAGE = 64 << 20


class Connection:
    """A lazily opened channel with procd's two service stubs."""

    def __init__(self, config: ClientConfig):
        self.config = config.resolve()
        self._channel: Optional[grpc.aio.Channel] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._process: Optional[pb_grpc.ProcessServiceStub] = None
        self._batch: Optional[pb_grpc.BatchServiceStub] = None
        token = self.config.bearer_token()
        self._metadata: Tuple[Tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )
        self.closed = False

    @property
    def where(self) -> str:
        return self.config.where

    def _target(self) -> str:
        c = self.config
        if c.address:
            return c.address
        return "unix:" + os.path.abspath(c.socket)

    def _ensure(self) -> None:
        # A closed connection reopens: a manager stays usable after shutdown().
        self.closed = False
        loop = asyncio.get_running_loop()
        if self._channel is not None and self._loop is loop:
            return
        if self._channel is not None:
            # The old loop is gone or elsewhere; its channel cannot be used
            # (or closed) from here.
            log.debug("procd_client: event loop changed; opening a new channel")
        c = self.config
        options = [
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.max_send_message_length", _MAX_MESSAGE),
        ]
        if c.tls_server_name:
            options.append(("grpc.ssl_target_name_override", c.tls_server_name))
        if c.address and (c.tls_ca or c.tls_cert):
            creds = grpc.ssl_channel_credentials(
                root_certificates=_read(c.tls_ca),
                private_key=_read(c.tls_key),
                certificate_chain=_read(c.tls_cert),
            )
            self._channel = grpc.aio.secure_channel(self._target(), creds, options=options)
        else:
            self._channel = grpc.aio.insecure_channel(self._target(), options=options)
        self._loop = loop
        self._process = pb_grpc.ProcessServiceStub(self._channel)
        self._batch = pb_grpc.BatchServiceStub(self._channel)

    def process_method(self, name: str) -> Callable[..., Any]:
        self._ensure()
        return getattr(self._process, name)

    def batch_method(self, name: str) -> Callable[..., Any]:
        self._ensure()
        return getattr(self._batch, name)

    async def unary(self, name: str, request: Any, *, timeout: Optional[float] = None,
                    short: bool = True) -> Any:
        """Calls ProcessService.<name>. ``short`` calls get the configured
        rpc_timeout unless ``timeout`` is given."""
        method = self.process_method(name)
        if timeout is None and short:
            timeout = self.config.rpc_timeout
        try:
            return await method(request, metadata=self._metadata, timeout=timeout)
        except grpc.RpcError as e:
            raise from_rpc_error(e, self.where) from None

    def stream(self, service: str, name: str, request: Any,
               convert: Callable[[Any], T], *, flatten: bool = False) -> "ResponseStream[T]":
        """A server stream of ``service`` ("process" or "batch"), converted
        message by message; with ``flatten``, ``convert`` returns a list of
        items per message."""
        return ResponseStream(self, service, name, request, convert, flatten=flatten)

    async def close(self) -> None:
        """Closes the channel (pending calls are cancelled); idempotent. The
        next call opens a new one."""
        self.closed = True
        # grpc.aio releases its per-loop machinery when the last channel is
        # garbage-collected: drop every reference to this one.
        self._process = self._batch = None
        ch, self._channel = self._channel, None
        if ch is not None and self._loop is asyncio.get_running_loop():
            await ch.close()


def _read(path: Optional[str]) -> Optional[bytes]:
    if not path:
        return None
    with open(path, "rb") as f:
        return f.read()


class ResponseStream(AsyncIterator[T]):
    """An async iterator over a server stream that is also an async context
    manager. The call starts on the first ``__anext__``; ``aclose()`` (or
    leaving the ``async with`` block) cancels it. Errors are raised as
    ProcdError."""

    def __init__(self, conn: Connection, service: str, name: str, request: Any,
                 convert: Callable[[Any], Any], *, flatten: bool = False):
        self._conn = conn
        self._flatten = flatten
        self._pending: "collections.deque[T]" = collections.deque()
        self._service = service
        self._name = name
        self._request = request
        self._convert = convert
        self._call = None
        self._it = None
        self._done = False
        self._closed = False

    def __aiter__(self) -> "ResponseStream[T]":
        return self

    def _start(self) -> None:
        if self._service == "batch":
            method = self._conn.batch_method(self._name)
        else:
            method = self._conn.process_method(self._name)
        self._call = method(self._request, metadata=self._conn._metadata)
        self._it = self._call.__aiter__()

    async def __anext__(self) -> T:
        if self._closed:
            raise StopAsyncIteration
        while self._flatten and not self._pending:
            self._pending.extend(await self._next_message())
        if self._flatten:
            return self._pending.popleft()
        return await self._next_message()

    async def _next_message(self) -> Any:
        if self._done:
            raise StopAsyncIteration
        if self._call is None:
            self._start()
        try:
            msg = await self._it.__anext__()
        except StopAsyncIteration:
            self._done = True
            raise
        except grpc.RpcError as e:
            self._done = True
            raise from_rpc_error(e, self._conn.where) from None
        except asyncio.CancelledError:
            # grpc.aio raises CancelledError in a reader whose call was
            # cancelled; when aclose() did it (from another task) and this
            # task is not itself being cancelled, report a closed stream.
            self._done = True
            task = asyncio.current_task()
            cancelling = task.cancelling() if task is not None and hasattr(task, "cancelling") else 0
            if self._closed and not cancelling:
                raise Cancelled("the stream was closed by the client") from None
            raise
        return self._convert(msg)

    async def aclose(self) -> None:
        """Ends the stream, cancelling the call if it is still open. A
        reader blocked in another task gets Cancelled."""
        self._done = True
        self._closed = True
        call = self._call
        if call is not None and not call.done():
            call.cancel()
            # Wait for gRPC to finish the cancelled call, so that nothing of
            # it completes later on an event loop that may be closed by then.
            try:
                await asyncio.wait_for(call.code(), 5.0)
            except (asyncio.TimeoutError, asyncio.CancelledError, grpc.RpcError):
                pass

    async def __aenter__(self) -> "ResponseStream[T]":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    def __del__(self) -> None:
        call = self._call
        if call is not None and not self._done:
            try:
                call.cancel()
            except Exception:  # the loop may be gone already
                pass
