"""Sessions: lossless pipes to a process procd starts, on the local fast
path (our own pipes handed to procd) and on the Attach stream."""

from __future__ import annotations

import hashlib
import os
import signal
import unittest

from _procd import ProcdTestCase

from procd_client import NotFound, ProcessConfig

ECHO = [
    "python3",
    "-c",
    "import sys\nfor line in sys.stdin:\n    sys.stdout.write(line); sys.stdout.flush()\nsys.stderr.write('bye\\n')",
]


class Sessions(ProcdTestCase):
    async def _echo(self, local_pipes):
        manager = self.manager()
        s = await manager.open_session(ProcessConfig(command=ECHO, name="echo"), local_pipes=local_pipes)
        self.assertEqual(s.local_pipes, bool(local_pipes), s.local_pipes_reason)
        big = os.urandom(3 << 20).hex().encode() + b"\n"  # one 6 MiB line, then small ones
        s.stdin.write(big)
        await s.stdin.drain()
        self.assertEqual(await s.stdout.readexactly(len(big)), big)
        for i in range(200):
            s.stdin.write(b"request %d\n" % i)
            await s.stdin.drain()
            self.assertEqual(await s.stdout.readline(), b"request %d\n" % i)
        s.stdin.close()
        self.assertEqual(await s.wait(), 0)
        self.assertEqual(await s.stderr.read(), b"bye\n")
        self.assertEqual(await s.stdout.read(), b"")
        self.assertEqual(s.record.name, "echo")

    async def test_local_pipes(self):
        await self._echo(True)

    async def test_stream(self):
        await self._echo(False)

    async def test_every_byte_of_a_fast_writer(self):
        # 50 MB as fast as the process can write, read in full: a pipe, not
        # a record (the ring is 1 MiB), on both paths.
        manager = self.manager()
        for local in (True, False):
            s = await manager.open_session(
                ProcessConfig(command=["sh", "-c", "head -c 50000000 /dev/urandom | tee /dev/stderr"]),
                stdin=False, local_pipes=local)
            out, err = hashlib.sha256(), hashlib.sha256()
            n = 0
            while chunk := await s.stdout.read(1 << 16):
                out.update(chunk)
                n += len(chunk)
                err.update(await s.stderr.readexactly(len(chunk)))
            err.update(await s.stderr.read())
            self.assertEqual(await s.wait(), 0)
            self.assertEqual((n, out.hexdigest()), (50000000, err.hexdigest()), f"local_pipes={local}")

    async def test_closing_the_session_stops_a_bound_process(self):
        manager = self.manager()
        s = await manager.open_session(ProcessConfig(command=["sleep", "1000"], grace=0.2))
        pid = s.pid
        await s.close()
        async def gone():
            return not _alive(pid)

        await self.eventually(gone, what="the bound process stopped")
        status = await manager.get_process_details(s.id)
        self.assertEqual(status["exit"]["reason"], "CLIENT_GONE")

    async def test_closing_the_session_ends_input(self):
        # A stdio server exits at end of input: close() must not leave it
        # to be stopped as CLIENT_GONE, on either path.
        manager = self.manager()
        for local in (True, False):
            s = await manager.open_session(ProcessConfig(command=["sh", "-c", "cat; echo stdin-eof"]), local_pipes=local)
            await s.close()

            async def finished():
                return (await manager.get_process_details(s.id))["status"] == "finished"

            await self.eventually(finished, what="the server ended")
            status = await manager.get_process_details(s.id)
            self.assertEqual((status["reason"], status["exit_code"]), ("EXITED", 0), f"local_pipes={local}")

    async def test_refused_start(self):
        manager = self.manager()
        with self.assertRaises(NotFound):
            await manager.open_session(ProcessConfig(command=["/nonexistent/server"]))

    async def test_signal_returncode(self):
        manager = self.manager()
        s = await manager.open_session(ProcessConfig(command=["sh", "-c", "kill -TERM $$"]), stdin=False)
        self.assertEqual(await s.wait(), -signal.SIGTERM)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


if __name__ == "__main__":
    unittest.main()
