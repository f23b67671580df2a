"""procd_client: the Python asyncio client of procd, the process supervisor.

It mirrors the original asyncio process-management API (ProcessManager,
ProcessConfig, WatchdogConfig, AsyncFuzzExecutor), so code written for it
moves to procd by changing its import::

    from procd_client import ProcessManager, ProcessConfig, WatchdogConfig, AsyncFuzzExecutor

Requires Debian's python3-grpcio and python3-protobuf.
"""

try:
    import grpc  # noqa: F401
    import google.protobuf  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the machine
    raise ImportError(
        "procd_client needs gRPC and protobuf for Python: "
        "apt-get install python3-grpcio python3-protobuf"
    ) from e

from ._convert import Event, OutputChunk
from .config import ClientConfig, ProcessConfig, WatchdogConfig, default_socket
from .errors import (
    Aborted,
    AlreadyExists,
    Cancelled,
    DataLoss,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ProcdError,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    Unknown,
)
from .executor import AsyncFuzzExecutor
from .manager import ProcessHandle, ProcessManager

__all__ = [
    "AsyncFuzzExecutor",
    "ClientConfig",
    "Event",
    "OutputChunk",
    "ProcessConfig",
    "ProcessHandle",
    "ProcessManager",
    "WatchdogConfig",
    "default_socket",
    "ProcdError",
    "Aborted",
    "AlreadyExists",
    "Cancelled",
    "DataLoss",
    "DeadlineExceeded",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
]
