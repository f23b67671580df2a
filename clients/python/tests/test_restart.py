"""A restart policy: the spec procd receives, and a crash loop end to end
(one id, every run listed, FAILED with CRASH_LOOP, the restarting events)."""

from __future__ import annotations

import asyncio
import unittest

from _procd import ProcdTestCase

from procd_client import ProcessConfig, RestartPolicy
from procd_client._convert import process_status
from procd_client._pb import pb


class RestartSpec(unittest.TestCase):
    def test_policy_to_spec(self) -> None:
        cfg = ProcessConfig(command=["./server"], restart=RestartPolicy(
            mode="on-failure", on=["nonzero", "startup-timeout"], delay=0.1, multiplier=2, max_delay=1,
            jitter=0, limit=5, window=60))
        r = cfg.to_spec().restart
        self.assertEqual(r.mode, pb.RESTART_MODE_ON_FAILURE)
        self.assertEqual(list(r.on), [pb.RESTART_FAILURE_NONZERO, pb.RESTART_FAILURE_STARTUP_TIMEOUT])
        self.assertEqual((r.delay.ToMilliseconds(), r.max_delay.ToMilliseconds(), r.window.seconds), (100, 1000, 60))
        self.assertTrue(r.HasField("jitter") and r.HasField("limit"))
        self.assertEqual((r.multiplier, r.jitter, r.limit), (2.0, 0.0, 5))
        self.assertFalse(r.HasField("reset_after"))
        self.assertFalse(ProcessConfig(command=["true"]).to_spec().HasField("restart"))
        with self.assertRaisesRegex(ValueError, "restart.mode"):
            ProcessConfig(command=["true"], restart=RestartPolicy(mode="sometimes")).to_spec()

    def test_backoff_reads_as_restarting(self) -> None:
        st = process_status(pb.Process(id="p-1", state=pb.PROCESS_STATE_BACKOFF, attempt=2))
        self.assertEqual((st["status"], st["attempt"]), ("restarting", 2))


class Restart(ProcdTestCase):
    async def test_crash_loop(self):
        manager = self.manager()
        seq = (await manager.get_daemon_stats())["events"]["last_seq"]
        p = await manager.start_process(ProcessConfig(command=["sh", "-c", "exit 3"], restart=RestartPolicy(
            delay=0.05, multiplier=2, jitter=0, limit=2)))
        self.assertEqual(await asyncio.wait_for(p.wait(), 30), 3)
        st = await manager.get_process_details(p.id)
        self.assertEqual((st["status"], st["state"], st["reason"]), ("finished", "failed", "CRASH_LOOP"))
        self.assertEqual([r["attempt"] for r in st["runs"]], [1, 2, 3])
        self.assertEqual([r["exit"]["exit_code"] for r in st["runs"]], [3, 3, 3])
        self.assertEqual(st["restart"]["restarts"], 2)
        self.assertEqual(st["restart"]["policy"]["limit"], 2)

        events = []

        async def run():
            async with manager.watch_events(after_seq=seq, process_ids=[p.id]) as stream:
                async for ev in stream:
                    events.append(ev)
                    if ev.type == "exited":
                        return

        await asyncio.wait_for(run(), 15)
        restarting = [e for e in events if e.type == "restarting"]
        self.assertEqual([e.delay for e in restarting], [0.05, 0.1])
        self.assertEqual([e.attempt for e in restarting], [2, 3])
        self.assertEqual([e.attempt for e in events if e.type == "started"], [1, 2, 3])
        self.assertEqual(events[-1].exit["reason"], "CRASH_LOOP")


if __name__ == "__main__":
    unittest.main()
