"""The released ``fuzz_engine.executor.async_executor``: AsyncFuzzExecutor.

Re-exports only (the classes live in procd_client's own modules), so the
same objects are reachable from every path, including through the
``sys.modules["mcp_fuzzer"] = procd_client`` alias.
"""

from procd_client._executor import AsyncFuzzExecutor

__all__ = [
    "AsyncFuzzExecutor",
]
