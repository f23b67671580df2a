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
    ProcessSignalError,
    ProcessStartError,
    Unavailable,
    WatchdogConfig,
)


class Errors(ProcdTestCase):
    # A small event ring, so that a resume point can fall out of it.
    daemon_args = ("--event-ring-size", "16")

    async def test_missing_executable_is_not_found(self):
        manager = self.manager()
        before = (await manager.get_daemon_stats())["processes"]
        with self.assertRaises(NotFound) as cm:
            await manager.start_process(ProcessConfig(command=["no-such-binary", "--flag"]))
        e = cm.exception
        # Both styles of except: the daemon's status and the original's class.
        self.assertIsInstance(e, ProcdError)
        self.assertIsInstance(e, ProcessStartError)
        self.assertEqual(type(e).__name__, "ProcessStartError")
        self.assertEqual(e.code, "95002")
        self.assertEqual(e.grpc_code, grpc.StatusCode.NOT_FOUND)
        self.assertIn("no-such-binary", e.message)
        self.assertTrue(str(e).startswith("Failed to start process unknown: "), str(e))
        self.assertEqual(e.context["command"], ["no-such-binary", "--flag"])
        self.assertIsInstance(e.__cause__, NotFound)
        # A failed start leaves no record behind, and is counted.
        after = (await manager.get_daemon_stats())["processes"]
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
        # An unknown kind is False, as in the original (no signal sent).
        self.assertFalse(await manager.send_timeout_signal(p.pid, "SIGNOPE"))
        # procd refuses it in a bulk call: both styles of except.
        with self.assertRaises(InvalidArgument) as cm:
            await manager.send_timeout_signal_to_all("SIGNOPE", daemon_wide=True)
        self.assertIsInstance(cm.exception, ProcessSignalError)
        self.assertIn("SIGNOPE", cm.exception.message)
        self.assertEqual(cm.exception.grpc_code.name, "INVALID_ARGUMENT")
        with self.assertRaises(InvalidArgument):
            await manager.start_process(ProcessConfig(command=[]))
        with self.assertRaises(InvalidArgument):
            await manager.start_process(ProcessConfig(command=["true"], watchdog=WatchdogConfig(process_timeout=-1.0)))
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
        self.assertIsNone(await manager.update_activity(unknown_pid))
        self.assertFalse(await manager.heartbeat(unknown_pid))
        self.assertIsNone(await manager.wait(unknown_pid))
        self.assertFalse(await manager.is_process_registered(unknown_pid))
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
            await manager.heartbeat(p)  # heartbeat is not an activity source
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
            await manager.get_daemon_stats()
        self.assertIn(socket, cm.exception.message)
        self.assertIn("is procd running?", cm.exception.message)
        with self.assertRaises(Unavailable) as cm:
            await manager.start_process(ProcessConfig(command=["true"]))
        self.assertIsInstance(cm.exception, ProcessStartError)
        self.assertIn("is procd running?", cm.exception.message)

    async def test_manager_stays_usable_after_shutdown(self):
        # As the original: shutdown stops and forgets the processes, and the
        # manager can start more afterwards (the connection reopens).
        manager = self.manager()
        p = await manager.start_process(ProcessConfig(command=["sleep", "30"]))
        await manager.shutdown()
        self.assertFalse(await manager.is_process_registered(p.pid))
        self.assertEqual(p.returncode, -15)
        q = await manager.start_process(ProcessConfig(command=["sleep", "30"]))
        self.assertTrue(await manager.is_process_registered(q.pid))
        await manager.shutdown()
        self.assertEqual(q.returncode, -15)


if __name__ == "__main__":
    unittest.main()
