"""Configuration and spec mapping, without a daemon; and the generated code."""

from __future__ import annotations

import os
import subprocess
import unittest

import _procd  # noqa: F401  (puts procd_client on sys.path, or skips without grpc)

from procd_client import ClientConfig, ProcessConfig, ProcessManager, WatchdogConfig, default_socket
from procd_client._pb import pb


class DefaultSocket(unittest.TestCase):
    def test_like_procd(self):
        self.assertEqual(default_socket(0, {"XDG_RUNTIME_DIR": "/run/user/0"}), "/run/procd/procd.sock")
        self.assertEqual(default_socket(1000, {"XDG_RUNTIME_DIR": "/run/user/1000"}), "/run/user/1000/procd/procd.sock")
        self.assertEqual(default_socket(1000, {"XDG_RUNTIME_DIR": "relative"}), "/tmp/procd-1000/procd.sock")
        self.assertEqual(default_socket(1000, {}), "/tmp/procd-1000/procd.sock")
        self.assertEqual(default_socket(1000, {"TMPDIR": "/var/tmp"}), "/var/tmp/procd-1000/procd.sock")

    def test_environment_overrides(self):
        env = {"PROCD_SOCKET": "/s/procd.sock", "PROCD_TOKEN_FILE": "/t"}
        c = ClientConfig().resolve(env)
        self.assertEqual((c.socket, c.address, c.token_file, c.inherit_context), ("/s/procd.sock", None, "/t", True))
        c = ClientConfig().resolve({"PROCD_ADDR": "127.0.0.1:7000", "PROCD_SOCKET": "/s", "PROCD_TLS_CA": "/ca"})
        self.assertEqual((c.address, c.socket, c.tls_ca, c.inherit_context), ("127.0.0.1:7000", None, "/ca", False))
        # Explicit arguments win over the environment.
        c = ClientConfig(socket="/mine.sock").resolve({"PROCD_ADDR": "127.0.0.1:7000"})
        self.assertEqual((c.socket, c.address), ("/mine.sock", None))
        c = ClientConfig().resolve({})
        self.assertEqual(c.socket, default_socket(environ={}))

    def test_factories(self):
        m = ProcessManager.create_with_config(WatchdogConfig(process_timeout=7.0), socket="/x.sock")
        self.assertEqual((m.config.socket, m.watchdog_config.process_timeout), ("/x.sock", 7.0))
        m = ProcessManager.from_config(WatchdogConfig(extra_buffer=1.0))
        self.assertEqual(m.watchdog_config.extra_buffer, 1.0)
        m = ProcessManager.from_config({"socket": "/y.sock", "watchdog_process_timeout": 9.0, "process_timeout": 1.0})
        self.assertEqual((m.config.socket, m.watchdog_config.process_timeout), ("/y.sock", 9.0))
        m = ProcessManager.from_config(config_dict={"address": "h:1", "watchdog": {"auto_kill": False}})
        self.assertEqual((m.config.address, m.watchdog_config.auto_kill), ("h:1", False))
        with self.assertRaises(ValueError):
            ProcessManager.create_with_config(WatchdogConfig(), watchdog=WatchdogConfig())


class SpecMapping(unittest.TestCase):
    def test_original_fields(self):
        spec = ProcessConfig(
            command=["python3", "script.py"], cwd="/srv", env={"A": "1"}, timeout=60.0, auto_kill=False, name="py"
        ).to_spec(WatchdogConfig(process_timeout=7.0))
        self.assertEqual(list(spec.command), ["python3", "script.py"])
        self.assertEqual((spec.cwd, dict(spec.env), spec.name, spec.clear_env), ("/srv", {"A": "1"}, "py", False))
        # timeout and auto_kill are not read, as in the released runtime: the
        # manager's WatchdogConfig applies.
        self.assertEqual(spec.timeout.seconds, 7)
        self.assertTrue(spec.HasField("auto_kill"))
        self.assertTrue(spec.auto_kill)
        # A per-process WatchdogConfig (procd extra) replaces the manager's.
        own = WatchdogConfig(process_timeout=60.0, auto_kill=False)
        spec = ProcessConfig(command=["x"], watchdog=own).to_spec(WatchdogConfig(process_timeout=7.0))
        self.assertEqual((spec.timeout.seconds, spec.auto_kill), (60, False))

    def test_watchdog_defaults_fill_unset_fields(self):
        spec = ProcessConfig(command=["x"]).to_spec(WatchdogConfig(process_timeout=1.5, extra_buffer=0.25))
        self.assertEqual((spec.timeout.seconds, spec.timeout.nanos), (1, 500_000_000))
        self.assertEqual(spec.extra_buffer.nanos, 250_000_000)
        self.assertEqual(spec.max_hang_time.seconds, 60)
        self.assertTrue(spec.auto_kill)
        # None in the WatchdogConfig leaves the field to the daemon.
        spec = ProcessConfig(command=["x"]).to_spec(WatchdogConfig(process_timeout=None, auto_kill=None))
        self.assertFalse(spec.HasField("timeout"))
        self.assertFalse(spec.HasField("auto_kill"))
        # 0 is kept: it turns hang detection off.
        spec = ProcessConfig(command=["x"], watchdog=WatchdogConfig(process_timeout=0)).to_spec(WatchdogConfig())
        self.assertTrue(spec.HasField("timeout"))
        self.assertEqual(spec.timeout.seconds, 0)

    def test_procd_extras(self):
        spec = ProcessConfig(
            command=["x"],
            labels={"campaign": "a"},
            deadline=2.0,
            activity=["cpu"],
            activity_callback=lambda: True,
            kill_mode="leader",
            stop_signal="SIGINT",
            grace=0.5,
            stdin_pipe=True,
            rlimits={"NOFILE": 64, "AS": (1, 2)},
            log_files=True,
        ).to_spec()
        self.assertEqual(dict(spec.labels), {"campaign": "a"})
        self.assertEqual(spec.deadline.seconds, 2)
        self.assertEqual(list(spec.activity), [pb.ACTIVITY_SOURCE_CPU, pb.ACTIVITY_SOURCE_HEARTBEAT])
        self.assertEqual(spec.kill_mode, pb.KILL_MODE_LEADER)
        self.assertEqual((spec.stop_signal, spec.grace.nanos, spec.stdin), ("SIGINT", 500_000_000, pb.STDIN_MODE_PIPE))
        self.assertEqual([(r.name, r.soft, r.hard) for r in spec.rlimits], [("NOFILE", 64, 64), ("AS", 1, 2)])
        self.assertTrue(spec.log_files)

    def test_inherited_context(self):
        spec = ProcessConfig(command=["x"], env={"B": "2"}).to_spec(base_env={"A": "1", "B": "1"}, default_cwd="/here")
        self.assertEqual((dict(spec.env), spec.clear_env, spec.cwd), ({"A": "1", "B": "2"}, True, "/here"))
        spec = ProcessConfig(command=["x"], env={"B": "2"}, clear_env=True).to_spec(base_env={"A": "1"})
        self.assertEqual((dict(spec.env), spec.clear_env), ({"B": "2"}, True))

    def test_bad_values(self):
        with self.assertRaises(TypeError):
            ProcessConfig(command="sleep 1").to_spec()
        with self.assertRaises(TypeError):
            ProcessConfig(command=["x"], env={"A": 1}).to_spec()
        with self.assertRaises(ValueError):
            ProcessConfig(command=["x"], activity=["telepathy"]).to_spec()
        with self.assertRaises(ValueError):
            WatchdogConfig(check_interval=0)


class Tokens(unittest.TestCase):
    """Token files in procd's format, and no token in clear off loopback."""

    def write(self, text):
        import tempfile

        fd, path = tempfile.mkstemp()
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self.addCleanup(os.remove, path)
        return path

    def test_token_file_formats(self):
        secret = "ci-0123456789abcdef"
        for text in (secret + "\n", f"# name role token\nci control {secret}\n", f"\nviewer read {secret}\n"):
            c = ClientConfig(address="127.0.0.1:7000", token_file=self.write(text))
            self.assertEqual(c.bearer_token(), secret, text)

    def test_bad_token_files(self):
        for text, want in (
            ("", "no token"),
            ("ci control short\n", "at least 16"),
            ("ci admin ci-0123456789abcdef\n", "unknown role 'admin'"),
            ("ci control\n", "found 2 fields"),
            ("a control a-0123456789abcdef\nb read b-0123456789abcdef\n", "holds 2 tokens"),
        ):
            c = ClientConfig(address="127.0.0.1:7000", token_file=self.write(text))
            with self.assertRaisesRegex(ValueError, want):
                c.bearer_token()

    def test_no_token_in_clear_off_loopback(self):
        secret = "ci-0123456789abcdef"
        with self.assertRaisesRegex(ValueError, "refusing to send the bearer token in clear to 10.0.0.1:7443"):
            ClientConfig(address="10.0.0.1:7443", token=secret).bearer_token()
        with self.assertRaisesRegex(ValueError, "in clear to procd.example:7443"):
            ClientConfig(address="procd.example:7443", token=secret).bearer_token()
        for address in ("127.0.0.1:7443", "127.8.9.1:1", "localhost:7443", "[::1]:7443"):
            self.assertEqual(ClientConfig(address=address, token=secret).bearer_token(), secret, address)
        self.assertEqual(ClientConfig(address="10.0.0.1:7443", tls_ca="/ca.pem", token=secret).bearer_token(), secret)


class DeniedEnvironment(unittest.TestCase):
    def test_non_root_skips_the_deny_list(self):
        from procd_client import client_environment

        env = {"PATH": "/bin", "LD_PRELOAD": "x.so", "BASH_FUNC_ls%%": "() { :; }", "PYTHONPATH": "/x",
               "GLIBC_TUNABLES": "x", "IFS": ":", "LDX": "kept", "NOTIFY_SOCKET": "/n"}
        self.assertEqual(client_environment(env, uid=1000), {"PATH": "/bin", "LDX": "kept"})
        root = client_environment(env, uid=0)
        self.assertEqual(set(root), set(env) - {"NOTIFY_SOCKET"})


class GeneratedCode(unittest.TestCase):
    def test_regeneration_reproduces_committed_files(self):
        for tool in ("/usr/bin/protoc", "/usr/bin/grpc_python_plugin"):
            if not os.access(tool, os.X_OK):
                self.skipTest(f"{tool} is not installed (apt-get install protobuf-compiler protobuf-compiler-grpc)")
        if not os.environ.get("PROTOC_INCLUDE") and not os.path.exists("/usr/include/google/protobuf/duration.proto"):
            self.skipTest("the well-known protos are not installed (apt-get install libprotobuf-dev)")
        script = os.path.join(_procd.CLIENT_DIR, "generate.sh")
        r = subprocess.run([script, "--check"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
