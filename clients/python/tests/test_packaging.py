"""The package installs on its own, offline: a venv made from Debian's
interpreter with --system-site-packages (for python3-grpcio and
python3-protobuf), ``pip install --no-index ./clients/python``, and then the
installed copy (not the source tree) starts a process under a real procd."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

import _procd
from _procd import ProcdTestCase

PY = "/usr/bin/python3"


def _venv_available() -> bool:
    r = subprocess.run([PY, "-c", "import venv, ensurepip"], capture_output=True)
    return r.returncode == 0


class Packaging(ProcdTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        if not _venv_available():
            raise unittest.SkipTest("python3-venv is not installed (apt-get install python3-venv)")
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="pdpypkg")
        cls.venv = os.path.join(cls.tmp, "v")
        # No network anywhere: pip must not look for a build backend or a dependency.
        cls.env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
        cls.env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", no_proxy="*",
                       http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
        subprocess.run([PY, "-m", "venv", "--system-site-packages", cls.venv], check=True, env=cls.env)
        cls.install = subprocess.run(
            [os.path.join(cls.venv, "bin", "pip"), "install", "--no-index", _procd.CLIENT_DIR],
            capture_output=True, text=True, env=cls.env, cwd=cls.tmp,
        )

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(getattr(cls, "tmp", ""), ignore_errors=True)
        super().tearDownClass()

    def python(self, code: str) -> subprocess.CompletedProcess:
        # Run from the temporary directory so the source tree is not on the path.
        return subprocess.run(
            [os.path.join(self.venv, "bin", "python"), "-c", textwrap.dedent(code)],
            capture_output=True, text=True, env=dict(self.env, PROCD_SOCKET=self.daemon.socket), cwd=self.tmp,
        )

    def test_installs_offline_and_is_typed(self):
        self.assertEqual(self.install.returncode, 0, self.install.stdout + self.install.stderr)
        r = self.python(
            """
            import importlib.metadata as md, os, procd_client
            d = os.path.dirname(procd_client.__file__)
            print("/v/lib/" in d and "site-packages" in d)  # the installed copy
            print(procd_client.__version__, procd_client.API_PACKAGE, md.version("procd-client"))
            print(os.path.exists(os.path.join(d, "py.typed")), os.path.exists(os.path.join(d, "_gen", "procd", "v1", "procd_pb2.pyi")))
            print(sorted(r.split(">=")[0] for r in md.requires("procd-client")))
            from procd_client.fuzz_engine.runtime.config import merge_env
            from procd_client.exceptions import ProcessStartError
            print(ProcessStartError.code)
            """
        )
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        from procd_client import __version__

        self.assertEqual(lines, ["True", f"{__version__} procd.v1 {__version__}", "True True", "['grpcio', 'protobuf']", "95002"])
        self.assertTrue(__version__.startswith("1."), "1.x speaks procd.v1")

    def test_installed_copy_starts_a_process(self):
        self.assertEqual(self.install.returncode, 0, self.install.stderr)
        r = self.python(
            """
            import asyncio, procd_client
            from procd_client import ProcessManager, ProcessConfig

            async def main():
                m = ProcessManager.from_config()
                p = await m.start_process(ProcessConfig(["sh", "-c", "sleep 0.3; echo packaged"]))
                print((await m.wait(p.pid)).exit_code, (await p.stdout.read()).decode().strip())
                await m.shutdown()

            asyncio.run(main())
            """
        )
        self.assertEqual((r.returncode, r.stdout), (0, "0 packaged\n"), r.stderr)


if __name__ == "__main__":
    unittest.main()
