"""The released runtime's ``runtime.monitor``: ProcessInspector and ProcessCompletionResult.

Re-exports only (the classes live in procd_client's own modules), so the
same objects are reachable from every path, including through the
``sys.modules["mcp_fuzzer"] = procd_client`` alias.
"""

from procd_client._monitor import ProcessCompletionResult, ProcessInspector

__all__ = [
    "ProcessInspector",
    "ProcessCompletionResult",
]
