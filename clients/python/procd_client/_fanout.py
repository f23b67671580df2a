"""Fan-out: one process batch spread over several procd daemons.

The client is the scheduler, as in ``procctl batch --addr A --addr B``: each
job goes to the daemon with the fewest jobs running (ties: the one that ran
fewer), and each daemon runs it as a batch of one (RunBatch), so the daemon
still applies the job's timeout, the retry backoff, the labels and the
deadline. A daemon that goes away (unreachable, its stream broken, no longer
accepting our credentials, or cancelling the job as it shuts down) is
dropped; its jobs go to the front of the queue while the retry policy has
attempts left (the attempt that was running counts as one; one that had not
started costs none).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime
import os
import socket
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import grpc
import grpc.aio

from ._connection import Connection
from ._pb import pb
from .config import ClientConfig
from .errors import from_rpc_error

#: Labels every job of a fan-out gets, beside each daemon's procd.batch.
LABEL_FANOUT = "procd.fanout"
LABEL_FANOUT_JOB = "procd.fanout.job"

#: ``stopped`` of a fan-out that lost every daemon.
STOPPED_NO_DAEMON = "no daemon left"

Endpoints = Union[str, Sequence[str]]


async def resolve_endpoints(endpoints: Endpoints) -> List[Tuple[str, Optional[str]]]:
    """``(address, tls_server_name)`` per daemon. A list is taken as given;
    a single ``host:port`` string is resolved and every address it resolves
    to is a daemon of its own (a Kubernetes headless Service), its
    certificate checked against the name."""
    if isinstance(endpoints, str):
        host, sep, port = endpoints.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"endpoints={endpoints!r}: want host:port")
        host = host.strip("[]")
        infos = await asyncio.get_running_loop().getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
        ips = sorted({info[4][0] for info in infos})
        if not ips:
            raise ValueError(f"endpoints={endpoints!r}: {host} resolves to no address")
        return [(f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}", host) for ip in ips]
    out = [(str(e), None) for e in endpoints]
    if not out:
        raise ValueError("endpoints: an empty list (give host:port addresses, or one name to resolve)")
    seen = set()
    for addr, _ in out:
        if addr in seen:
            raise ValueError(f"endpoints: {addr} is in the list twice")
        seen.add(addr)
    return out


def connections(base: ClientConfig, ends: List[Tuple[str, Optional[str]]]) -> List[Connection]:
    """One connection per daemon, with ``base``'s TLS and token."""
    return [
        Connection(dataclasses.replace(base, address=addr, socket=None, tls_server_name=name, inherit_context=False))
        for addr, name in ends
    ]


@dataclasses.dataclass
class _Daemon:
    conn: Connection
    running: int = 0
    assigned: int = 0
    lost: str = ""
    lost_jobs: int = 0


@dataclasses.dataclass
class _Done:
    """What one job's stream on one daemon came to."""

    result: Any = None  # pb.JobResult, the daemon's
    started: int = 0  # attempts started there
    finished: int = 0
    lost: str = ""
    fatal: Optional[Exception] = None


async def _run_job(d: _Daemon, index: int, req: Any) -> _Done:
    done = _Done()
    where = d.conn.where
    call = d.conn.batch_method("RunBatch")(req, metadata=d.conn._metadata)
    try:
        async for msg in call:
            kind = msg.WhichOneof("kind")
            if kind == "attempt_started":
                done.started = msg.attempt_started.attempt
            elif kind == "attempt_finished":
                done.finished = msg.attempt_finished.attempt
            elif kind == "summary":
                if msg.summary.stopped == "cancelled":
                    done.lost = f"procd at {where} cancelled job {index} (shutting down?)"
                elif len(msg.summary.jobs) != 1:
                    done.fatal = ValueError(f"procd at {where}: job {index}: a summary of {len(msg.summary.jobs)} jobs")
                else:
                    done.result = msg.summary.jobs[0]
                return done
        done.lost = f"procd at {where} ended job {index}'s stream without a summary"
    except grpc.aio.AioRpcError as e:
        if e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED):
            done.lost = f"procd at {where} went away: {e.details()}"
        else:
            done.fatal = from_rpc_error(e, where)
    return done


class Fanout:
    """Runs one RunBatchRequest's jobs over ``conns``; see the module."""

    def __init__(self, conns: List[Connection], req: Any, *, per_daemon: Optional[int], total: Optional[int]):
        if not per_daemon and not total:
            raise ValueError("fan-out: set max_concurrency_per_daemon or max_concurrency")
        self.daemons = [_Daemon(c) for c in conns]
        self.req = req
        self.per_daemon, self.total = per_daemon or 0, total or 0
        self.id = "f-" + os.urandom(6).hex()
        n = len(req.jobs)
        self.queue = collections.deque(range(n))
        self.attempts = [0] * n
        self.results: List[Any] = [None] * n
        self.placement: List[Optional[str]] = [None] * n
        self.first_start: List[Optional[float]] = [None] * n
        self.max_attempts = max(req.retry.max_attempts, 1) if req.HasField("retry") else 1
        self.t0 = time.monotonic()
        self.end = self.t0 + req.deadline.ToTimedelta().total_seconds() if req.HasField("deadline") else None
        self.tasks: Dict["asyncio.Task[_Done]", Tuple[int, int]] = {}
        self.stopped = ""
        self.fatal: Optional[Exception] = None
        self.rerouted = 0

    async def run(self) -> Tuple[Any, List[Dict[str, Any]], List[Optional[str]]]:
        try:
            while True:
                self._check_stop()
                while not self.stopped and self.queue:
                    d = self._pick()
                    if d is None:
                        break
                    self._dispatch(self.queue.popleft(), d)
                if self.stopped:
                    self._cancel_queued()
                if not self.tasks:
                    break
                finished, _ = await asyncio.wait(self.tasks, return_when=asyncio.FIRST_COMPLETED)
                for t in finished:
                    self._finish(t)
        except asyncio.CancelledError:
            for t in self.tasks:
                t.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            raise
        if self.fatal is not None:
            raise self.fatal
        return self._summary()

    def _check_stop(self) -> None:
        if self.stopped:
            return
        if self.end is not None and time.monotonic() >= self.end:
            self.stopped = "deadline"
        elif self.queue and all(d.lost for d in self.daemons):
            self.stopped = STOPPED_NO_DAEMON

    def _pick(self) -> Optional[int]:
        if self.total and len(self.tasks) >= self.total:
            return None
        best = None
        for i, d in enumerate(self.daemons):
            if d.lost or (self.per_daemon and d.running >= self.per_daemon):
                continue
            b = self.daemons[best] if best is not None else None
            if b is None or (d.running, d.assigned) < (b.running, b.assigned):
                best = i
        return best

    def _dispatch(self, i: int, di: int) -> None:
        d = self.daemons[di]
        d.running += 1
        d.assigned += 1
        if self.first_start[i] is None:
            self.first_start[i] = time.monotonic()
        r = self.req
        one = pb.RunBatchRequest(jobs=[r.jobs[i]], max_concurrency=1, name=r.name)
        one.labels.update(r.labels)
        one.labels[LABEL_FANOUT] = self.id
        one.labels[LABEL_FANOUT_JOB] = str(i)
        if r.HasField("timeout"):
            one.timeout.CopyFrom(r.timeout)
        if r.HasField("retry"):
            one.retry.CopyFrom(r.retry)
            one.retry.max_attempts = self.max_attempts - self.attempts[i]
        if self.end is not None:
            one.deadline.FromTimedelta(_seconds(max(self.end - time.monotonic(), 0.001)))
        self.tasks[asyncio.ensure_future(_run_job(d, i, one))] = (i, di)

    def _finish(self, t: "asyncio.Task[_Done]") -> None:
        i, di = self.tasks.pop(t)
        d = self.daemons[di]
        d.running -= 1
        done = _Done() if t.cancelled() else t.result()
        earlier = self.attempts[i]
        self.attempts[i] += done.started
        if done.started:
            self.placement[i] = d.conn.where
        if done.fatal is not None:
            if self.fatal is None:
                self.fatal, self.stopped = done.fatal, "refused"
                self._cancel_running()
            self.results[i] = self._cancelled(i, str(done.fatal))
        elif done.lost:
            self._lose(i, d, done)
        elif done.result is None:
            self.results[i] = self._cancelled(i, "stopped while it ran: " + self.stopped)
        else:
            r = done.result
            r.index = i
            r.attempts += earlier
            if earlier:
                r.duration.FromTimedelta(_seconds(time.monotonic() - self.first_start[i]))
            self.attempts[i] = r.attempts
            self.results[i] = r
            bad = r.outcome not in (pb.JOB_OUTCOME_SUCCEEDED, pb.JOB_OUTCOME_CANCELLED)
            if bad and self.req.fail_fast and not self.stopped:
                self.stopped = "fail_fast"
                self._cancel_running()

    def _lose(self, i: int, d: _Daemon, done: _Done) -> None:
        if not d.lost:
            d.lost = done.lost
        d.lost_jobs += 1
        if not self.stopped and (done.started == 0 or self.attempts[i] < self.max_attempts):
            self.queue.appendleft(i)
            self.rerouted += 1
            return
        why = "lost: " + done.lost
        if not self.stopped:
            why += "; no attempts left under the retry policy (retries)"
        self.results[i] = self._cancelled(i, why)

    def _cancel_running(self) -> None:
        for t in self.tasks:
            t.cancel()

    def _cancelled(self, i: int, why: str) -> Any:
        r = pb.JobResult(index=i, outcome=pb.JOB_OUTCOME_CANCELLED, attempts=self.attempts[i], error=why)
        if self.first_start[i] is not None:
            r.duration.FromTimedelta(_seconds(time.monotonic() - self.first_start[i]))
        return r

    def _cancel_queued(self) -> None:
        why = {
            "deadline": "the batch's deadline passed before it ran",
            "fail_fast": "another job failed first (fail_fast)",
            "refused": "a daemon refused a job of the batch",
            STOPPED_NO_DAEMON: "no daemon left to run it (" + "; ".join(d.lost for d in self.daemons) + ")",
        }.get(self.stopped, self.stopped)
        for i in self.queue:
            self.results[i] = self._cancelled(i, why)
        self.queue.clear()

    def _summary(self) -> Tuple[Any, List[Dict[str, Any]], List[Optional[str]]]:
        """The merged BatchSummary (jobs in index order), a tally per daemon,
        and the daemon of each job's last attempt."""
        s = pb.BatchSummary(batch_id=self.id, stopped=self.stopped)
        s.wall_time.FromTimedelta(_seconds(time.monotonic() - self.t0))
        tallies = [
            {"address": d.conn.where, "jobs": 0, "succeeded": 0, "lost": d.lost, "lost_jobs": d.lost_jobs}
            for d in self.daemons
        ]
        where = {d.conn.where: n for n, d in enumerate(self.daemons)}
        for i, r in enumerate(self.results):
            s.jobs.append(r)
            s.retries += max(r.attempts - 1, 0)
            ok = r.outcome == pb.JOB_OUTCOME_SUCCEEDED
            if ok:
                s.succeeded += 1
                s.results.append(i)
            else:
                s.errors.append(i)
                if r.outcome == pb.JOB_OUTCOME_CANCELLED:
                    s.cancelled += 1
                else:
                    s.failed += 1
            if self.placement[i] is not None:
                tally = tallies[where[self.placement[i]]]
                tally["jobs"] += 1
                tally["succeeded"] += ok
        return s, tallies, self.placement


def _seconds(x: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=x)
