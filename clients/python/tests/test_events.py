"""watch_events yields procd's events as Event objects."""

from __future__ import annotations

import asyncio
import unittest

from _procd import ProcdTestCase

from procd_client import ProcessConfig, WatchdogConfig
from procd_client._pb import pb


class Events(ProcdTestCase):
    async def last_seq(self, manager) -> int:
        return (await manager.get_daemon_stats())["events"]["last_seq"]

    async def collect_until(self, stream, last_type: str, timeout: float = 15.0):
        """Events of ``stream`` up to and including the first of ``last_type``."""
        out = []

        async def run():
            async with stream:
                async for ev in stream:
                    out.append(ev)
                    if ev.type == last_type:
                        return

        await asyncio.wait_for(run(), timeout)
        return out

    async def collect(self, stream, n: int, timeout: float = 15.0):
        """The first ``n`` events of ``stream``."""
        out = []

        async def run():
            async with stream:
                async for ev in stream:
                    out.append(ev)
                    if len(out) == n:
                        return

        await asyncio.wait_for(run(), timeout)
        return out

    async def test_started_and_exited_replayed_after_seq(self):
        manager = self.manager()
        seq = await self.last_seq(manager)
        p = await manager.start_process(ProcessConfig(command=["sh", "-c", "exit 7"], name="evented", labels={"k": "v"}))
        events = await self.collect_until(manager.watch_events(after_seq=seq, process_ids=[p]), "exited")
        self.assertEqual([e.type for e in events], ["started", "exited"])
        started, exited = events
        self.assertGreater(started.seq, seq)
        self.assertGreater(exited.seq, started.seq)
        for e in events:
            self.assertEqual((e.process_id, e.pid, e.name, dict(e.labels)), (p.id, p.pid, "evented", {"k": "v"}))
        self.assertEqual(exited.exit["exit_code"], 7)
        self.assertEqual(exited.exit["returncode"], 7)
        self.assertEqual(exited.exit["reason"], "EXITED")
        self.assertGreaterEqual(exited.time, started.time)

    async def test_live_subscription(self):
        manager = self.manager()
        # The manager follows procd's events itself from its first start on
        # (to keep returncodes fresh): start one first, so it is counted in
        # "before".
        await manager.start_process(ProcessConfig(command=["true"], name="warm-up"))
        before = (await manager.get_daemon_stats())["events"]["subscribers"]
        stream = manager.watch_events(types=["started", "exited"], names=["live"])
        collected = asyncio.ensure_future(self.collect_until(stream, "exited"))

        async def subscribed():
            return (await manager.get_daemon_stats())["events"]["subscribers"] > before

        await self.eventually(subscribed, what="the subscription to reach procd")
        await manager.start_process(ProcessConfig(command=["true"], name="other"))  # filtered out
        p = await manager.start_process(ProcessConfig(command=["sh", "-c", "kill -KILL $$"], name="live"))
        events = await collected
        self.assertEqual([(e.type, e.process_id) for e in events], [("started", p.id), ("exited", p.id)])
        self.assertEqual(events[1].exit["signal"], "SIGKILL")
        self.assertEqual(events[1].exit["returncode"], -9)

        async def unsubscribed():
            return (await manager.get_daemon_stats())["events"]["subscribers"] == before

        await self.eventually(unsubscribed, what="the closed stream to end its subscription")

    async def test_watchdog_events(self):
        manager = self.manager()
        seq = await self.last_seq(manager)
        p = await manager.start_process(ProcessConfig(command=["sleep", "60"], watchdog=WatchdogConfig(process_timeout=0.3, extra_buffer=0.2)))
        events = await self.collect_until(manager.watch_events(after_seq=seq, process_ids=[p]), "exited")
        types = [e.type for e in events]
        self.assertEqual(types[0], "started")
        self.assertLess(types.index("slow"), types.index("hung"))
        self.assertLess(types.index("hung"), types.index("signal_sent"))
        hung = events[types.index("hung")]
        self.assertGreaterEqual(hung.idle, 0.5)
        self.assertEqual(events[types.index("signal_sent")].signal, "SIGTERM")
        self.assertEqual(events[-1].exit["reason"], "HUNG")

    async def test_batched_delivery(self):
        if "batch" not in pb.WatchEventsRequest.DESCRIPTOR.fields_by_name:
            self.skipTest("this API has no batched event delivery")
        manager = self.manager()
        seq = await self.last_seq(manager)
        procs = [await manager.start_process(ProcessConfig(command=["true"], name="batched")) for _ in range(5)]
        await asyncio.gather(*(manager.wait_for_process(p) for p in procs))
        events = await self.collect(manager.watch_events(after_seq=seq, names=["batched"], batch=True), 10)
        self.assertEqual([e.seq for e in events], sorted(e.seq for e in events))
        self.assertEqual(sorted(e.process_id for e in events if e.type == "exited"), sorted(p.id for p in procs))
        self.assertEqual(sum(e.type == "started" for e in events), 5)


if __name__ == "__main__":
    unittest.main()
