"""AsyncFuzzExecutor: the released runtime's bounded-concurrency executor,
plus process batches run by procd's BatchService.

``execute_batch`` runs in-process operations — ``(fn, args, kwargs)``
tuples, coroutine functions or plain callables — exactly like the original,
and returns ``{"results": [...], "errors": [...]}``; procd is not involved;
nor is it in ``run_hypothesis_strategy``.
``run_batch`` runs *process* jobs in the daemon (RunBatch): every job is an
ordinary procd process with a per-job timeout that stops its whole tree,
retries with capped exponential backoff, and results keyed by job index.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

from ._connection import ResponseStream
from ._fanout import Endpoints, Fanout, connections, resolve_endpoints
from ._convert import (
    enum_name,
    enum_values,
    exit_dict,
    from_duration,
    process_status,
    returncode,
    str_map,
    to_duration,
)
from ._pb import pb
from .config import ProcessConfig
from .errors import Cancelled, ProcdError
from .manager import ProcessManager

__all__ = ["AsyncFuzzExecutor", "BatchJob"]

log = logging.getLogger("procd_client")

#: One operation of execute_batch: ``(fn, args, kwargs)``, ``(fn, args)``,
#: ``(fn,)`` or a bare callable.
Operation = Union[Callable[..., Any], Tuple[Any, ...]]

#: One job of run_batch: a ProcessConfig, an argv list, or a shell command
#: string (run with ``sh -c``, like ``procctl batch``).
BatchJob = Union[ProcessConfig, Sequence[str], str]


class AsyncFuzzExecutor:
    """The released runtime's executor: runs operations with at most
    ``max_concurrency`` at once; plus process batches run by procd.

    ``AsyncFuzzExecutor(max_concurrency=5)``: ``max_concurrency`` becomes
    ``max(1, n)`` and the thread pool is created at once. No running loop
    is needed to construct it.

    procd_client options (keyword-only):
        timeout: default per-attempt timeout of execute_batch, in seconds
            (None: none, as the original).
        retries: default number of extra attempts after a failed one (0).
        retry_delay: seconds before the first retry of execute_batch (then
            doubled each time), and the initial backoff of run_batch.
        manager: the ProcessManager whose connection run_batch uses, and
            whose watchdog settings the jobs get; None: one made with
            ``ProcessManager.create_with_config()`` on first use (and shut
            down with this executor).
        endpoints: run_batch fans out over several daemons: a list of
            ``host:port`` addresses, or one ``host:port`` whose name
            resolves to many addresses (a Kubernetes headless Service),
            each a daemon of its own. They are reached with the manager's
            TLS settings and token; jobs do not inherit this client's
            directory and environment. See :meth:`run_batch`.
    """

    def __init__(
        self,
        max_concurrency: int = 5,
        *,
        timeout: Optional[float] = None,
        retries: int = 0,
        retry_delay: float = 0.0,
        manager: Optional[ProcessManager] = None,
        endpoints: Optional[Endpoints] = None,
    ):
        self.max_concurrency = max(1, int(max_concurrency))
        self.endpoints = endpoints
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = retry_delay
        self._manager = manager
        self._own_manager = manager is None
        self._thread_pool = ThreadPoolExecutor(max_workers=self.max_concurrency)
        self._semaphore: Optional[asyncio.Semaphore] = None
        self._semaphore_loop: Optional[asyncio.AbstractEventLoop] = None
        self._tasks: Set[asyncio.Future] = set()
        self._streams: "weakref.WeakSet[ResponseStream]" = weakref.WeakSet()
        self._shut_down = False

    def _check_open(self) -> None:
        if self._shut_down:
            raise RuntimeError("AsyncFuzzExecutor has been shut down")

    # ------------------------------------------------------------ in-process operations

    def _get_semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._semaphore_loop is not loop:
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
            self._semaphore_loop = loop
        return self._semaphore

    async def execute_batch(
        self,
        operations: Iterable[Operation],
        *,
        timeout: Optional[float] = ...,  # type: ignore[assignment]
        retries: Optional[int] = None,
        retry_delay: Optional[float] = None,
    ) -> Dict[str, List[Any]]:
        """Runs operations concurrently (at most max_concurrency at once) and
        returns ``{"results": [...], "errors": [...]}``, as the original:
        the successful return values and the exceptions, each in submission
        order (``execute_batch([])`` is ``{"results": [], "errors": []}``).

        Each operation is ``(fn, args, kwargs)`` (also ``(fn, args)``,
        ``(fn,)`` or ``fn``). Coroutine functions are awaited; everything
        else runs in the thread pool and its return value is taken as is. A
        CancelledError from an operation is re-raised.

        procd_client options: ``timeout`` (seconds per attempt; an attempt
        past it fails with asyncio.TimeoutError), ``retries`` and
        ``retry_delay`` (before retry n: ``retry_delay * 2**(n-1)``); their
        defaults are the executor's. :meth:`execute_batch_outcomes` says
        which operation produced which result.
        """
        outcomes = await self.execute_batch_outcomes(
            operations, timeout=timeout, retries=retries, retry_delay=retry_delay
        )
        return {
            "results": [o["result"] for o in outcomes if o["ok"]],
            "errors": [o["error"] for o in outcomes if not o["ok"]],
        }

    async def execute_batch_outcomes(
        self,
        operations: Iterable[Operation],
        *,
        timeout: Optional[float] = ...,  # type: ignore[assignment]
        retries: Optional[int] = None,
        retry_delay: Optional[float] = None,
    ) -> List[Dict[str, Any]]:
        """Like :meth:`execute_batch`, returning one dict per operation in
        input order: ``{"index", "ok", "result" or "error", "attempts"}``
        (the original lost the link between an operation and its result)."""
        self._check_open()
        if timeout is ...:
            timeout = self.timeout
        retries = self.retries if retries is None else retries
        retry_delay = self.retry_delay if retry_delay is None else retry_delay
        ops = [self._normalise(op, i) for i, op in enumerate(operations)]
        sem = self._get_semaphore()
        tasks = [
            asyncio.ensure_future(self._run_operation(i, fn, args, kwargs, sem, timeout, retries, retry_delay))
            for i, (fn, args, kwargs) in enumerate(ops)
        ]
        self._tasks.update(tasks)
        try:
            return list(await asyncio.gather(*tasks))
        except asyncio.CancelledError:
            for t in tasks:
                t.cancel()
            raise
        finally:
            self._tasks.difference_update(tasks)

    async def run_hypothesis_strategy(self, strategy: Any) -> Any:
        """``strategy.example()`` computed in the thread pool (a Hypothesis
        strategy, or anything with ``example()``)."""
        self._check_open()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread_pool, strategy.example)

    @staticmethod
    def _normalise(op: Operation, index: int) -> Tuple[Callable[..., Any], Sequence[Any], Mapping[str, Any]]:
        if callable(op):
            return op, (), {}
        if isinstance(op, tuple) and 1 <= len(op) <= 3 and callable(op[0]):
            fn = op[0]
            args = op[1] if len(op) > 1 and op[1] is not None else ()
            kwargs = op[2] if len(op) > 2 and op[2] is not None else {}
            return fn, args, kwargs
        raise TypeError(f"operation {index}: expected (fn, args, kwargs), got {op!r}")

    async def _call(self, fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "func", None)):
            return await fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread_pool, functools.partial(fn, *args, **kwargs))

    async def _run_operation(self, index, fn, args, kwargs, sem, timeout, retries, retry_delay) -> Dict[str, Any]:
        attempts = 0
        try:
            async with sem:
                while True:
                    attempts += 1
                    try:
                        coro = self._call(fn, args, kwargs)
                        result = await (asyncio.wait_for(coro, timeout) if timeout is not None else coro)
                        return {"index": index, "ok": True, "result": result, "attempts": attempts}
                    except Exception as e:  # noqa: BLE001 - every failure is an outcome
                        if attempts > retries:
                            name = getattr(fn, "__name__", repr(fn))
                            log.debug("procd_client: operation %d (%s) failed: %r", index, name, e)
                            return {"index": index, "ok": False, "error": e, "attempts": attempts}
                        await asyncio.sleep(retry_delay * (2 ** (attempts - 1)))
        except asyncio.CancelledError as e:
            if not self._cancelling:
                raise
            return {"index": index, "ok": False, "error": e, "attempts": attempts}

    # ------------------------------------------------------------ process batches

    def _get_manager(self) -> ProcessManager:
        if self._manager is None:
            self._manager = ProcessManager.create_with_config()
        return self._manager

    def _request(
        self,
        jobs: Iterable[BatchJob],
        *,
        max_concurrency: Optional[int],
        timeout: Optional[float],
        retries: Optional[int],
        retry_delay: Optional[float],
        retry_multiplier: Optional[float],
        retry_max_delay: Optional[float],
        retry_jitter: Optional[float],
        retry_on: Optional[Iterable[str]],
        never_retry_codes: Optional[Iterable[int]],
        deadline: Optional[float],
        fail_fast: bool,
        labels: Optional[Mapping[str, str]],
        name: Optional[str],
        remote: bool = False,
    ) -> Any:
        manager = self._get_manager()
        specs = []
        for i, job in enumerate(jobs):
            if isinstance(job, str):
                job = ProcessConfig(command=["sh", "-c", job])
            elif not isinstance(job, ProcessConfig):
                job = ProcessConfig(command=list(job))
            if job.activity_callback is not None:
                raise ValueError(f"job {i}: activity_callback is not supported in batches")
            # A fan-out's daemons are elsewhere: this client's directory and
            # environment mean nothing there.
            spec = job.to_spec(manager.watchdog_config) if remote else manager.lifecycle.spec(job)
            if job.name == "unknown":
                spec.name = ""  # procd names it after the batch, else "unknown"
            specs.append(spec)
        req = pb.RunBatchRequest(
            jobs=specs,
            max_concurrency=max_concurrency or self.max_concurrency,
            fail_fast=fail_fast,
            labels=str_map(labels, "labels"),
            name=name or "",
        )
        if timeout is not None:
            req.timeout.CopyFrom(to_duration(timeout))
        if deadline is not None:
            req.deadline.CopyFrom(to_duration(deadline))
        retries = self.retries if retries is None else retries
        retry_delay = retry_delay if retry_delay is not None else (self.retry_delay or None)
        if retries:
            r = req.retry
            r.max_attempts = retries + 1
            if retry_delay is not None:
                r.initial.CopyFrom(to_duration(retry_delay))
            if retry_multiplier is not None:
                r.multiplier = retry_multiplier
            if retry_max_delay is not None:
                r.max.CopyFrom(to_duration(retry_max_delay))
            if retry_jitter is not None:
                r.jitter = retry_jitter
            r.retry_on.extend(enum_values(pb.JobOutcome, retry_on, "retry_on"))
            r.never_retry_codes.extend(int(c) for c in (never_retry_codes or []))
        return req

    def iter_batch(
        self,
        jobs: Iterable[BatchJob],
        *,
        max_concurrency: Optional[int] = None,
        timeout: Optional[float] = None,
        retries: Optional[int] = None,
        retry_delay: Optional[float] = None,
        retry_multiplier: Optional[float] = None,
        retry_max_delay: Optional[float] = None,
        retry_jitter: Optional[float] = None,
        retry_on: Optional[Iterable[str]] = None,
        never_retry_codes: Optional[Iterable[int]] = None,
        deadline: Optional[float] = None,
        fail_fast: bool = False,
        labels: Optional[Mapping[str, str]] = None,
        name: Optional[str] = None,
    ) -> ResponseStream[Dict[str, Any]]:
        """Runs process jobs in procd and yields its progress as dicts.

        Each dict has a ``type``:

        * ``"started"``: ``batch_id``, ``jobs``, ``max_concurrency`` (first);
        * ``"attempt_started"``: ``index``, ``attempt``, ``pid``,
          ``process_id``, ``process`` (status dict);
        * ``"attempt_finished"``: the same plus ``outcome``, ``exit_code``
          (-N for signal N), ``error``, ``will_retry``, ``retry_delay``;
        * ``"summary"``: the summary :meth:`run_batch` returns (last).

        Leaving the iteration early (``aclose()``, ``async with``) cancels
        the batch: procd stops its running jobs and starts no queued one.
        See :meth:`run_batch` for the arguments.
        """
        self._check_open()
        if self.endpoints is not None:
            raise ValueError("iter_batch runs on one daemon; with endpoints, run_batch fans out")
        req = self._request(
            jobs,
            max_concurrency=max_concurrency,
            timeout=timeout,
            retries=retries,
            retry_delay=retry_delay,
            retry_multiplier=retry_multiplier,
            retry_max_delay=retry_max_delay,
            retry_jitter=retry_jitter,
            retry_on=retry_on,
            never_retry_codes=never_retry_codes,
            deadline=deadline,
            fail_fast=fail_fast,
            labels=labels,
            name=name,
        )
        stream = self._get_manager().registry._conn.stream("batch", "RunBatch", req, _progress)
        self._streams.add(stream)
        return stream

    async def run_batch(
        self,
        jobs: Iterable[BatchJob],
        *,
        max_concurrency: Optional[int] = None,
        timeout: Optional[float] = None,
        retries: Optional[int] = None,
        retry_delay: Optional[float] = None,
        retry_multiplier: Optional[float] = None,
        retry_max_delay: Optional[float] = None,
        retry_jitter: Optional[float] = None,
        retry_on: Optional[Iterable[str]] = None,
        never_retry_codes: Optional[Iterable[int]] = None,
        deadline: Optional[float] = None,
        fail_fast: bool = False,
        labels: Optional[Mapping[str, str]] = None,
        name: Optional[str] = None,
        max_concurrency_per_daemon: Optional[int] = None,
        endpoints: Optional[Endpoints] = None,
    ) -> Dict[str, Any]:
        """Runs process jobs in procd (BatchService.RunBatch) and returns the
        summary once every job has finished for good.

        With ``endpoints`` (here or the executor's), the jobs are spread
        over those daemons: each goes to the one with the fewest jobs
        running, as a batch of one, and results stay keyed by index.
        ``max_concurrency`` then caps the jobs running over all daemons and
        ``max_concurrency_per_daemon`` those on each; with neither, each
        daemon runs up to the executor's ``max_concurrency``. A daemon that
        goes away is dropped and its jobs run again on the others while the
        retry policy has attempts left (the attempt that was running counts
        as one: give ``retries``); a job with none left ends "cancelled"
        with ``error`` saying which daemon went away and why. The summary
        adds ``daemons`` (``address``, ``jobs``, ``succeeded``, ``lost``,
        ``lost_jobs`` each), ``rerouted`` (jobs sent elsewhere after a
        loss), and each outcome's ``daemon``.

        Args:
            jobs: ProcessConfigs, argv lists, or shell command strings.
            max_concurrency: jobs running at once (default: the executor's).
            timeout: wall-clock seconds per attempt; the job's tree is
                stopped when it passes (outcome "timeout").
            retries: extra attempts per job (default: the executor's);
                retry_delay (initial backoff, default 1.0 in procd),
                retry_multiplier (2), retry_max_delay (30), retry_jitter
                (0.1), retry_on (outcomes retried: "exit_code", "signal",
                "timeout", "start_failed"; default all) and
                never_retry_codes tune them.
            deadline: wall-clock seconds for the whole batch.
            fail_fast: cancel the rest after the first job that fails for good.
            labels: labels added to every job's processes; name: the batch's
                name (and its jobs' default name).

        Returns:
            ``{"batch_id", "results", "errors", "outcomes", "succeeded",
            "failed", "cancelled", "retries", "wall_time", "stopped"}``:
            ``results``/``errors`` are the *indices* of the jobs that
            succeeded/failed (the original's shape, keyed by index);
            ``outcomes`` has one dict per job in index order: ``index``,
            ``ok``, ``outcome`` ("succeeded", "exit_code", "signal",
            "timeout", "start_failed", "cancelled"), ``exit_code`` (-N for
            signal N; None if it never ran), ``signal``, ``reason``,
            ``attempts``, ``process_id``, ``pid``, ``error``, ``duration``,
            ``exit``.

        Raises:
            Cancelled: the executor was shut down (procd stopped the jobs).
            InvalidArgument: a bad job spec (the message names the job).
        """
        if endpoints is not None or self.endpoints is not None:
            return await self._fan_out(
                endpoints if endpoints is not None else self.endpoints,
                jobs,
                dict(timeout=timeout, retries=retries, retry_delay=retry_delay, retry_multiplier=retry_multiplier,
                     retry_max_delay=retry_max_delay, retry_jitter=retry_jitter, retry_on=retry_on,
                     never_retry_codes=never_retry_codes, deadline=deadline, fail_fast=fail_fast, labels=labels,
                     name=name),
                total=max_concurrency,
                per_daemon=max_concurrency_per_daemon,
            )
        if max_concurrency_per_daemon is not None:
            raise ValueError("max_concurrency_per_daemon is for a fan-out (endpoints)")
        stream = self.iter_batch(
            jobs,
            max_concurrency=max_concurrency,
            timeout=timeout,
            retries=retries,
            retry_delay=retry_delay,
            retry_multiplier=retry_multiplier,
            retry_max_delay=retry_max_delay,
            retry_jitter=retry_jitter,
            retry_on=retry_on,
            never_retry_codes=never_retry_codes,
            deadline=deadline,
            fail_fast=fail_fast,
            labels=labels,
            name=name,
        )
        summary = None
        try:
            async for msg in stream:
                if msg["type"] == "summary":
                    summary = msg
        except ProcdError:
            if self._shut_down:
                raise Cancelled("batch cancelled: the executor was shut down") from None
            raise
        finally:
            await stream.aclose()
            self._streams.discard(stream)
        if summary is None:
            if self._shut_down:
                raise Cancelled("batch cancelled: the executor was shut down")
            raise ProcdError("the batch stream ended without a summary")
        return summary

    async def _fan_out(self, endpoints: Endpoints, jobs: Iterable[BatchJob], options: Dict[str, Any], *,
                       total: Optional[int], per_daemon: Optional[int]) -> Dict[str, Any]:
        self._check_open()
        for what, v in (("max_concurrency", total), ("max_concurrency_per_daemon", per_daemon)):
            if v is not None and v < 1:
                raise ValueError(f"{what}={v}: at least 1")
        if total is None and per_daemon is None:
            per_daemon = self.max_concurrency
        req = self._request(jobs, max_concurrency=None, remote=True, **options)
        base = self._get_manager().registry.client_config
        conns = connections(base, await resolve_endpoints(endpoints))
        fan = Fanout(conns, req, per_daemon=per_daemon, total=total)
        try:
            summary, tallies, placement = await fan.run()
        finally:
            for c in conns:
                await c.close()
        out = _progress(pb.RunBatchResponse(summary=summary))
        del out["type"]
        for o in out["outcomes"]:
            o["daemon"] = placement[o["index"]]
        out.update(daemons=tallies, rerouted=fan.rerouted)
        return out

    # ------------------------------------------------------------ shutdown

    _cancelling = False

    async def shutdown(self, *, cancel_pending: bool = False) -> None:
        """As the original: idempotent; later calls raise RuntimeError; the
        thread pool drains (without blocking the event loop, unlike the
        original). Running process batches are cancelled (procd stops their
        jobs; run_batch raises Cancelled), and the executor's own
        ProcessManager, if it made one, is closed. procd_client option:
        ``cancel_pending`` also cancels the queued and running operations of
        execute_batch, whose errors become asyncio.CancelledError."""
        if self._shut_down:
            return
        self._shut_down = True
        for s in list(self._streams):
            await s.aclose()
        if cancel_pending:
            self._cancelling = True
            tasks = list(self._tasks)
            for t in tasks:
                t.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            self._thread_pool.shutdown(wait=False, cancel_futures=True)
        else:
            await asyncio.get_running_loop().run_in_executor(None, self._thread_pool.shutdown, True)
        if self._own_manager and self._manager is not None:
            await self._manager.shutdown(stop_processes=False)

    async def __aenter__(self) -> "AsyncFuzzExecutor":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.shutdown()


def _attempt(a: Any, type_: str) -> Dict[str, Any]:
    d: Dict[str, Any] = {
        "type": type_,
        "index": a.index,
        "attempt": a.attempt,
        "process_id": a.process.id if a.HasField("process") else "",
        "pid": a.process.pid if a.HasField("process") else 0,
        "process": process_status(a.process) if a.HasField("process") else None,
    }
    if type_ == "attempt_finished":
        ex = a.process.exit if a.HasField("process") and a.process.HasField("exit") else None
        d.update(
            outcome=enum_name(pb.JobOutcome, a.outcome),
            exit_code=returncode(ex),
            error=a.error,
            will_retry=a.will_retry,
            retry_delay=from_duration(a.retry_delay) if a.HasField("retry_delay") else None,
        )
    return d


def _job(j: Any) -> Dict[str, Any]:
    ex = j.exit if j.HasField("exit") else None
    outcome = enum_name(pb.JobOutcome, j.outcome)
    return {
        "index": j.index,
        "ok": outcome == "succeeded",
        "outcome": outcome,
        "exit_code": returncode(ex),
        "signal": (ex.signal or None) if ex is not None else None,
        "reason": enum_name(pb.ExitReason, ex.reason) if ex is not None else None,
        "attempts": j.attempts,
        "process_id": j.process_id,
        "pid": j.pid,
        "error": j.error,
        "duration": from_duration(j.duration),
        "exit": exit_dict(ex) if ex is not None else None,
    }


def _progress(msg: Any) -> Dict[str, Any]:
    kind = msg.WhichOneof("kind")
    if kind == "started":
        s = msg.started
        return {"type": "started", "batch_id": s.batch_id, "jobs": s.jobs, "max_concurrency": s.max_concurrency}
    if kind in ("attempt_started", "attempt_finished"):
        return _attempt(getattr(msg, kind), kind)
    if kind == "summary":
        s = msg.summary
        return {
            "type": "summary",
            "batch_id": s.batch_id,
            "results": list(s.results),
            "errors": list(s.errors),
            "outcomes": [_job(j) for j in s.jobs],
            "succeeded": s.succeeded,
            "failed": s.failed,
            "cancelled": s.cancelled,
            "retries": s.retries,
            "wall_time": from_duration(s.wall_time),
            "stopped": s.stopped,
        }
    return {"type": kind, "raw": msg}
