"""ProcessInspector and ProcessCompletionResult, as in the released
runtime: status dicts, statistics, cleanup and waits, over procd's records."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any, Dict, List, Optional

from ._pb import pb
from ._process import ProcessHandle
from ._registry import ProcessRegistry
from ._watchdog import ProcessWatchdog, wait_for_process_exit
from .errors import FailedPrecondition, NotFound

__all__ = ["ProcessInspector", "ProcessCompletionResult"]

log = logging.getLogger("procd_client")


@dataclasses.dataclass
class ProcessCompletionResult:
    """What ``ProcessManager.wait`` returns: ``exit_code`` is the
    returncode (-N for signal N), None while the process runs."""

    pid: int
    exit_code: Optional[int]
    timed_out: bool


def status_dict(record: Dict[str, Any]) -> Dict[str, Any]:
    """The original's status dict of a registry record: a copy with
    ``status`` "stopped" (if the registry says so), else the registry's
    status while the process runs, else "finished" with ``exit_code``."""
    d = dict(record)
    if d.get("status") == "stopped":
        return d
    rc = getattr(d.get("process"), "returncode", None)
    if rc is not None:
        d["status"] = "finished"
        d["exit_code"] = rc
    return d


class ProcessInspector:
    """``ProcessInspector(registry, watchdog, logger)``: ``get_status``,
    ``list_processes``, ``get_statistics``, ``cleanup_finished_processes``,
    ``wait_for_completion``."""

    def __init__(self, registry: ProcessRegistry, watchdog: ProcessWatchdog, logger: Optional[logging.Logger] = None):
        self.registry = registry
        self.watchdog = watchdog
        self.logger = logger or log

    async def _record(self, pid: int, refresh: bool = True) -> Optional[Dict[str, Any]]:
        """The registry's record of ``pid`` (its handle refreshed from procd);
        for a pid this manager does not manage, a record built from procd's
        (a process another client started), or None."""
        record = await self.registry.get_process(pid)
        if record is None:
            rec = await self.registry._get(pid)
            if rec is None:
                return None
            h = self.registry.observe(rec)
            return {"process": h, "config": h.config, "started_at": h.started_at, "status": "running"}
        process = record["process"]
        if refresh and isinstance(process, ProcessHandle) and process.returncode is None:
            await self.registry._get(process)
        return dict(record)

    async def get_status(self, pid: int) -> Optional[Dict[str, Any]]:
        """``{process, config, started_at, status}`` (+ ``exit_code`` once
        finished), or None if neither this manager nor procd knows ``pid``."""
        record = await self._record(pid)
        return None if record is None else status_dict(record)

    async def list_processes(self) -> List[Dict[str, Any]]:
        """The status dicts of the registered processes (one ListProcesses
        call refreshes the procd ones)."""
        snapshot = await self.registry.snapshot()
        if any(isinstance(r["process"], ProcessHandle) and r["process"].returncode is None for r in snapshot.values()):
            try:
                resp = await self.registry._unary("ListProcesses", pb.ListProcessesRequest())
                for p in resp.processes:
                    if p.id in self.registry._handles:
                        self.registry.observe(p)
            except Exception as e:  # noqa: BLE001 - errors are skipped, as the original
                self.logger.debug("procd_client: list refresh failed: %s", e)
        return [status_dict(dict(r)) for r in snapshot.values()]

    async def get_statistics(self) -> Dict[str, Any]:
        """``{processes: {status: count}, watchdog: <watchdog stats>,
        total_managed: n}``."""
        counts: Dict[str, int] = {}
        statuses = await self.list_processes()
        for s in statuses:
            counts[s["status"]] = counts.get(s["status"], 0) + 1
        return {
            "processes": counts,
            "watchdog": await self.watchdog.get_stats(),
            "total_managed": len(statuses),
        }

    async def cleanup_finished_processes(self) -> int:
        """Unregisters the finished processes and returns how many; procd's
        records of them are removed too (with their output)."""
        removed = 0
        for pid, record in (await self.registry.snapshot()).items():
            process = record["process"]
            if getattr(process, "returncode", None) is None:
                if not isinstance(process, ProcessHandle) or await self.registry._get(process) is None:
                    continue
                if process.returncode is None:
                    continue
            if isinstance(process, ProcessHandle):
                try:
                    await self.registry._unary("RemoveProcess", pb.RemoveProcessRequest(id=process.id))
                except FailedPrecondition:
                    continue  # running again? (never: a pid's record is final) keep it
                except NotFound:
                    pass
                self.registry.forget(process.id)
            await self.registry.unregister(pid)
            removed += 1
        return removed

    async def wait_for_completion(self, pid: int, timeout: Optional[float] = None) -> Optional[ProcessCompletionResult]:
        """Waits for ``pid`` to exit; None if unknown. After ``timeout`` it
        returns ``timed_out=True`` and the current exit_code; it neither
        kills nor unregisters."""
        record = await self.registry.get_process(pid)
        if record is None or isinstance(record["process"], ProcessHandle):
            target = record["process"] if record is not None else pid
            resp = await self.registry._wait(target, timeout)
            if resp is None:
                if record is None:
                    return None
                return ProcessCompletionResult(pid, record["process"].returncode, False)
            h = self.registry.observe(resp.process)
            return ProcessCompletionResult(pid, h.returncode, bool(resp.timed_out))
        process = record["process"]
        try:
            await wait_for_process_exit(process, timeout)
            return ProcessCompletionResult(pid, process.returncode, False)
        except asyncio.TimeoutError:
            return ProcessCompletionResult(pid, getattr(process, "returncode", None), True)
