"""The released runtime's ``runtime.config``: the config classes and merge_env.

Re-exports only (the classes live in procd_client's own modules), so the
same objects are reachable from every path, including through the
``sys.modules["mcp_fuzzer"] = procd_client`` alias.
"""

from procd_client.config import ProcessConfig, ProcessConfigBuilder, WatchdogConfig, merge_env

__all__ = [
    "ProcessConfig",
    "ProcessConfigBuilder",
    "WatchdogConfig",
    "merge_env",
]
