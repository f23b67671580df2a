"""procd_client: the Python asyncio client of procd, the process supervisor.

It is a drop-in for the released asyncio runtime (mcp-server-fuzzer 0.7's
``mcp_fuzzer.fuzz_engine.runtime``, ``.executor`` and ``mcp_fuzzer.exceptions``):
the same names, signatures, defaults, return shapes and exceptions, importable
from here and from submodules laid out like the original's
(``procd_client.runtime.config``, ``procd_client.fuzz_engine.runtime.config``…).
Code written for it moves to procd by changing its import::

    from procd_client import ProcessManager, ProcessConfig, WatchdogConfig, AsyncFuzzExecutor

or, leaving every import as it was, with one line run first::

    import sys, procd_client; sys.modules["mcp_fuzzer"] = procd_client

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
from ._executor import AsyncFuzzExecutor, BatchJob
from ._lifecycle import ProcessLifecycle
from ._monitor import ProcessCompletionResult, ProcessInspector
from ._process import InputRelay, OutputRelay, ProcessHandle
from ._registry import ProcessRecord, ProcessRegistry
from ._session import Session, StreamStdin
from ._signals import (
    InterruptSignalStrategy,
    KillSignalStrategy,
    ProcessSignalStrategy,
    SignalDispatcher,
    TermSignalStrategy,
)
from ._watchdog import (
    BestEffortTerminationStrategy,
    ProcessWatchdog,
    SignalTerminationStrategy,
    TerminationStrategy,
    wait_for_process_exit,
)
from .config import (
    ClientConfig,
    ProcessConfig,
    ProcessConfigBuilder,
    DENIED_ENV,
    RestartPolicy,
    WatchdogConfig,
    client_environment,
    default_socket,
    merge_env,
)
from .errors import (
    Aborted,
    AlreadyExists,
    Cancelled,
    DataLoss,
    DeadlineExceeded,
    ErrorMetadata,
    ExecutorError,
    FailedPrecondition,
    FuzzingError,
    Internal,
    InvalidArgument,
    MCPError,
    MCPTimeoutError,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ProcdError,
    ProcessRegistrationError,
    ProcessSignalError,
    ProcessStartError,
    ProcessStopError,
    ProcessTimeoutError,
    ResourceExhausted,
    RuntimeSubsystemError,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    Unknown,
    WatchdogStartError,
    get_error_registry,
)
from .manager import ProcessManager
from .version import API_PACKAGE, __version__

__all__ = [
    # the released runtime (mcp_fuzzer.fuzz_engine.runtime.__all__)
    "ProcessWatchdog",
    "WatchdogConfig",
    "RestartPolicy",
    "ProcessManager",
    "ProcessConfig",
    "ProcessConfigBuilder",
    "ProcessInspector",
    "ProcessLifecycle",
    "SignalDispatcher",
    "ProcessRegistry",
    "ProcessRecord",
    # its submodules' names
    "merge_env",
    "ProcessCompletionResult",
    "ProcessSignalStrategy",
    "TermSignalStrategy",
    "KillSignalStrategy",
    "InterruptSignalStrategy",
    "wait_for_process_exit",
    "TerminationStrategy",
    "SignalTerminationStrategy",
    "BestEffortTerminationStrategy",
    # the executor
    "AsyncFuzzExecutor",
    "BatchJob",
    # the released exceptions (mcp_fuzzer.exceptions)
    "MCPError",
    "ErrorMetadata",
    "get_error_registry",
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
    # procd_client
    "Session",
    "StreamStdin",
    "ClientConfig",
    "Event",
    "OutputChunk",
    "ProcessHandle",
    "OutputRelay",
    "InputRelay",
    "client_environment",
    "DENIED_ENV",
    "default_socket",
    "API_PACKAGE",
    "__version__",
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
