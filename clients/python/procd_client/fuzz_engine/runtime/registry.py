"""The released runtime's ``runtime.registry``: ProcessRegistry and ProcessRecord.

Re-exports only (the classes live in procd_client's own modules), so the
same objects are reachable from every path, including through the
``sys.modules["mcp_fuzzer"] = procd_client`` alias.
"""

from procd_client._registry import ProcessRecord, ProcessRegistry

__all__ = [
    "ProcessRegistry",
    "ProcessRecord",
]
