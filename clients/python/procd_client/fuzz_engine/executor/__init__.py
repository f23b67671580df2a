"""The released ``fuzz_engine.executor`` package: AsyncFuzzExecutor (plus procd_client's BatchJob).

Re-exports only (the classes live in procd_client's own modules), so the
same objects are reachable from every path, including through the
``sys.modules["mcp_fuzzer"] = procd_client`` alias.
"""

from procd_client._executor import AsyncFuzzExecutor, BatchJob

__all__ = [
    "AsyncFuzzExecutor",
    "BatchJob",
]
