"""The released runtime's ``runtime.signals``: the dispatcher and the signal strategies.

Re-exports only (the classes live in procd_client's own modules), so the
same objects are reachable from every path, including through the
``sys.modules["mcp_fuzzer"] = procd_client`` alias.
"""

from procd_client._signals import (
    InterruptSignalStrategy,
    KillSignalStrategy,
    ProcessSignalStrategy,
    SignalDispatcher,
    TermSignalStrategy,
)

__all__ = [
    "SignalDispatcher",
    "ProcessSignalStrategy",
    "TermSignalStrategy",
    "KillSignalStrategy",
    "InterruptSignalStrategy",
]
