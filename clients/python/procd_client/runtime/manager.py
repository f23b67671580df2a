"""The released runtime's ``runtime.manager``: ProcessManager (and, as there, the config classes).

Re-exports only (the classes live in procd_client's own modules), so the
same objects are reachable from every path, including through the
``sys.modules["mcp_fuzzer"] = procd_client`` alias.
"""

from procd_client.config import ProcessConfig, WatchdogConfig
from procd_client.manager import ProcessManager

__all__ = [
    "ProcessManager",
    "ProcessConfig",
    "WatchdogConfig",
]
