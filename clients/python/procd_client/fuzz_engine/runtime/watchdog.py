"""The released runtime's ``runtime.watchdog``: ProcessWatchdog, wait_for_process_exit and the termination strategies.

Re-exports only (the classes live in procd_client's own modules), so the
same objects are reachable from every path, including through the
``sys.modules["mcp_fuzzer"] = procd_client`` alias.
"""

from procd_client._watchdog import (
    BestEffortTerminationStrategy,
    ProcessWatchdog,
    SignalTerminationStrategy,
    TerminationStrategy,
    wait_for_process_exit,
)

__all__ = [
    "ProcessWatchdog",
    "wait_for_process_exit",
    "TerminationStrategy",
    "SignalTerminationStrategy",
    "BestEffortTerminationStrategy",
]
