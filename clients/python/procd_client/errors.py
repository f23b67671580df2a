"""Exceptions raised by procd_client.

Every failed call to procd raises a :class:`ProcdError` subclass chosen by the
gRPC status code the daemon answered with, carrying that code and the
daemon's message (which says what failed, on what and why)::

    try:
        await manager.start_process(ProcessConfig(command=["no-such-binary"]))
    except NotFound as e:
        print(e.code, e.message)   # NOT_FOUND  executable "no-such-binary" not found in ...

The exceptions are the methods that mirror the original API and returned
None or False for a process they did not know: those keep doing so for
NOT_FOUND (see the README's table).

The released runtime's exceptions (``MCPError``, ``ProcessStartError``
"95002", ``ProcessStopError`` "95003", …) are here too, with the original
names, codes, ``context`` and ``to_metadata()``. They are ProcdError
subclasses, and one raised because of a daemon error is also an instance of
that error's class, so both styles of ``except`` work::

    except ProcessStartError as e:   # the original's style; e.code == "95002"
    except NotFound as e:            # this client's style; e.grpc_code == NOT_FOUND

On these classes ``code`` is the original's string code; the gRPC status is
``grpc_code``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Optional, Tuple, Type

import grpc

__all__ = [
    "ProcdError",
    "Cancelled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
    "error_for_code",
    # the released runtime's exceptions (mcp_fuzzer.exceptions)
    "ErrorMetadata",
    "MCPError",
    "RuntimeSubsystemError",
    "ProcessStartError",
    "ProcessStopError",
    "ProcessSignalError",
    "ProcessRegistrationError",
    "WatchdogStartError",
    "MCPTimeoutError",
    "ProcessTimeoutError",
    "FuzzingError",
    "ExecutorError",
    "get_error_registry",
]


class ProcdError(Exception):
    """A call to procd failed.

    Attributes:
        code: the gRPC status code's name, e.g. ``"NOT_FOUND"``.
        grpc_code: the same as a :class:`grpc.StatusCode`.
        message: the daemon's message (or the client's explanation of a
            connection failure).
    """

    grpc_code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, grpc_code: Optional[grpc.StatusCode] = None):
        if grpc_code is not None:
            self.grpc_code = grpc_code
        self.message = message
        super().__init__(message)

    @property
    def code(self) -> str:
        """The status code's name, e.g. ``"NOT_FOUND"``."""
        return self.grpc_code.name

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class Cancelled(ProcdError):
    """The call was cancelled (CANCELLED)."""

    grpc_code = grpc.StatusCode.CANCELLED


class Unknown(ProcdError):
    """An error without a more precise code (UNKNOWN)."""

    grpc_code = grpc.StatusCode.UNKNOWN


class InvalidArgument(ProcdError):
    """A bad request: empty command, bad env key, unknown signal name, empty
    selector, negative duration… (INVALID_ARGUMENT)."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceeded(ProcdError):
    """The call's deadline passed (DEADLINE_EXCEEDED)."""

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFound(ProcdError):
    """Unknown id or pid, executable not found in the PATH searched, missing
    cwd (NOT_FOUND)."""

    grpc_code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ProcdError):
    """ALREADY_EXISTS."""

    grpc_code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(ProcdError):
    """The caller may not do this, or exec was not permitted
    (PERMISSION_DENIED)."""

    grpc_code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(ProcdError):
    """A limit was reached (process limit, fork EAGAIN) or an event
    subscriber fell too far behind (RESOURCE_EXHAUSTED)."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(ProcdError):
    """The target is in the wrong state: removing a running process, writing
    to a stdin that is not a pipe, heartbeat not an activity source…
    (FAILED_PRECONDITION)."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(ProcdError):
    """ABORTED."""

    grpc_code = grpc.StatusCode.ABORTED


class OutOfRange(ProcdError):
    """An event resume point older than the daemon's ring (OUT_OF_RANGE)."""

    grpc_code = grpc.StatusCode.OUT_OF_RANGE


class Unimplemented(ProcdError):
    """A feature this platform lacks (UNIMPLEMENTED)."""

    grpc_code = grpc.StatusCode.UNIMPLEMENTED


class Internal(ProcdError):
    """INTERNAL."""

    grpc_code = grpc.StatusCode.INTERNAL


class Unavailable(ProcdError):
    """procd cannot be reached, or is shutting down (UNAVAILABLE)."""

    grpc_code = grpc.StatusCode.UNAVAILABLE


class DataLoss(ProcdError):
    """DATA_LOSS."""

    grpc_code = grpc.StatusCode.DATA_LOSS


class Unauthenticated(ProcdError):
    """A TCP call without the bearer token or client certificate procd wants
    (UNAUTHENTICATED)."""

    grpc_code = grpc.StatusCode.UNAUTHENTICATED


_BY_CODE: Dict[grpc.StatusCode, Type[ProcdError]] = {
    cls.grpc_code: cls
    for cls in (
        Cancelled,
        Unknown,
        InvalidArgument,
        DeadlineExceeded,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        ResourceExhausted,
        FailedPrecondition,
        Aborted,
        OutOfRange,
        Unimplemented,
        Internal,
        Unavailable,
        DataLoss,
        Unauthenticated,
    )
}


def error_for_code(grpc_code: grpc.StatusCode, message: str) -> ProcdError:
    """Returns the ProcdError subclass instance for a gRPC status code."""
    cls = _BY_CODE.get(grpc_code, ProcdError)
    return cls(message, grpc_code)


def _connect_failure(details: str) -> bool:
    d = details.lower()
    return any(
        s in d
        for s in (
            "failed to connect",
            "connection refused",
            "no such file or directory",
            "connect failed",
            "dns resolution failed",
        )
    )


def from_rpc_error(err: grpc.RpcError, where: str) -> ProcdError:
    """Converts a gRPC error into a ProcdError.

    Connection failures (UNAVAILABLE from the channel itself, not from the
    daemon) get a message naming where procd was expected and how to point
    the client at it; every other error keeps the daemon's message.
    """
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = (err.details() if hasattr(err, "details") else None) or str(err)
    if code == grpc.StatusCode.UNAVAILABLE and "permission denied" in details.lower():
        return PermissionDenied(
            f"permission denied connecting to procd at {where}: this user may not open "
            f"its socket (procd's --socket-mode and --socket-group decide who may)"
        )
    if code == grpc.StatusCode.UNAVAILABLE and _connect_failure(details):
        return Unavailable(
            f"cannot reach procd at {where}: {details} (is procd running? start it with "
            f"`procd`, or point socket=/PROCD_SOCKET or address=/PROCD_ADDR at it)"
        )
    return error_for_code(code, details)


# ---------------------------------------------------------------- the released runtime's exceptions


@dataclasses.dataclass(frozen=True)
class ErrorMetadata:
    """What :meth:`MCPError.to_metadata` returns."""

    code: str
    description: str
    message: Optional[str]
    context: Dict[str, Any]


class MCPError(ProcdError):
    """The released runtime's base error (``mcp_fuzzer.exceptions.MCPError``).

    ``MCPError(message=None, reason=None, *, code=None, context=None)``:
    ``str(e)`` is the message, else the reason; ``code`` is a string (the
    class's unless ``code=`` is given); ``context`` a dict; ``description``
    the class's. It is also a :class:`ProcdError`, whose ``grpc_code`` is the
    daemon's status when a daemon error caused it (else UNKNOWN).
    """

    code: str = "00000"  # type: ignore[assignment]  # the original's string code, not the status name
    description: str = "Generic MCP fuzzer error"

    def __init__(
        self,
        message: Optional[str] = None,
        reason: Optional[str] = None,
        *,
        code: Optional[str] = None,
        context: Optional[Mapping[str, Any]] = None,
    ):
        self.reason = reason
        text = message if message is not None else reason
        self.message = text if text is not None else ""
        if code is not None:
            self.code = str(code)
        self.context: Dict[str, Any] = dict(context or {})
        Exception.__init__(self, *(a for a in (message, reason) if a is not None))

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r})"

    def to_metadata(self) -> ErrorMetadata:
        return ErrorMetadata(self.code, self.description, self.message or None, dict(self.context))


class RuntimeSubsystemError(MCPError):
    code = "95001"
    description = "Process runtime error"


class ProcessStartError(RuntimeSubsystemError):
    """start_process failed: the spawn failed, or the process exited at once."""

    code = "95002"
    description = "Failed to start a process"


class ProcessStopError(RuntimeSubsystemError):
    """A stop failed, or the process did not exit after it."""

    code = "95003"
    description = "Failed to stop a process"


class ProcessSignalError(RuntimeSubsystemError):
    """Sending a signal failed."""

    code = "95004"
    description = "Failed to send a signal to a process"


class ProcessRegistrationError(RuntimeSubsystemError):
    """Registering a process failed (never raised by the original)."""

    code = "95005"
    description = "Failed to register a process"


class WatchdogStartError(RuntimeSubsystemError):
    """The watchdog could not start."""

    code = "95006"
    description = "Failed to start the process watchdog"


class MCPTimeoutError(MCPError):
    code = "30001"
    description = "Operation timed out"


class ProcessTimeoutError(MCPTimeoutError):
    """A process timed out (never raised by the original)."""

    code = "30002"
    description = "Process timed out"


class FuzzingError(MCPError):
    code = "90001"
    description = "Fuzzing error"


class ExecutorError(FuzzingError):
    """Never raised: the executor raises RuntimeError, as the original."""

    code = "90003"
    description = "Executor error"


_RUNTIME_CLASSES = (
    MCPError,
    RuntimeSubsystemError,
    ProcessStartError,
    ProcessStopError,
    ProcessSignalError,
    ProcessRegistrationError,
    WatchdogStartError,
    MCPTimeoutError,
    ProcessTimeoutError,
    FuzzingError,
    ExecutorError,
)


def get_error_registry() -> Dict[str, str]:
    """Code -> description of the runtime's error classes."""
    return {cls.code: cls.description for cls in _RUNTIME_CLASSES}


_COMBINED: Dict[Tuple[type, type], type] = {}


def runtime_error(
    cls: Type[MCPError],
    message: str,
    *,
    context: Optional[Mapping[str, Any]] = None,
    cause: Optional[BaseException] = None,
) -> MCPError:
    """An instance of the original's ``cls``; when ``cause`` is a daemon
    error (a ProcdError such as NotFound), the instance is also of the
    cause's class and carries its grpc_code, so ``except NotFound`` and
    ``except ProcessStartError`` both catch it. The class's name, module and
    code stay the original's."""
    status_cls = type(cause) if isinstance(cause, ProcdError) and not isinstance(cause, MCPError) else None
    klass: type = cls
    if status_cls is not None and status_cls is not ProcdError and not issubclass(cls, status_cls):
        key = (cls, status_cls)
        klass = _COMBINED.get(key)  # type: ignore[assignment]
        if klass is None:
            klass = type(
                cls.__name__,
                (cls, status_cls),
                {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__},
            )
            _COMBINED[key] = klass
    err = klass(message, context=context)
    if isinstance(cause, ProcdError):
        err.grpc_code = cause.grpc_code
    return err  # type: ignore[return-value]
