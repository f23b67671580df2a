"""Test harness: a real procd on a short temporary socket.

The binary is $PROCD_BIN, or built once per test run with
``go build -o <tmp>/procd ./cmd/procd`` from the repository root. Each test
class gets its own daemon (setUpClass), stopped with SIGTERM at the end
(tearDownClass fails unless it exits 0 without a panic).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(CLIENT_DIR))
if CLIENT_DIR not in sys.path:
    sys.path.insert(0, CLIENT_DIR)

try:
    import grpc  # noqa: E402
except ImportError:  # pragma: no cover - depends on the machine
    raise unittest.SkipTest("python3-grpcio is not installed (apt-get install python3-grpcio python3-protobuf)")

from procd_client import ProcessManager  # noqa: E402
from procd_client._pb import pb, pb_grpc  # noqa: E402

_built: "str | None" = None


def procd_binary() -> str:
    """$PROCD_BIN, or a procd built from this repository (once)."""
    global _built
    env = os.environ.get("PROCD_BIN")
    if env:
        if not os.access(env, os.X_OK):
            raise RuntimeError(f"PROCD_BIN={env} is not an executable")
        return env
    if _built is None:
        d = tempfile.mkdtemp(prefix="pdpybin")
        atexit.register(shutil.rmtree, d, True)
        out = os.path.join(d, "procd")
        subprocess.run(["go", "build", "-o", out, "./cmd/procd"], cwd=REPO, check=True)
        _built = out
    return _built


class Daemon:
    """A procd process serving on a temporary Unix socket."""

    def __init__(self, *args: str):
        # sun_path holds 108 bytes: keep the directory short.
        self.dir = tempfile.mkdtemp(prefix="pdpy", dir="/tmp")
        self.socket = os.path.join(self.dir, "procd.sock")
        self.log_path = os.path.join(self.dir, "procd.log")
        argv = [
            procd_binary(),
            "--socket", self.socket,
            "--state-dir", os.path.join(self.dir, "state"),
            "--log-format", "console",
            "--log-level", "debug",
            *args,
        ]
        self._log = open(self.log_path, "wb")
        # A session of its own keeps terminal signals away from it.
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_serving()
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            raise

    def _wait_serving(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel("unix:" + self.socket) as channel:
            stub = pb_grpc.ProcessServiceStub(channel)
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"procd exited with {self.proc.returncode} during start:\n{self.logs()}")
                try:
                    stub.GetStats(pb.GetStatsRequest(), timeout=1.0)
                    return
                except grpc.RpcError as e:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"procd not serving after {timeout}s: {e}\n{self.logs()}")
                time.sleep(0.02)

    def logs(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self) -> int:
        """SIGTERM, then the exit status (SIGKILL after 30 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"procd did not exit within 30s of SIGTERM\n{self.logs()}")
        self._log.close()
        return self.proc.returncode

    def cleanup(self) -> None:
        if not os.environ.get("PDPY_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


class ProcdTestCase(unittest.IsolatedAsyncioTestCase):
    """A test class with its own procd; ``self.manager()`` connects to it."""

    daemon_args: "tuple[str, ...]" = ()
    daemon: Daemon

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.daemon = Daemon(*cls.daemon_args)

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            rc = cls.daemon.stop()
            logs = cls.daemon.logs()
        finally:
            cls.daemon.cleanup()
        super().tearDownClass()
        if rc != 0:
            raise AssertionError(f"procd exited {rc} after SIGTERM (want 0)\n{logs}")
        if "panic" in logs:
            raise AssertionError(f"procd logged a panic:\n{logs}")

    def manager(self, **kwargs) -> ProcessManager:
        """A ProcessManager on this class's daemon, shut down after the test.

        Unless the test says otherwise, early_exit_check is 0 (procd's own
        behaviour: a process that exits at once is still a successful start),
        because many tests start short commands; the compatibility tests use
        the released runtime's default (0.1 s) explicitly."""
        kwargs.setdefault("early_exit_check", 0)
        m = ProcessManager.create_with_config(socket=self.daemon.socket, **kwargs)
        self.addAsyncCleanup(m.shutdown)
        return m

    async def eventually(self, probe, *, timeout: float = 10.0, interval: float = 0.02, what: str = "a condition"):
        """Polls ``probe`` (a coroutine function) until it returns a truthy
        value, which is returned; fails the test after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = await probe()
            if value:
                return value
            if loop.time() > deadline:
                self.fail(f"timed out after {timeout}s waiting for {what} (last value: {value!r})")
            await asyncio.sleep(interval)
