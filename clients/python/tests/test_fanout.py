"""AsyncFuzzExecutor(endpoints=...): one batch over several daemons on
loopback TCP, with a token file in procd's NAME ROLE TOKEN format."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import unittest

import _procd  # noqa: F401  (puts procd_client on sys.path, or skips without grpc)
from _procd import Daemon

from procd_client import AsyncFuzzExecutor, ProcessManager
from procd_client._fanout import resolve_endpoints

SECRET = "fan-0123456789abcdef"


def tcp_address(d: Daemon) -> str:
    for line in d.logs().splitlines():
        if "procd started" in line:
            m = re.search(r"127\.0\.0\.1:\d+", line)
            if m:
                return m.group(0)
    raise AssertionError(f"no TCP listener in procd's start line:\n{d.logs()}")


class FanOut(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.dir = tempfile.mkdtemp(prefix="pdfan", dir="/tmp")
        tokens = os.path.join(cls.dir, "tokens")
        with open(tokens, "w") as f:
            f.write(f"# procd's file\nfan control {SECRET}\n")
        os.chmod(tokens, 0o600)
        cls.token_file = os.path.join(cls.dir, "fan.token")
        with open(cls.token_file, "w") as f:
            f.write(f"fan control {SECRET}\n")
        cls.args = ("--listen", "127.0.0.1:0", "--insecure", "--token-file", tokens)
        cls.daemons = []
        for _ in range(3):
            cls.daemons.append(Daemon(*cls.args))
        cls.addrs = [tcp_address(d) for d in cls.daemons]

    @classmethod
    def tearDownClass(cls) -> None:
        for d in cls.daemons:
            rc = d.stop()
            d.cleanup()
            if rc != 0:
                raise AssertionError(f"procd exited {rc} after SIGTERM")

    def executor(self, endpoints, **kwargs) -> AsyncFuzzExecutor:
        manager = ProcessManager.create_with_config(address=self.addrs[0], token_file=self.token_file)
        self.addAsyncCleanup(manager.shutdown)
        ex = AsyncFuzzExecutor(manager=manager, endpoints=endpoints, **kwargs)
        self.addAsyncCleanup(ex.shutdown)
        return ex

    async def test_spread_keyed_by_index(self):
        ex = self.executor(self.addrs)
        n = 150
        jobs = [f"exit {i % 2}" if i % 50 == 7 else "sleep 0.01" for i in range(n)]
        s = await ex.run_batch(jobs, max_concurrency_per_daemon=2, labels={"campaign": "py"})
        self.assertEqual([o["index"] for o in s["outcomes"]], list(range(n)))
        want_failed = [i for i in range(n) if i % 50 == 7]
        self.assertEqual(s["errors"], want_failed)
        self.assertEqual(s["results"], [i for i in range(n) if i not in want_failed])
        for o in s["outcomes"]:
            self.assertIn(o["daemon"], self.addrs, o)
            self.assertEqual(o["outcome"], "exit_code" if o["index"] in want_failed else "succeeded", o)
        self.assertEqual([d["address"] for d in s["daemons"]], self.addrs)
        self.assertEqual(sum(d["jobs"] for d in s["daemons"]), n)
        for d in s["daemons"]:
            self.assertGreater(d["jobs"], n // 5, s["daemons"])  # every daemon took a fair share
            self.assertEqual(d["lost"], "")
        self.assertEqual((s["rerouted"], s["failed"], s["stopped"]), (0, len(want_failed), ""))
        # A job is an ordinary process of the daemon that ran it, labelled
        # with the fan-out and its index.
        o = s["outcomes"][3]
        m = ProcessManager.create_with_config(address=o["daemon"], token_file=self.token_file)
        self.addAsyncCleanup(m.shutdown)
        labels = (await m.get_process_details(o["process_id"]))["labels"]
        self.assertEqual((labels["procd.fanout"], labels["procd.fanout.job"], labels["campaign"]), (s["batch_id"], "3", "py"))

    async def test_total_limit(self):
        ex = self.executor(self.addrs)
        s = await ex.run_batch(["true"] * 9, max_concurrency=1)
        self.assertEqual(s["succeeded"], 9)
        with self.assertRaisesRegex(ValueError, "max_concurrency_per_daemon=0: at least 1"):
            await ex.run_batch(["true"], max_concurrency_per_daemon=0)

    async def test_daemon_lost_mid_batch(self):
        victim = await asyncio.get_running_loop().run_in_executor(None, lambda: Daemon(*self.args))
        self.addCleanup(victim.cleanup)
        self.addCleanup(victim.stop)
        gone = tcp_address(victim)
        ex = self.executor([self.addrs[0], gone])
        watch = ProcessManager.create_with_config(socket=victim.socket)
        self.addAsyncCleanup(watch.shutdown)
        n = 60
        batch = asyncio.ensure_future(ex.run_batch(["sleep 0.05"] * n, max_concurrency_per_daemon=2, retries=1))

        async def victim_busy():
            return len(await watch.list_processes(daemon_wide=True)) >= 6

        await asyncio.wait_for(self._until(victim_busy), 60)
        victim.proc.kill()  # SIGKILL: no goodbye
        victim.proc.wait()
        s = await asyncio.wait_for(batch, 120)
        self.assertEqual(s["succeeded"], n, [o for o in s["outcomes"] if not o["ok"]])
        lost = s["daemons"][1]
        self.assertEqual(lost["address"], gone)
        self.assertIn(f"procd at {gone} went away", lost["lost"])
        self.assertGreaterEqual(lost["lost_jobs"], 1)
        self.assertEqual(s["rerouted"], lost["lost_jobs"])
        self.assertLess(lost["jobs"], n / 2)
        self.assertEqual(s["daemons"][0]["jobs"] + lost["jobs"], n)

    async def test_a_name_resolves_to_every_address(self):
        ends = await resolve_endpoints("localhost:7443")
        self.assertIn(("127.0.0.1:7443", "localhost"), ends)
        self.assertEqual(await resolve_endpoints(["a:1", "b:2"]), [("a:1", None), ("b:2", None)])
        with self.assertRaisesRegex(ValueError, "twice"):
            await resolve_endpoints(["a:1", "a:1"])
        # Every address localhost resolves to is tried; those where no procd
        # listens are dropped without costing a job an attempt.
        port = self.addrs[1].rsplit(":", 1)[1]
        s = await self.executor(f"localhost:{port}").run_batch(["true"] * 6)
        self.assertEqual(s["succeeded"], 6, s)

    async def _until(self, probe):
        while not await probe():
            await asyncio.sleep(0.02)


if __name__ == "__main__":
    unittest.main()
