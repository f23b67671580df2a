"""Readiness: ProcessConfig.ready, wait_ready and wait_until_ready."""

from __future__ import annotations

import socket
import sys
import unittest
import urllib.request

from _procd import ProcdTestCase

from procd_client import ProcessConfig, ProcessStartError
from procd_client.config import readiness_probe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ready(ProcdTestCase):
    async def test_http_server_is_usable_when_start_returns(self):
        manager = self.manager()
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        p = await manager.start_process(
            ProcessConfig(
                command=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                name="web",
                ready=url,
                ready_interval=0.05,
                wait_ready=True,
            )
        )
        with urllib.request.urlopen(url, timeout=5) as resp:  # no retry: it must answer now
            self.assertEqual(resp.status, 200)
        st = await manager.get_process_details(p)
        self.assertEqual(st["status"], "running")
        self.assertEqual(st["state"], "running")
        self.assertIsNotNone(st["ready_at"])
        self.assertEqual(st["ready"]["http"], url)
        await manager.stop_process(p.pid)

    async def test_startup_timeout(self):
        manager = self.manager()
        cfg = ProcessConfig(command=["sleep", "60"], name="mute", ready=f"tcp:{free_port()}", startup_timeout=0.5, wait_ready=True)
        with self.assertRaises(ProcessStartError) as cm:
            await manager.start_process(cfg)
        self.assertIn("STARTUP_TIMEOUT", str(cm.exception))
        # The last probe's error is named: refused, or (on a loaded
        # machine, when the 0.5 s ran out mid-dial) a dial timeout.
        self.assertRegex(str(cm.exception), r"last probe: dial tcp [0-9.:]+: (connect: connection refused|i/o timeout)")

    async def test_wait_until_ready_and_starting(self):
        manager = self.manager()
        p = await manager.start_process(
            ProcessConfig(command=["sh", "-c", "sleep 0.5; echo up; sleep 60"], name="slow", ready="log:^up$")
        )
        st = await manager.get_process_details(p)
        self.assertEqual((st["status"], st["state"], st["ready_at"]), ("starting", "starting", None))
        st = await manager.wait_until_ready(p, timeout=20)
        self.assertTrue(st["is_ready"])
        self.assertFalse(st["timed_out"])
        self.assertEqual(st["state"], "running")
        await manager.stop_process(p.pid)

    def test_probe_syntax(self):
        self.assertTrue(readiness_probe("notify").notify)
        self.assertEqual(readiness_probe("tcp:8080").tcp, "8080")
        self.assertEqual(list(readiness_probe("exec:test -e /tmp/x").exec), ["test", "-e", "/tmp/x"])
        self.assertEqual(readiness_probe("log:ready", interval=0.1).interval.ToNanoseconds(), 100_000_000)
        for bad in ("", "tcp:", "udp:53", "exec:  "):
            with self.assertRaises(ValueError):
                readiness_probe(bad)


if __name__ == "__main__":
    unittest.main()
