"""A LOST record (procd died while the process ran; a restarted procd
found only its record) reads as gone, with no return code."""

from __future__ import annotations

import unittest

from procd_client._convert import process_status
from procd_client._gen.procd.v1 import procd_pb2 as pb
from procd_client._process import ProcessHandle


class Lost(unittest.TestCase):
    def record(self) -> pb.Process:
        p = pb.Process(id="p-7", pid=42, state=pb.PROCESS_STATE_LOST, restored=True,
                       last_state=pb.PROCESS_STATE_RUNNING)
        p.lost_at.GetCurrentTime()
        return p

    def test_status_says_lost(self) -> None:
        st = process_status(self.record())
        self.assertEqual(st["status"], "lost")
        self.assertIsNone(st["exit_code"])
        self.assertTrue(st["restored"])

    def test_handle_is_lost_without_returncode(self) -> None:
        running = pb.Process(id="p-7", pid=42, state=pb.PROCESS_STATE_RUNNING)
        h = ProcessHandle(None, running, None)  # type: ignore[arg-type]
        self.assertFalse(h.lost)
        h._observe(self.record())
        self.assertTrue(h.lost)
        self.assertIsNone(h.returncode)


if __name__ == "__main__":
    unittest.main()
