"""procd's errors surface as ProcdError subclasses; missing processes keep
the original's None/False answers."""

from __future__ import annotations

import os
import tempfile
import unittest

import grpc

from _procd import ProcdTestCase

from procd_client import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    OutOfRange,
    ProcdError,
    ProcessConfig,
    ProcessManager,
    Unavailable,
)


class Errors(ProcdTestCase):
    # A small event ring, so that a resume point can fall out of it.
    daemon_args = ("--event-ring-size", "16")

    async def test_missing_executable_is_not_found(self):
        manager = self.manager()
        before = (await manager.get_stats())["procd"]["processes"]
        with self.assertRaises(NotFound) as cm:
            await manager.start_process(ProcessConfig(command=["no-such-binary", "--flag"]))
        e = cm.exception
        self.assertIsInstance(e, ProcdError)
        self.assertEqual(e.code, "NOT_FOUND")
        self.assertEqual(e.grpc_code, grpc.StatusCode.NOT_FOUND)
        self.assertIn("no-such-binary", e.message)
        self.assertTrue(str(e).startswith("NOT_FOUND: "), str(e))
        # A failed start leaves no record behind, and is counted.
        after = (await manager.get_stats())["procd"]["processes"]
        self.assertEqual(after["started_total"], before["started_total"])
        self.assertEqual(after["start_failures_total"], before["start_failures_total"] + 1)
        self.assertEqual(await manager.list_processes(), [])

    async def test_missing_cwd_is_not_found(self):
        manager = self.manager()
        missing = os.path.join(tempfile.gettempdir(), "pdpy-no-such-dir")
        with self.assertRaises(NotFound) as cm:
            await manager.start_process(ProcessConfig(command=["true"], cwd=missing))
        self.assertIn(missing, cm.exception.message)

    async def test_invalid_arguments(self):
        manager = self.manager()
        p = await manager.start_process(ProcessConfig(command=["sleep", "30"]))
        with self.assertRaises(InvalidArgument) as cm:
            await manager.send_timeout_signal(p.pid, "SIGNOPE")
        self.assertIn("SIGNOPE", cm.exception.message)
        self.assertEqual(cm.exception.code, "INVALID_ARGUMENT")
        with self.assertRaises(InvalidArgument):
            await manager.send_timeout_signal_to_all("SIGNOPE", daemon_wide=True)
        with self.assertRaises(InvalidArgument):
            await manager.start_process(ProcessConfig(command=[]))
        with self.assertRaises(InvalidArgument):
            await manager.start_process(ProcessConfig(command=["true"], timeout=-1.0))
        # The process is untouched by the refused signals.
        self.assertEqual((await manager.get_process_status(p))["status"], "running")

    async def test_unknown_process_keeps_original_answers(self):
        manager = self.manager()
        unknown_pid = os.getpid()  # a real pid procd never started
        self.assertIsNone(await manager.get_process_status(unknown_pid))
        self.assertIsNone(await manager.get_process_status("p-999999"))
        self.assertIsNone(await manager.wait_for_process(unknown_pid))
        self.assertIsNone(await manager.wait_for_process(unknown_pid, timeout=1.0))
        self.assertIsNone(await manager.wait_for_process_record(unknown_pid))
        self.assertFalse(await manager.send_timeout_signal(unknown_pid, "timeout"))
        self.assertFalse(await manager.stop_process(unknown_pid))
        self.assertFalse(await manager.update_activity(unknown_pid))
        self.assertIsNone(await manager.remove_process(unknown_pid))
        # The procd-only calls raise.
        with self.assertRaises(NotFound):
            await manager.write_input(unknown_pid, b"x")
        with self.assertRaises(NotFound):
            await manager.get_output(unknown_pid)

    async def test_wrong_state_is_failed_precondition(self):
        manager = self.manager()
        p = await manager.start_process(ProcessConfig(command=["sleep", "30"], activity=["output"]))
        with self.assertRaises(FailedPrecondition):
            await manager.remove_process(p)
        with self.assertRaises(FailedPrecondition):
            await manager.write_input(p, b"data")  # stdin is not a pipe
        with self.assertRaises(FailedPrecondition) as cm:
            await manager.update_activity(p)  # heartbeat is not an activity source
        self.assertIn("heartbeat", cm.exception.message)
        await manager.stop_process(p, force=True)
        self.assertIsNotNone(await manager.remove_process(p))
        self.assertIsNone(await manager.get_process_status(p.pid))

    async def test_resume_point_out_of_range(self):
        manager = self.manager()
        for _ in range(10):  # 20 events through a 16-event ring
            p = await manager.start_process(ProcessConfig(command=["true"]))
            await manager.wait_for_process(p)
        with self.assertRaises(OutOfRange) as cm:
            async with manager.watch_events(after_seq=0) as events:
                async for _ in events:
                    pass
        self.assertIn("seq", cm.exception.message)

    async def test_unreachable_daemon_is_unavailable(self):
        socket = os.path.join(self.daemon.dir, "nobody-here.sock")
        manager = ProcessManager.create_with_config(socket=socket, rpc_timeout=10)
        self.addAsyncCleanup(manager.shutdown)
        with self.assertRaises(Unavailable) as cm:
            await manager.get_stats()
        self.assertIn(socket, cm.exception.message)
        self.assertIn("is procd running?", cm.exception.message)

    async def test_shut_down_manager_refuses_new_processes(self):
        manager = self.manager()
        await manager.shutdown()
        with self.assertRaises(ProcdError):
            await manager.start_process(ProcessConfig(command=["true"]))


if __name__ == "__main__":
    unittest.main()
