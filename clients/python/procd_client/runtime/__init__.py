"""The released runtime's package (``mcp_fuzzer.fuzz_engine.runtime``) as ``procd_client.runtime``: the same ``__all__``.

Re-exports only (the classes live in procd_client's own modules), so the
same objects are reachable from every path, including through the
``sys.modules["mcp_fuzzer"] = procd_client`` alias.
"""

from procd_client._lifecycle import ProcessLifecycle
from procd_client._monitor import ProcessInspector
from procd_client._registry import ProcessRecord, ProcessRegistry
from procd_client._signals import SignalDispatcher
from procd_client._watchdog import ProcessWatchdog
from procd_client.config import ProcessConfig, ProcessConfigBuilder, WatchdogConfig
from procd_client.manager import ProcessManager

__all__ = [
    "ProcessWatchdog",
    "WatchdogConfig",
    "ProcessManager",
    "ProcessConfig",
    "ProcessConfigBuilder",
    "ProcessInspector",
    "ProcessLifecycle",
    "SignalDispatcher",
    "ProcessRegistry",
    "ProcessRecord",
]
