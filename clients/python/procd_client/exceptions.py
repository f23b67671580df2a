"""The released runtime's exceptions (``mcp_fuzzer.exceptions``), with their codes.

Re-exports only (the classes live in procd_client's own modules), so the
same objects are reachable from every path, including through the
``sys.modules["mcp_fuzzer"] = procd_client`` alias.
"""

from procd_client.errors import (
    ErrorMetadata,
    ExecutorError,
    FuzzingError,
    MCPError,
    MCPTimeoutError,
    ProcessRegistrationError,
    ProcessSignalError,
    ProcessStartError,
    ProcessStopError,
    ProcessTimeoutError,
    RuntimeSubsystemError,
    WatchdogStartError,
    get_error_registry,
)

__all__ = [
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
]
