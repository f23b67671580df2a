"""The released ``mcp_fuzzer.fuzz_engine``: ProcessManager, ProcessWatchdog and AsyncFuzzExecutor.

Re-exports only (the classes live in procd_client's own modules), so the
same objects are reachable from every path, including through the
``sys.modules["mcp_fuzzer"] = procd_client`` alias.
"""

from procd_client._executor import AsyncFuzzExecutor
from procd_client._watchdog import ProcessWatchdog
from procd_client.manager import ProcessManager

__all__ = [
    "ProcessManager",
    "ProcessWatchdog",
    "AsyncFuzzExecutor",
]
