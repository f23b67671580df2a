"""The original API's usage examples, run against a real procd.

Each test is the example from the original documentation with only the
import changed (mcp_fuzzer.fuzz_engine.runtime -> procd_client) and the
commands replaced by sh scripts, plus assertions on what really happened.
"""

from __future__ import annotations

import asyncio
import threading
import time
import unittest

from _procd import ProcdTestCase

from procd_client import AsyncFuzzExecutor, Cancelled, ProcessConfig, WatchdogConfig


class BasicProcessManagement(ProcdTestCase):
    async def test_start_and_poll_status_until_finished(self):
        manager = self.manager(early_exit_check=0.1)
        config = ProcessConfig(
            command=["sh", "-c", "echo working; sleep 0.3; exit 3"],
            name="long_script",
            timeout=300.0,
        )
        process = await manager.start_process(config)
        self.assertGreater(process.pid, 0)
        self.assertTrue(process.id.startswith("p-"), process.id)

        seen = []

        async def finished():
            status = await manager.get_process_status(process.pid)
            seen.append(status["status"])
            return status if status is None or status["status"] == "finished" else None

        status = await self.eventually(finished, what="the process to finish")
        self.assertEqual(seen[0], "running")
        # The original's status dict, exactly.
        self.assertEqual(set(status), {"process", "config", "started_at", "status", "exit_code"})
        self.assertEqual(status["exit_code"], 3)
        self.assertIs(status["process"], process)
        self.assertIs(status["config"], config)
        self.assertAlmostEqual(status["started_at"], time.time(), delta=30)
        self.assertEqual(process.returncode, 3)
        # procd's detail is a separate call.
        details = await manager.get_process_details(process.pid)
        self.assertEqual((details["pid"], details["id"], details["name"]), (process.pid, process.id, "long_script"))
        self.assertEqual(details["reason"], "EXITED")
        self.assertIsNone(details["signal"])
        self.assertGreaterEqual(details["finished_at"], details["started_at"])
        self.assertEqual(details["stdout_bytes"], len(b"working\n"))
        # ProcessConfig.timeout is kept but, as in the released runtime, the
        # manager's WatchdogConfig sets the watchdog.
        self.assertEqual(config.timeout, 300.0)
        self.assertEqual(details["watchdog"]["timeout"], 30.0)
        # The first example's wait_for_process and get_stats.
        self.assertEqual(await manager.wait_for_process(process.pid, timeout=120.0), 3)
        stats = await manager.get_stats()
        self.assertEqual(stats["processes"], {"finished": 1})
        self.assertEqual(stats["total_managed"], 1)
        daemon = await manager.get_daemon_stats()
        self.assertIn("EXITED", daemon["processes"]["exits_by_reason"])

    async def test_wait_for_process_timeout_returns_none(self):
        manager = self.manager()
        process = await manager.start_process(ProcessConfig(command=["sleep", "30"], name="sleeper"))
        t0 = time.monotonic()
        self.assertIsNone(await manager.wait_for_process(process.pid, timeout=0.2))
        self.assertGreaterEqual(time.monotonic() - t0, 0.15)
        result = await manager.wait(process.pid, timeout=0.1)
        self.assertEqual((result.pid, result.exit_code, result.timed_out), (process.pid, None, True))
        record = await manager.wait_for_process_record(process, timeout=0)
        self.assertTrue(record["timed_out"])
        self.assertEqual(record["status"], "running")
        self.assertTrue(await manager.stop_process(process.pid))
        record = await manager.wait_for_process_record(process)
        self.assertFalse(record["timed_out"])
        self.assertEqual(record["reason"], "STOPPED")
        self.assertEqual(record["exit_code"], -15)  # asyncio's convention: -N for signal N
        self.assertEqual(record["signal"], "SIGTERM")


class MultipleProcessManagement(ProcdTestCase):
    async def test_start_and_wait_with_gather(self):
        manager = self.manager()
        configs = []
        for i in range(3):
            configs.append(
                ProcessConfig(command=["sh", "-c", f"sleep 0.{3 - i}; exit {i}"], name=f"worker_{i}")
            )
        tasks = [manager.start_process(config) for config in configs]
        processes = await asyncio.gather(*tasks)
        self.assertEqual([p.name for p in processes], ["worker_0", "worker_1", "worker_2"])
        self.assertEqual(len({p.pid for p in processes}), 3)

        wait_tasks = [manager.wait_for_process(process.pid) for process in processes]
        results = await asyncio.gather(*wait_tasks)
        self.assertEqual(results, [0, 1, 2])
        statuses = await manager.list_processes()
        self.assertEqual(sorted(s["config"].name for s in statuses), ["worker_0", "worker_1", "worker_2"])
        self.assertEqual(sorted(s["exit_code"] for s in statuses), [0, 1, 2])
        self.assertTrue(all(s["status"] == "finished" for s in statuses))


class CustomProcess:
    """The original example's activity source."""

    def __init__(self):
        self.last_activity = time.time()
        self.activity_count = 0

    def do_work(self):
        self.last_activity = time.time()
        self.activity_count += 1

    def get_activity_timestamp(self):
        return self.last_activity


# A silent process that the watchdog calls hung after 1.5 s without activity.
HANG_TIMEOUT, HANG_BUFFER = 1.0, 0.5
WORK_TIME = 2.5  # longer than HANG_TIMEOUT + HANG_BUFFER


class CustomActivityMonitoring(ProcdTestCase):
    def silent(self, **kwargs) -> ProcessConfig:
        # Per-process watchdog settings (a procd extra): the original's
        # ProcessConfig.timeout would be ignored, as it was there.
        return ProcessConfig(
            command=["sleep", "60"],
            name="monitored_script",
            watchdog=WatchdogConfig(process_timeout=HANG_TIMEOUT, extra_buffer=HANG_BUFFER),
            **kwargs,
        )

    async def assert_alive_then_hung(self, manager, process, last_activity):
        """The process outlived the hang timeout while activity flowed; once
        it stopped, the watchdog ended it (reason HUNG) no earlier than
        timeout + extra_buffer after the last activity."""
        status = await manager.get_process_details(process.pid)
        self.assertEqual(status["status"], "running", status)
        self.assertFalse(status["watchdog"]["hung"], status["watchdog"])
        self.assertEqual(status["watchdog"]["last_activity_source"], "heartbeat")
        self.assertGreater(time.time() - status["started_at"], HANG_TIMEOUT + HANG_BUFFER)

        exit_code = await manager.wait_for_process(process.pid, timeout=20)
        status = await manager.get_process_details(process.pid)
        self.assertEqual(status["reason"], "HUNG", status)
        self.assertEqual(exit_code, -15)
        idle = status["finished_at"] - last_activity()
        self.assertGreaterEqual(idle, HANG_TIMEOUT + HANG_BUFFER - 0.05, status)
        self.assertLess(idle, HANG_TIMEOUT + HANG_BUFFER + 5.0, status)

    async def test_original_example(self):
        manager = self.manager(watchdog=WatchdogConfig(check_interval=0.1))
        custom_proc = CustomProcess()
        config = self.silent(activity_callback=custom_proc.get_activity_timestamp)
        process = await manager.start_process(config)

        # Simulate work (the original paced it at 1 s; HANG_TIMEOUT is 1 s here).
        for _ in range(10):
            custom_proc.do_work()
            await asyncio.sleep(WORK_TIME / 10)
            self.assertIsNone(await manager.update_activity(process.pid))

        await self.assert_alive_then_hung(manager, process, lambda: custom_proc.last_activity)

    async def test_update_activity_alone(self):
        manager = self.manager()
        process = await manager.start_process(self.silent())
        last = time.time()
        loop = asyncio.get_running_loop()
        end = loop.time() + WORK_TIME
        while loop.time() < end:
            self.assertTrue(await manager.heartbeat(process))
            last = time.time()
            await asyncio.sleep(0.2)  # the pace of the heartbeats
        await self.assert_alive_then_hung(manager, process, lambda: last)

    async def test_activity_callback_alone(self):
        """A timestamp callback, polled by the client every check_interval,
        keeps the process alive with no update_activity call."""
        manager = self.manager(watchdog=WatchdogConfig(check_interval=0.1))
        custom_proc = CustomProcess()
        process = await manager.start_process(self.silent(activity_callback=custom_proc.get_activity_timestamp))
        loop = asyncio.get_running_loop()
        end = loop.time() + WORK_TIME
        while loop.time() < end:
            custom_proc.do_work()
            await asyncio.sleep(0.1)  # the pace of the work
        await self.assert_alive_then_hung(manager, process, lambda: custom_proc.last_activity)

    async def test_async_bool_callback(self):
        """An async callback returning True (activity since the last call)."""
        manager = self.manager(watchdog=WatchdogConfig(check_interval=0.1))
        state = {"working": True, "last": time.time(), "calls": 0}

        async def active() -> bool:
            state["calls"] += 1
            if state["working"]:
                state["last"] = time.time()
            return state["working"]

        process = await manager.start_process(self.silent(activity_callback=active))
        await asyncio.sleep(WORK_TIME)  # the callback is what keeps it alive meanwhile
        state["working"] = False
        await self.assert_alive_then_hung(manager, process, lambda: state["last"])
        self.assertGreater(state["calls"], 5)


TRAP_TERM = 'trap "echo term" TERM; echo ready; while :; do sleep 0.1; done'


class SignalHandling(ProcdTestCase):
    async def output_contains(self, manager, process, text: bytes):
        async def probe():
            return text in await manager.get_output(process, "stdout")

        await self.eventually(probe, what=f"{text!r} in the output")

    async def test_original_example(self):
        manager = self.manager()
        config = ProcessConfig(command=["sh", "-c", TRAP_TERM], name="long_script")
        process = await manager.start_process(config)
        await self.output_contains(manager, process, b"ready\n")

        # Send timeout signal (SIGTERM) for graceful shutdown: it traps it.
        success = await manager.send_timeout_signal(process.pid, "timeout")
        self.assertTrue(success)
        await self.output_contains(manager, process, b"term\n")

        # Still running, so send force signal (SIGKILL).
        status = await manager.get_process_status(process.pid)
        self.assertEqual(status["status"], "running")
        self.assertTrue(await manager.send_timeout_signal(process.pid, "force"))
        self.assertEqual(await manager.wait_for_process(process.pid, timeout=10), -9)
        status = await manager.get_process_details(process.pid)
        self.assertEqual((status["signal"], status["reason"]), ("SIGKILL", "STOPPED"))
        # A finished process cannot be signalled.
        self.assertFalse(await manager.send_timeout_signal(process.pid, "timeout"))

        # Send signals to all processes (of this manager).
        others = [
            await manager.start_process(ProcessConfig(command=["sleep", "30"], name=f"sleeper_{i}"))
            for i in range(2)
        ]
        results = await manager.send_timeout_signal_to_all("timeout")
        self.assertEqual(results, {process.pid: False, others[0].pid: True, others[1].pid: True})
        codes = await asyncio.gather(*(manager.wait_for_process(p.pid, timeout=10) for p in others))
        self.assertEqual(codes, [-15, -15])

    async def test_interrupt_and_named_signals(self):
        manager = self.manager()
        p = await manager.start_process(ProcessConfig(command=["sleep", "30"]))
        self.assertTrue(await manager.send_timeout_signal(p.pid, "interrupt"))
        self.assertEqual(await manager.wait_for_process(p.pid, timeout=10), -2)
        q = await manager.start_process(ProcessConfig(command=["sleep", "30"]))
        self.assertTrue(await manager.send_timeout_signal(q, "USR1"))
        self.assertEqual(await manager.wait_for_process(q, timeout=10), -10)

    async def test_stop_process_escalates(self):
        manager = self.manager()
        p = await manager.start_process(ProcessConfig(command=["sh", "-c", TRAP_TERM], grace=0.3))
        await self.output_contains(manager, p, b"ready\n")
        t0 = time.monotonic()
        self.assertTrue(await manager.stop_process(p.pid))
        self.assertGreaterEqual(time.monotonic() - t0, 0.25)  # the grace period passed
        status = await manager.get_process_details(p.pid)
        self.assertEqual((status["status"], status["exit_code"], status["reason"]), ("finished", -9, "STOPPED"))
        # Idempotent on a finished process; force kills at once.
        self.assertTrue(await manager.stop_process(p.pid))
        q = await manager.start_process(ProcessConfig(command=["sh", "-c", TRAP_TERM]))
        self.assertTrue(await manager.stop_process(q, force=True))
        self.assertEqual(q.returncode, -9)

    async def test_shutdown_stops_only_own_processes(self):
        mine, theirs = self.manager(), self.manager()
        a = await mine.start_process(ProcessConfig(command=["sleep", "30"]))
        b = await theirs.start_process(ProcessConfig(command=["sleep", "30"]))
        await mine.shutdown()
        self.assertEqual(a.returncode, -15)
        status = await theirs.get_process_status(b.pid)
        self.assertEqual(status["status"], "running")
        await theirs.stop_all_processes(force=True)
        self.assertEqual(b.returncode, -9)


class ExecutorBatch(ProcdTestCase):
    async def test_original_example(self):
        executor = AsyncFuzzExecutor(max_concurrency=5)
        try:
            async def my_operation(value):
                await asyncio.sleep(0.1)
                return value * 2

            operations = [
                (my_operation, [5], {}),
                (my_operation, [10], {}),
                (my_operation, [15], {}),
            ]
            batch_results = await executor.execute_batch(operations)
            self.assertEqual(batch_results, {"results": [10, 20, 30], "errors": []})
            self.assertEqual(
                await executor.execute_batch_outcomes(operations),
                [
                    {"index": 0, "ok": True, "result": 10, "attempts": 1},
                    {"index": 1, "ok": True, "result": 20, "attempts": 1},
                    {"index": 2, "ok": True, "result": 30, "attempts": 1},
                ],
            )
        finally:
            await executor.shutdown()

    async def test_errors_timeouts_retries_and_threads(self):
        executor = AsyncFuzzExecutor(max_concurrency=4, timeout=0.5, retries=1, retry_delay=0.01)
        self.addAsyncCleanup(executor.shutdown)
        calls = {"flaky": 0}
        threads = []

        async def fails():
            raise ValueError("boom")

        def square(x, *, plus=0):
            threads.append(threading.current_thread())
            return x * x + plus

        async def slow():
            await asyncio.sleep(30)

        async def flaky():
            calls["flaky"] += 1
            if calls["flaky"] == 1:
                raise RuntimeError("first attempt fails")
            return "ok"

        outcomes = await executor.execute_batch_outcomes(
            [(fails, [], {}), (square, [4], {"plus": 1}), (slow, [], {}), (flaky, [], {})]
        )
        self.assertEqual([o.get("result") for o in outcomes], [None, 17, None, "ok"])
        self.assertEqual([type(o.get("error")) for o in outcomes][::2], [ValueError, asyncio.TimeoutError])
        self.assertEqual([o["attempts"] for o in outcomes], [2, 1, 2, 2])
        self.assertEqual([o["ok"] for o in outcomes], [False, True, False, True])
        calls["flaky"] = 0
        out = await executor.execute_batch([(fails, [], {}), (flaky, [], {})], retries=0)
        self.assertEqual(set(out), {"results", "errors"})
        self.assertEqual([type(e) for e in out["errors"]], [ValueError, RuntimeError])
        self.assertIsNot(threads[0], threading.main_thread())  # plain callables run in a worker thread

    async def test_concurrency_is_bounded(self):
        executor = AsyncFuzzExecutor(max_concurrency=3)
        self.addAsyncCleanup(executor.shutdown)
        running, peak = 0, 0

        async def op(i):
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.05)
            running -= 1
            return i

        out = await executor.execute_batch([(op, [i], {}) for i in range(8)])
        self.assertEqual(out["results"], list(range(8)))
        self.assertEqual(peak, 3)

    async def test_shutdown_with_cancel_pending(self):
        executor = AsyncFuzzExecutor(max_concurrency=2)
        started = []

        async def block(i):
            started.append(i)
            await asyncio.Event().wait()

        batch = asyncio.ensure_future(executor.execute_batch([(block, [i], {}) for i in range(5)]))

        async def two_running():
            return len(started) == 2

        await self.eventually(two_running, what="two operations to start")
        await executor.shutdown(cancel_pending=True)
        out = await asyncio.wait_for(batch, 5)
        self.assertEqual(out["results"], [])
        self.assertEqual(len(out["errors"]), 5)
        self.assertTrue(all(isinstance(e, asyncio.CancelledError) for e in out["errors"]))
        self.assertEqual(sorted(started), [0, 1])  # the queued ones never started
        with self.assertRaisesRegex(RuntimeError, "AsyncFuzzExecutor has been shut down"):
            await executor.execute_batch([(block, [9], {})])

    async def test_run_batch_of_processes(self):
        manager = self.manager()
        executor = AsyncFuzzExecutor(max_concurrency=5, manager=manager)
        self.addAsyncCleanup(executor.shutdown)
        summary = await executor.run_batch(
            [
                ProcessConfig(command=["true"]),
                ProcessConfig(command=["false"]),
                ProcessConfig(command=["sleep", "30"]),
            ],
            max_concurrency=2,
            timeout=1.0,
        )
        self.assertEqual(summary["results"], [0])
        self.assertEqual(summary["errors"], [1, 2])
        outcomes = summary["outcomes"]
        self.assertEqual([o["index"] for o in outcomes], [0, 1, 2])
        self.assertEqual([o["outcome"] for o in outcomes], ["succeeded", "exit_code", "timeout"])
        self.assertEqual([o["ok"] for o in outcomes], [True, False, False])
        self.assertEqual([o["exit_code"] for o in outcomes], [0, 1, -15])
        self.assertEqual((summary["succeeded"], summary["failed"], summary["cancelled"]), (1, 2, 0))
        self.assertTrue(summary["batch_id"])
        # Batch jobs are ordinary procd processes.
        status = await manager.get_process_details(outcomes[2]["process_id"])
        self.assertEqual(status["labels"]["procd.batch"], summary["batch_id"])
        self.assertEqual(status["exit_code"], -15)

    async def test_run_batch_retries_and_progress(self):
        executor = AsyncFuzzExecutor(manager=self.manager())
        self.addAsyncCleanup(executor.shutdown)
        summary = await executor.run_batch(["exit 1"], retries=2, retry_delay=0.01)
        [job] = summary["outcomes"]
        self.assertEqual((job["outcome"], job["attempts"], job["exit_code"]), ("exit_code", 3, 1))
        self.assertEqual(summary["retries"], 2)

        progress = []
        async with executor.iter_batch(["true", "exit 4"], name="progress") as stream:
            async for msg in stream:
                progress.append(msg)
        types = [m["type"] for m in progress]
        self.assertEqual(types[0], "started")
        self.assertEqual(types[-1], "summary")
        self.assertEqual(types.count("attempt_started"), 2)
        self.assertEqual(types.count("attempt_finished"), 2)
        finished = {m["index"]: m for m in progress if m["type"] == "attempt_finished"}
        self.assertEqual((finished[0]["outcome"], finished[1]["exit_code"]), ("succeeded", 4))
        self.assertEqual(progress[-1]["errors"], [1])
        self.assertEqual(finished[1]["process"]["name"], "progress")

    async def test_shutdown_cancels_running_batch(self):
        manager = self.manager()
        executor = AsyncFuzzExecutor(manager=manager)
        batch = asyncio.ensure_future(executor.run_batch(["sleep 30", "sleep 30"], max_concurrency=1, name="cancel-me"))

        async def job_running():
            return await manager.list_process_details(daemon_wide=True, name="cancel-me", states=["running"])

        [job] = await self.eventually(job_running, what="the batch's first job to start")
        await executor.shutdown()
        with self.assertRaises(Cancelled):
            await asyncio.wait_for(batch, 10)
        record = await manager.wait_for_process_record(job["id"], timeout=10)
        self.assertEqual((record["status"], record["reason"]), ("finished", "STOPPED"))
        # The queued job never started.
        self.assertEqual(len(await manager.list_processes(daemon_wide=True, name="cancel-me")), 1)


if __name__ == "__main__":
    unittest.main()
