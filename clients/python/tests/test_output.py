"""Output capture, stdin pipes, labels and environment."""

from __future__ import annotations

import os
import unittest

from _procd import ProcdTestCase

from procd_client import ProcessConfig


class Output(ProcdTestCase):
    async def test_read_captured_output(self):
        manager = self.manager()
        p = await manager.start_process(ProcessConfig(command=["sh", "-c", "echo out; echo err >&2; printf tail"]))
        self.assertEqual(await manager.wait_for_process(p), 0)
        self.assertEqual(await manager.get_output(p, "stdout"), b"out\ntail")
        self.assertEqual(await manager.get_output(p, "stderr"), b"err\n")
        chunks = [c async for c in manager.read_output(p.pid, tail_bytes=4)]
        self.assertEqual({(c.stream, c.data) for c in chunks}, {("stdout", b"tail"), ("stderr", b"err\n")})
        self.assertEqual([c.offset for c in chunks if c.stream == "stdout"], [4])

    async def test_follow_until_exit(self):
        manager = self.manager()
        p = await manager.start_process(
            ProcessConfig(command=["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.1; done"])
        )
        data = b"".join([c.data async for c in manager.read_output(p, "stdout", follow=True)])
        self.assertEqual(data, b"1\n2\n3\n")
        status = await manager.get_process_details(p)
        self.assertEqual((status["status"], status["stdout_bytes"]), ("finished", 6))

    async def test_stdin_pipe(self):
        manager = self.manager()
        p = await manager.start_process(ProcessConfig(command=["cat"], stdin_pipe=True))
        self.assertEqual(await manager.write_input(p, b"hello\n"), 6)
        await manager.write_input(p, "world\n", close=True)
        self.assertEqual(await manager.wait_for_process(p, timeout=10), 0)
        self.assertEqual(await manager.get_output(p), b"hello\nworld\n")

    async def test_environment_and_cwd_come_from_the_client(self):
        manager = self.manager()
        os.environ["PDPY_CLIENT_VAR"] = "from-client"
        self.addCleanup(os.environ.pop, "PDPY_CLIENT_VAR", None)
        p = await manager.start_process(
            ProcessConfig(command=["sh", "-c", 'echo "$PDPY_CLIENT_VAR $EXTRA"; pwd'], env={"EXTRA": "x"})
        )
        await manager.wait_for_process(p)
        self.assertEqual(await manager.get_output(p), f"from-client x\n{os.getcwd()}\n".encode())

        daemon_side = self.manager(inherit_context=False)
        q = await daemon_side.start_process(
            ProcessConfig(command=["sh", "-c", 'echo "${PDPY_CLIENT_VAR:-unset} $EXTRA"'], env={"EXTRA": "y"}, cwd="/")
        )
        await daemon_side.wait_for_process(q)
        self.assertEqual(await daemon_side.get_output(q), b"unset y\n")

    async def test_labels_and_cleanup(self):
        manager = self.manager()
        other = self.manager()
        a = await manager.start_process(ProcessConfig(command=["true"], labels={"campaign": "a"}))
        b = await manager.start_process(ProcessConfig(command=["sleep", "30"], labels={"campaign": "a"}))
        c = await other.start_process(ProcessConfig(command=["true"]))
        await manager.wait_for_process(a)
        await other.wait_for_process(c)
        listed = await manager.list_process_details(labels={"campaign": "a"})
        self.assertEqual([s["id"] for s in listed], [a.id, b.id])
        listed = await manager.list_processes(labels={"campaign": "a"})
        self.assertEqual([s["process"] for s in listed], [a, b])
        # Only this manager's finished process is removed.
        self.assertEqual(await manager.cleanup_finished_processes(), 1)
        self.assertIsNone(await manager.get_process_status(a.pid))
        self.assertIsNotNone(await manager.get_process_status(b.pid))
        self.assertIsNotNone(await other.get_process_status(c.pid))
        self.assertIsNone(await manager.stop_all_processes())
        self.assertEqual(b.returncode, -15)
        self.assertGreaterEqual(await other.cleanup_finished_processes(daemon_wide=True), 2)
        self.assertIsNone(await manager.get_process_details(b.pid))
        self.assertIsNone(await other.get_process_status(c.pid))


if __name__ == "__main__":
    unittest.main()
