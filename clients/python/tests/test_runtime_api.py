"""The released runtime's API (shared/seed/runtime-api-v0.7.md), entry by
entry, against a real procd: import paths, signatures and defaults, return
shapes, exceptions and codes. Then a script written for the original, run
unchanged but for its import line (and fully unchanged behind the one-line
sys.modules alias), whose output is compared field by field with what the
original prints.

Signatures: the original's parameters must come first, with the same names,
kinds, order and defaults; procd_client may add keyword-only parameters with
defaults after them (callers of the original cannot tell).
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import inspect
import logging
import os
import pathlib
import signal
import subprocess
import sys
import time
import unittest

import _procd
from _procd import ProcdTestCase

import procd_client
from procd_client import (
    AsyncFuzzExecutor,
    NotFound,
    ProcdError,
    ProcessCompletionResult,
    ProcessConfig,
    ProcessConfigBuilder,
    ProcessHandle,
    ProcessManager,
    ProcessRegistry,
    ProcessWatchdog,
    SignalDispatcher,
    WatchdogConfig,
)

P = inspect.Parameter
POS = P.POSITIONAL_OR_KEYWORD
KW = P.KEYWORD_ONLY
REQ = P.empty

RUNTIME_ALL = [
    "ProcessWatchdog",
    "WatchdogConfig",
    "ProcessManager",
    "ProcessConfig",
    "ProcessConfigBuilder",
    "ProcessInspector",
    "ProcessLifecycle",
    "SignalDispatcher",
    "ProcessRegistry",
    "ProcessRecord",
]

SUBMODULES = {
    "config": ["ProcessConfig", "WatchdogConfig", "ProcessConfigBuilder", "merge_env"],
    "manager": ["ProcessManager", "ProcessConfig", "WatchdogConfig"],
    "registry": ["ProcessRegistry", "ProcessRecord"],
    "lifecycle": ["ProcessLifecycle"],
    "monitor": ["ProcessInspector", "ProcessCompletionResult"],
    "signals": ["SignalDispatcher", "ProcessSignalStrategy", "TermSignalStrategy", "KillSignalStrategy", "InterruptSignalStrategy"],
    "watchdog": ["ProcessWatchdog", "wait_for_process_exit"],
}

EXCEPTIONS = [
    # class, parent, code
    ("MCPError", None, None),
    ("RuntimeSubsystemError", "MCPError", "95001"),
    ("ProcessStartError", "RuntimeSubsystemError", "95002"),
    ("ProcessStopError", "RuntimeSubsystemError", "95003"),
    ("ProcessSignalError", "RuntimeSubsystemError", "95004"),
    ("ProcessRegistrationError", "RuntimeSubsystemError", "95005"),
    ("WatchdogStartError", "RuntimeSubsystemError", "95006"),
    ("MCPTimeoutError", "MCPError", "30001"),
    ("ProcessTimeoutError", "MCPTimeoutError", "30002"),
    ("FuzzingError", "MCPError", "90001"),
    ("ExecutorError", "FuzzingError", "90003"),
]


class SignatureMixin:
    def assert_signature(self, fn, expected, optional_ok=()):
        """``expected``: [(name, kind, default)] of the original, in order.
        ``optional_ok``: parameters the original requires that procd_client
        lets callers omit (for the design document's call forms)."""
        params = list(inspect.signature(fn).parameters.values())
        if params and params[0].name in ("self", "cls"):
            params = params[1:]
        got = [
            (p.name, p.kind, REQ if p.name in optional_ok else p.default) for p in params[: len(expected)]
        ]
        self.assertEqual(got, expected, f"signature of {fn.__qualname__}")
        for p in params[len(expected):]:
            self.assertEqual(p.kind, KW, f"{fn.__qualname__}: extra parameter {p.name} must be keyword-only")
            self.assertIsNot(p.default, REQ, f"{fn.__qualname__}: extra parameter {p.name} needs a default")

    def assert_coroutine(self, fn, is_coroutine=True):
        self.assertEqual(inspect.iscoroutinefunction(fn), is_coroutine, fn.__qualname__)


# ---------------------------------------------------------------- §1 import map


class ImportMap(SignatureMixin, unittest.TestCase):
    def test_runtime_all_from_every_layout(self):
        for path in ("procd_client.runtime", "procd_client.fuzz_engine.runtime"):
            mod = importlib.import_module(path)
            self.assertEqual(sorted(mod.__all__), sorted(RUNTIME_ALL), path)
            for name in RUNTIME_ALL:
                self.assertIs(getattr(mod, name), getattr(procd_client, name), f"{path}.{name}")

    def test_submodules(self):
        for base in ("procd_client.runtime", "procd_client.fuzz_engine.runtime"):
            for sub, names in SUBMODULES.items():
                mod = importlib.import_module(f"{base}.{sub}")
                for name in names:
                    self.assertIs(getattr(mod, name), getattr(procd_client, name), f"{base}.{sub}.{name}")
        from procd_client.runtime.config import merge_env  # the brief's example
        self.assertIs(merge_env, procd_client.merge_env)

    def test_fuzz_engine_executor_and_exceptions(self):
        from procd_client import fuzz_engine
        from procd_client.fuzz_engine.executor import AsyncFuzzExecutor as E1
        from procd_client.fuzz_engine.executor.async_executor import AsyncFuzzExecutor as E2
        from procd_client.executor.async_executor import AsyncFuzzExecutor as E3

        self.assertEqual(sorted(fuzz_engine.__all__), ["AsyncFuzzExecutor", "ProcessManager", "ProcessWatchdog"])
        self.assertIs(fuzz_engine.ProcessManager, ProcessManager)
        self.assertIs(fuzz_engine.ProcessWatchdog, ProcessWatchdog)
        self.assertTrue(E1 is E2 is E3 is AsyncFuzzExecutor)
        exceptions = importlib.import_module("procd_client.exceptions")
        for name, _, _ in EXCEPTIONS:
            self.assertIs(getattr(exceptions, name), getattr(procd_client, name))
        self.assertIs(exceptions.get_error_registry, procd_client.get_error_registry)

    def test_one_line_alias_in_a_fresh_interpreter(self):
        code = (
            'import sys, procd_client; sys.modules["mcp_fuzzer"] = procd_client\n'
            "from mcp_fuzzer.fuzz_engine.runtime import ProcessManager, ProcessConfig, ProcessRecord\n"
            "from mcp_fuzzer.fuzz_engine.runtime.config import merge_env\n"
            "from mcp_fuzzer.fuzz_engine.runtime.monitor import ProcessCompletionResult\n"
            "from mcp_fuzzer.fuzz_engine.runtime.watchdog import wait_for_process_exit\n"
            "from mcp_fuzzer.fuzz_engine.executor import AsyncFuzzExecutor\n"
            "from mcp_fuzzer.fuzz_engine import ProcessWatchdog\n"
            "from mcp_fuzzer.exceptions import ProcessStartError, MCPError\n"
            "assert ProcessManager is procd_client.ProcessManager\n"
            "assert ProcessStartError is procd_client.ProcessStartError\n"
            "assert AsyncFuzzExecutor is procd_client.AsyncFuzzExecutor\n"
            "print('alias ok')\n"
        )
        r = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=_procd.CLIENT_DIR)
        )
        self.assertEqual((r.returncode, r.stdout), (0, "alias ok\n"), r.stderr)

    def test_constructors_need_no_running_loop(self):
        self.assertRaises(RuntimeError, asyncio.get_running_loop)
        manager = ProcessManager.from_config(config_dict={"watchdog_process_timeout": 5.0})
        self.assertIsInstance(manager, ProcessManager)
        self.assertIsInstance(AsyncFuzzExecutor(), AsyncFuzzExecutor)
        self.assertIsInstance(ProcessManager.create_with_config(), ProcessManager)


# ---------------------------------------------------------------- §2 configuration


class Configuration(SignatureMixin, unittest.TestCase):
    def test_process_config_fields_and_defaults(self):
        fields = dataclasses.fields(ProcessConfig)
        original = [(f.name, f.default) for f in fields[:7]]
        self.assertEqual(
            original,
            [
                ("command", dataclasses.MISSING),
                ("cwd", None),
                ("env", None),
                ("timeout", 30.0),
                ("auto_kill", True),
                ("name", "unknown"),
                ("activity_callback", None),
            ],
        )
        for f in fields[7:]:
            self.assertTrue(f.kw_only, f"procd extra {f.name} must be keyword-only")
        c = ProcessConfig(["x"])
        self.assertEqual((c.timeout, c.auto_kill, c.name), (30.0, True, "unknown"))
        self.assertEqual(ProcessConfig(["x"], "/tmp", {"A": "1"}, 5.0, False, "n"), ProcessConfig(
            command=["x"], cwd="/tmp", env={"A": "1"}, timeout=5.0, auto_kill=False, name="n"))
        self.assertNotEqual(ProcessConfig(["x"]), ProcessConfig(["y"]))
        with self.assertRaises(TypeError):
            hash(c)
        c.name = "mutable"
        self.assertEqual(c.name, "mutable")
        self.assertEqual(
            repr(ProcessConfig(["x"])),
            "ProcessConfig(command=['x'], cwd=None, env=None, timeout=30.0, auto_kill=True, name='unknown', "
            "activity_callback=None)",
        )

    def test_process_config_from_config(self):
        self.assert_signature(ProcessConfig.from_config, [("config", POS, REQ), ("overrides", P.VAR_KEYWORD, REQ)])
        c = ProcessConfig.from_config({"process_timeout": 12.0, "auto_kill": False, "name": "ignored"}, command=["x"])
        self.assertEqual((c.command, c.timeout, c.auto_kill, c.name), (["x"], 12.0, False, "unknown"))
        self.assertEqual(ProcessConfig.from_config({}, command=["x"], name="n").timeout, 30.0)
        with self.assertRaises(TypeError):
            ProcessConfig.from_config({})  # no command
        with self.assertRaises(TypeError):
            ProcessConfig.from_config({}, command=["x"], timeout=1.0)
        with self.assertRaises(TypeError):
            ProcessConfig.from_config({}, command=["x"], auto_kill=False)

    def test_watchdog_config(self):
        self.assertEqual(
            [(f.name, f.default) for f in dataclasses.fields(WatchdogConfig)],
            [("check_interval", 1.0), ("process_timeout", 30.0), ("extra_buffer", 5.0), ("max_hang_time", 60.0), ("auto_kill", True)],
        )
        w = WatchdogConfig.from_config(
            {
                "watchdog_check_interval": 0.25,
                "watchdog_process_timeout": 5.0,
                "watchdog_extra_buffer": 1.5,
                "watchdog_max_hang_time": 9.0,
                "auto_kill": False,
                "process_timeout": 99.0,  # unprefixed: not the watchdog's
                "check_interval": 99.0,
            }
        )
        self.assertEqual(w, WatchdogConfig(0.25, 5.0, 1.5, 9.0, False))
        self.assertEqual(WatchdogConfig.from_config({}), WatchdogConfig())
        self.assertEqual(WatchdogConfig.from_config({"watchdog_process_timeout": 5.0}).process_timeout, 5.0)

    def test_builder(self):
        b = ProcessConfigBuilder()
        cb = lambda: 1.0  # noqa: E731
        for method, value in (
            ("with_command", ["x"]),
            ("with_cwd", pathlib.Path("/tmp")),
            ("with_env", {"A": "1"}),
            ("with_timeout", 3.0),
            ("with_auto_kill", False),
            ("with_name", "n"),
            ("with_activity_callback", cb),
        ):
            self.assertIs(getattr(b, method)(value), b, method)
        c = b.build()
        self.assertIsInstance(c, ProcessConfig)
        self.assertEqual(c.cwd, pathlib.Path("/tmp"))  # kept as given
        self.assertIsInstance(c.cwd, pathlib.Path)
        self.assertEqual((c.command, c.env, c.timeout, c.auto_kill, c.name, c.activity_callback), (["x"], {"A": "1"}, 3.0, False, "n", cb))
        for builder in (ProcessConfigBuilder(), ProcessConfigBuilder().with_command([])):
            with self.assertRaisesRegex(ValueError, "non-empty command"):
                builder.build()

    def test_merge_env(self):
        self.assert_signature(procd_client.merge_env, [("base", POS, REQ), ("overrides", POS, REQ)])
        base = {"A": "1"}
        merged = procd_client.merge_env(base, {"B": "2"})
        self.assertEqual((merged, base), ({"A": "1", "B": "2"}, {"A": "1"}))
        self.assertIsNot(procd_client.merge_env(base, None), base)
        self.assertEqual(procd_client.merge_env(None, {})["PATH"], os.environ["PATH"])


# ---------------------------------------------------------------- §3 ProcessManager


MANAGER_METHODS = {
    # name: (original parameters, coroutine?)
    "start_process": ([("config", POS, REQ)], True),
    "stop_process": ([("pid", POS, REQ), ("force", POS, False)], True),
    "stop_all_processes": ([("force", POS, False)], True),
    "get_process_status": ([("pid", POS, REQ)], True),
    "list_processes": ([], True),
    "wait": ([("pid", POS, REQ), ("timeout", POS, None)], True),
    "update_activity": ([("pid", POS, REQ)], True),
    "get_stats": ([], True),
    "cleanup_finished_processes": ([], True),
    "shutdown": ([], True),
    "send_timeout_signal": ([("pid", POS, REQ), ("signal_type", POS, "timeout")], True),
    "send_timeout_signal_to_all": ([("signal_type", POS, "timeout")], True),
    "is_process_registered": ([("pid", POS, REQ)], True),
    "register_existing_process": (
        [("pid", POS, REQ), ("process", POS, REQ), ("name", POS, None), ("activity_callback", POS, None), ("config", KW, None)],
        True,
    ),
    "add_observer": ([("callback", POS, REQ)], False),
}


class ManagerSignatures(SignatureMixin, unittest.TestCase):
    def test_construction(self):
        six = [(n, POS, REQ) for n in ("watchdog", "registry", "signal_handler", "lifecycle", "monitor", "logger")]
        self.assert_signature(ProcessManager.__init__, six)
        self.assert_signature(ProcessManager.with_dependencies, six)
        self.assert_signature(
            ProcessManager.from_config,
            [
                ("config", POS, None),
                ("config_dict", POS, None),
                ("logger", POS, None),
                ("signal_strategies", KW, None),
                ("register_default_signal_strategies", KW, True),
            ],
        )

    def test_methods(self):
        for name, (params, coroutine) in MANAGER_METHODS.items():
            fn = getattr(ProcessManager, name)
            self.assert_coroutine(fn, coroutine)
            if name == "add_observer":
                # The original's parameter name is not in the reference; its shape is cb(event, payload).
                self.assertEqual(len([p for p in inspect.signature(fn).parameters.values() if p.kind == POS]), 2)
                continue
            self.assert_signature(fn, params)

    def test_from_config_builds_unstarted_components(self):
        m = ProcessManager.from_config(
            config_dict={"watchdog_process_timeout": 5.0, "watchdog_check_interval": 0.5}, logger=logging.getLogger("x")
        )
        for attr, cls in (
            ("registry", ProcessRegistry),
            ("signal_dispatcher", SignalDispatcher),
            ("lifecycle", procd_client.ProcessLifecycle),
            ("monitor", procd_client.ProcessInspector),
            ("watchdog", ProcessWatchdog),
        ):
            self.assertIsInstance(getattr(m, attr), cls, attr)
        self.assertEqual((m.watchdog.config.process_timeout, m.watchdog.config.check_interval), (5.0, 0.5))
        self.assertFalse(m.watchdog.active)  # not started
        # A truthy config_dict wins over config.
        m = ProcessManager.from_config(WatchdogConfig(process_timeout=1.0), config_dict={"watchdog_extra_buffer": 2.0})
        self.assertEqual((m.watchdog.config.process_timeout, m.watchdog.config.extra_buffer), (30.0, 2.0))
        m = ProcessManager.from_config(WatchdogConfig(process_timeout=1.0), config_dict={})
        self.assertEqual(m.watchdog.config.process_timeout, 1.0)
        m = ProcessManager.from_config(signal_strategies={"usr1": "SIGUSR1"}, register_default_signal_strategies=False)
        self.assertEqual(m.signal_dispatcher.list_strategies(), ["usr1"])

    def test_watchdog_setter_repoints_components(self):
        m = ProcessManager.from_config()
        w = ProcessWatchdog(m.registry, m.signal_dispatcher, WatchdogConfig(process_timeout=3.0))
        m.watchdog = w
        self.assertIs(m.lifecycle.watchdog, w)
        self.assertIs(m.monitor.watchdog, w)
        m.watchdog.register_process = lambda **kw: None  # the upstream fixtures do this
        self.assertTrue(callable(m.watchdog.register_process))

    def test_isinstance_by_name_and_module(self):
        Other = type("ProcessManager", (), {"__module__": ProcessManager.__module__})
        self.assertIsInstance(Other(), ProcessManager)
        self.assertNotIsInstance(object(), ProcessManager)


class Manager(SignatureMixin, ProcdTestCase):
    def compat(self, **config_dict) -> ProcessManager:
        """A manager built the released way (early exit check on)."""
        m = ProcessManager.from_config(config_dict={"socket": self.daemon.socket, **config_dict})
        self.addAsyncCleanup(m.shutdown)
        return m

    async def test_start_process_returns_a_process_proxy_and_emits_started(self):
        m = self.compat()
        events = []
        m.add_observer(lambda name, payload: events.append((name, payload)))
        cfg = ProcessConfig(command=["sh", "-c", "echo out; echo err >&2; sleep 0.5; exit 4"], name="proxy")
        p = await m.start_process(cfg)
        self.assertTrue(m.watchdog.active)  # start_process starts the watchdog
        self.assertIsInstance(p, ProcessHandle)
        self.assertGreater(p.pid, 0)
        self.assertIsNone(p.returncode)
        self.assertEqual(events, [("started", {"pid": p.pid, "process_name": "proxy", "command": cfg.command, "event": "started"})])
        self.assertEqual(await p.stdout.readline(), b"out\n")
        self.assertEqual(await p.stderr.read(), b"err\n")
        self.assertEqual(await p.wait(), 4)
        self.assertEqual(p.returncode, 4)
        self.assertIsNone(p.stdin)

    async def test_returncode_is_refreshed_by_procd_events(self):
        m = self.compat()
        p = await m.start_process(ProcessConfig(command=["sleep", "30"]))
        q = await m.start_process(ProcessConfig(command=["sleep", "30"]))
        self.assertTrue(await p.terminate())  # a plain call in asyncio; awaitable here
        q.kill()

        async def ended():
            return p.returncode is not None and q.returncode is not None

        await self.eventually(ended, what="the returncodes to be refreshed")  # no call on p or q
        self.assertEqual((p.returncode, q.returncode), (-signal.SIGTERM, -signal.SIGKILL))

    async def test_start_errors(self):
        m = self.compat()
        # Exits within 0.1 s, even with code 0: the original's message and context.
        with self.assertRaises(procd_client.ProcessStartError) as cm:
            await m.start_process(ProcessConfig(command=["sh", "-c", "echo hi"], env={"K": "v"}, name="quick"))
        e = cm.exception
        self.assertEqual((e.code, str(e)), ("95002", "Process quick exited with code 0: hi"))
        self.assertEqual(set(e.context), {"command", "cwd", "env", "returncode", "stderr", "stdout"})
        self.assertEqual((e.context["env"], e.context["returncode"], e.context["stdout"]), ({"keys": ["K"]}, 0, "hi\n"))
        with self.assertRaises(procd_client.ProcessStartError) as cm:
            await m.start_process(ProcessConfig(command=["sh", "-c", "exit 2"], name="silent"))
        self.assertEqual(str(cm.exception), "Process silent exited with code 2: No output")
        # A spawn failure: both styles of except.
        with self.assertRaises(procd_client.ProcessStartError) as cm:
            await m.start_process(ProcessConfig(command=["/no/such/binary"], name="ghost", cwd="/"))
        e = cm.exception
        self.assertIsInstance(e, NotFound)
        self.assertIsInstance(e, ProcdError)
        self.assertTrue(str(e).startswith("Failed to start process ghost"), str(e))
        self.assertEqual(e.context, {"name": "ghost", "command": ["/no/such/binary"], "cwd": "/"})
        self.assertIsInstance(e.__cause__, NotFound)
        self.assertEqual(await m.list_processes(), [])
        # procd's own behaviour on request: quick processes are ordinary starts.
        fast = self.manager(early_exit_check=0)
        self.assertEqual(await (await fast.start_process(ProcessConfig(command=["true"]))).wait(), 0)

    async def test_status_shapes(self):
        m = self.compat()
        cfg = ProcessConfig(command=["sh", "-c", "sleep 0.4; exit 5"], name="shape")
        p = await m.start_process(cfg)
        s = await m.get_process_status(p.pid)
        self.assertEqual(set(s), {"process", "config", "started_at", "status"})
        self.assertEqual((s["process"], s["config"], s["status"]), (p, cfg, "running"))
        self.assertIsInstance(s["started_at"], float)
        await p.wait()
        s = await m.get_process_status(p.pid)
        self.assertEqual(set(s), {"process", "config", "started_at", "status", "exit_code"})
        self.assertEqual((s["status"], s["exit_code"]), ("finished", 5))
        self.assertEqual([set(x) for x in await m.list_processes()], [set(s)])
        self.assertIsNone(await m.get_process_status(999_999_999))
        await m.registry.update_status(p.pid, "stopped")
        self.assertEqual((await m.get_process_status(p.pid))["status"], "stopped")

    async def test_wait(self):
        m = self.compat()
        p = await m.start_process(ProcessConfig(command=["sleep", "30"]))
        r = await m.wait(p.pid, timeout=0.2)
        self.assertIsInstance(r, ProcessCompletionResult)
        self.assertEqual([f.name for f in dataclasses.fields(ProcessCompletionResult)], ["pid", "exit_code", "timed_out"])
        self.assertEqual(r, ProcessCompletionResult(p.pid, None, True))
        self.assertTrue(await m.is_process_registered(p.pid))  # neither killed nor unregistered
        self.assertEqual((await m.get_process_status(p.pid))["status"], "running")
        await m.send_timeout_signal(p.pid, "force")
        self.assertEqual(await m.wait(p.pid), ProcessCompletionResult(p.pid, -9, False))
        self.assertIsNone(await m.wait(999_999_999))
        # The design document's wait_for_process: an exit code.
        self.assertEqual(await m.wait_for_process(p.pid), -9)

    async def test_stop_process(self):
        m = self.compat()
        events = []
        m.add_observer(lambda name, payload: events.append((name, payload)))
        p = await m.start_process(ProcessConfig(command=["sleep", "30"]))
        self.assertIs(await m.stop_process(p.pid), True)
        self.assertEqual(p.returncode, -15)
        self.assertFalse(await m.is_process_registered(p.pid))  # unregistered
        self.assertIs(await m.stop_process(999_999_999, force=True), False)
        stops = [e for e in events if e[0] == "stopped"]
        self.assertEqual(stops, [
            ("stopped", {"pid": p.pid, "force": False, "result": True, "event": "stopped"}),
            ("stopped", {"pid": 999_999_999, "force": True, "result": False, "event": "stopped"}),
        ])
        q = await m.start_process(ProcessConfig(command=["sh", "-c", "trap '' TERM; sleep 30"], name="stubborn"))
        t0 = time.monotonic()
        self.assertTrue(await m.stop_process(q.pid, force=True))
        self.assertLess(time.monotonic() - t0, 1.5)  # SIGKILL at once
        self.assertEqual(q.returncode, -9)

    async def test_stop_all_and_shutdown_events(self):
        m = self.compat()
        events = []
        m.add_observer(lambda name, payload: events.append(name))
        for _ in range(2):
            await m.start_process(ProcessConfig(command=["sleep", "30"]))
        self.assertIsNone(await m.stop_all_processes())
        self.assertEqual(events[-1], "stopped_all")
        self.assertEqual(await m.registry.list_pids(), [])
        await m.start_process(ProcessConfig(command=["sleep", "30"]))
        self.assertIsNone(await m.shutdown())
        self.assertEqual(events[-2:], ["stopped_all", "shutdown"])
        self.assertFalse(m.watchdog.active)
        self.assertEqual(m.registry.processes, {})
        await m.shutdown()  # repeatable: the events fire again
        self.assertEqual(events[-2:], ["stopped_all", "shutdown"])

    async def test_stop_all_failure(self):
        m = self.compat()

        class Immortal:  # a registered process that cannot be stopped
            returncode = None

            async def wait(self):
                await asyncio.sleep(3600)

        # A pid that exists but that this client may not signal away: our own.
        await m.register_existing_process(os.getpid(), Immortal(), name="me")
        m.lifecycle._stop_local = self._never_stops
        events = []
        m.add_observer(lambda name, payload: events.append((name, payload)))
        with self.assertRaises(procd_client.ProcessStopError) as cm:
            await m.shutdown()
        failed = cm.exception.context["failed_processes"]
        self.assertEqual([(f["pid"], f["error"]) for f in failed], [(os.getpid(), "ProcessStopError")])
        self.assertIn("did not exit after stop attempt", failed[0]["message"])
        self.assertEqual(events[0][0], "shutdown_failed")
        self.assertEqual(set(events[0][1]), {"error", "event"})
        self.assertEqual(m.registry.processes, {})  # cleared in every case

    async def _never_stops(self, pid, process, force):
        return False

    async def test_signals(self):
        m = self.compat()
        events = []
        m.add_observer(lambda name, payload: events.append((name, payload)))
        self.assertEqual(await m.send_timeout_signal_to_all(), {})
        p = await m.start_process(ProcessConfig(command=["sleep", "30"], name="sig"))
        q = await m.start_process(ProcessConfig(command=["sleep", "30"], name="sig2"))
        self.assertIs(await m.send_timeout_signal(p.pid, "nonsense"), False)
        self.assertEqual(events[-1], ("signal", {"pid": p.pid, "signal": "nonsense", "process_name": "sig", "result": False, "event": "signal"}))
        self.assertIs(await m.send_timeout_signal(p.pid, "interrupt"), True)
        self.assertEqual(await p.wait(), -signal.SIGINT)
        n = len(events)
        self.assertIs(await m.send_timeout_signal(p.pid), False)  # exited: no event
        self.assertIs(await m.send_timeout_signal(999_999_999), False)
        self.assertEqual(len(events), n)
        self.assertEqual(await m.send_timeout_signal_to_all("timeout"), {p.pid: False, q.pid: True})
        self.assertEqual(events[-1], ("signal_all", {"signal": "timeout", "results": {p.pid: False, q.pid: True}, "failures": None, "event": "signal_all"}))
        self.assertEqual(await q.wait(), -signal.SIGTERM)

    async def test_signal_errors_become_process_signal_error(self):
        m = self.compat()
        p = await m.start_process(ProcessConfig(command=["sleep", "30"]))

        class Broken:
            async def send(self, pid, process_info=None):
                raise OSError("no way")

        m.signal_dispatcher.register_strategy("broken", Broken())
        with self.assertRaises(procd_client.ProcessSignalError) as cm:
            await m.send_timeout_signal(p.pid, "broken")
        self.assertEqual(cm.exception.code, "95004")
        self.assertEqual(cm.exception.context, {"pid": p.pid, "signal_type": "broken", "name": "unknown"})
        with self.assertRaises(procd_client.ProcessSignalError) as cm:
            await m.send_timeout_signal_to_all("broken")
        self.assertEqual(cm.exception.context["signal_type"], "broken")
        self.assertEqual([f["pid"] for f in cm.exception.context["failed_processes"]], [p.pid])

    async def test_activity_stats_and_cleanup(self):
        m = self.compat(watchdog_check_interval=0.2)
        p = await m.start_process(ProcessConfig(command=["sh", "-c", "sleep 0.3"]))
        self.assertIsNone(await m.update_activity(p.pid))
        self.assertIsNone(await m.update_activity(999_999_999))  # no validation
        stats = await m.get_stats()
        self.assertEqual(set(stats), {"processes", "watchdog", "total_managed"})
        self.assertEqual((stats["processes"], stats["total_managed"]), ({"running": 1}, 1))
        self.assertEqual(
            set(stats["watchdog"]),
            {"total_processes", "running_processes", "finished_processes", "watchdog_active", "last_scan_at", "last_error"},
        )
        await p.wait()
        self.assertEqual((await m.get_stats())["processes"], {"finished": 1})
        self.assertEqual(await m.cleanup_finished_processes(), 1)
        self.assertFalse(await m.is_process_registered(p.pid))
        self.assertEqual(await m.cleanup_finished_processes(), 0)

    async def test_register_existing_process(self):
        m = self.compat()
        child = await asyncio.create_subprocess_exec("sleep", "30", start_new_session=True)
        self.addAsyncCleanup(self._reap, child)
        self.assertIsNone(await m.register_existing_process(child.pid, child, name="own"))
        self.assertTrue(await m.is_process_registered(child.pid))
        self.assertFalse(m.watchdog.active)  # not started by registering
        s = await m.get_process_status(child.pid)
        self.assertEqual((s["process"], s["status"], s["config"].command, s["config"].name), (child, "running", ["own"], "own"))
        self.assertTrue(await m.send_timeout_signal(child.pid, "timeout"))
        self.assertEqual(await m.wait(child.pid, timeout=10), ProcessCompletionResult(child.pid, -15, False))
        other = await asyncio.create_subprocess_exec("sleep", "30", start_new_session=True)
        self.addAsyncCleanup(self._reap, other)
        await m.register_existing_process(other.pid, other)
        self.assertEqual((await m.get_process_status(other.pid))["config"].command, [str(other.pid)])
        self.assertTrue(await m.stop_process(other.pid))
        self.assertEqual(other.returncode, -15)

    async def _reap(self, child):
        if child.returncode is None:
            child.kill()
            await child.wait()

    async def test_watchdog_settings_defaults_do_not_override(self):
        # The trap: ProcessConfig's defaults (30.0, True) must not replace the
        # settings that apply (here the manager's, from config_dict).
        m = self.compat(watchdog_process_timeout=5.0, watchdog_extra_buffer=1.0, watchdog_max_hang_time=9.0, auto_kill=False)
        p = await m.start_process(ProcessConfig(command=["sleep", "30"]))
        wd = (await m.get_process_details(p.pid))["watchdog"]
        self.assertEqual((wd["timeout"], wd["extra_buffer"], wd["max_hang_time"], wd["auto_kill"]), (5.0, 1.0, 9.0, False))
        # Nor do explicit ones (the original never read them) ...
        q = await m.start_process(ProcessConfig(command=["sleep", "30"], timeout=300.0, auto_kill=True))
        self.assertEqual((await m.get_process_details(q.pid))["watchdog"]["timeout"], 5.0)
        # ... unless asked for, per process (a procd extra).
        r = await m.start_process(ProcessConfig(command=["sleep", "30"], watchdog=WatchdogConfig(process_timeout=7.0)))
        self.assertEqual((await m.get_process_details(r.pid))["watchdog"]["timeout"], 7.0)


# ---------------------------------------------------------------- §4 ProcessWatchdog


class Watchdog(SignatureMixin, ProcdTestCase):
    def test_signature(self):
        # registry and signal_dispatcher may be omitted: the design
        # document's ProcessWatchdog(config).
        self.assert_signature(
            ProcessWatchdog.__init__,
            optional_ok=("registry", "signal_dispatcher"),
            expected=[
                ("registry", POS, REQ),
                ("signal_dispatcher", POS, REQ),
                ("config", POS, None),
                ("termination_strategy", KW, None),
                ("clock", KW, None),
                ("logger", KW, None),
                ("metrics_sampler", KW, None),
                ("on_hang", KW, None),
            ],
        )
        for name in ("start", "stop", "update_activity", "scan_once", "get_stats"):
            self.assert_coroutine(getattr(ProcessWatchdog, name))

    async def test_start_stop_stats_and_context(self):
        w = ProcessWatchdog(ProcessRegistry(), None, metrics_sampler=lambda: {"load": 1})
        self.assertEqual((w.config, w.registry.processes), (WatchdogConfig(), {}))
        await w.start()
        await w.start()  # idempotent
        stats = await w.get_stats()
        self.assertTrue(stats["watchdog_active"])
        self.assertEqual(stats["system_metrics"], {"load": 1})
        await w.stop()
        await w.stop()
        self.assertFalse((await w.get_stats())["watchdog_active"])
        failing = ProcessWatchdog(ProcessRegistry(), None, metrics_sampler=lambda: 1 / 0)
        self.assertNotIn("system_metrics", await failing.get_stats())
        async with ProcessWatchdog(ProcessRegistry(), None) as entered:
            self.assertTrue(entered.active)
        self.assertFalse(entered.active)

    async def test_scan_once_kills_a_hung_foreign_process(self):
        now = [1000.0]
        hung = []
        registry = ProcessRegistry()
        w = ProcessWatchdog(
            registry,
            SignalDispatcher(registry),
            WatchdogConfig(process_timeout=1.0, extra_buffer=1.0),
            clock=lambda: now[0],
            on_hang=lambda pid, record, secs: hung.append((pid, secs)),
        )
        child = await asyncio.create_subprocess_exec("sleep", "30", start_new_session=True)
        await registry.register(child.pid, child, ProcessConfig(["sleep"]), started_at=now[0])
        result = await w.scan_once({})
        self.assertEqual(set(result), {"hung", "killed", "removed", "timestamp"})
        self.assertEqual((result["hung"], result["killed"]), ([], []))
        now[0] += 5
        result = await w.scan_once(await registry.snapshot())
        self.assertEqual((result["hung"], result["killed"], result["timestamp"]), ([child.pid], [child.pid], 1005.0))
        self.assertEqual(hung, [(child.pid, 5.0)])
        self.assertEqual(child.returncode, -signal.SIGTERM)
        self.assertFalse(await registry.contains(child.pid))

    async def test_design_document_form(self):
        w = ProcessWatchdog(WatchdogConfig(check_interval=1.0, process_timeout=30.0))
        self.assertEqual(w.config.process_timeout, 30.0)
        await w.start()
        child = await asyncio.create_subprocess_exec("sleep", "30", start_new_session=True)
        await w.register_process(pid=child.pid, process=child, activity_callback=None, name="my_process")
        self.assertEqual((await w.registry.get_process(child.pid))["config"].name, "my_process")
        child.kill()
        await child.wait()
        removed = await w.scan_once()
        self.assertEqual(removed["removed"], [child.pid])
        await w.stop()

    async def test_on_hang_from_procd(self):
        hung = []
        m = ProcessManager.from_config(
            config_dict={"socket": self.daemon.socket, "watchdog_check_interval": 0.1}
        )
        self.addAsyncCleanup(m.shutdown)
        m.watchdog.on_hang = lambda pid, record, secs: hung.append((pid, record["config"].name, secs))
        p = await m.start_process(
            ProcessConfig(command=["sleep", "30"], name="hangs", watchdog=WatchdogConfig(process_timeout=0.3, extra_buffer=0.2, auto_kill=False, max_hang_time=30.0))
        )

        async def reported():
            return hung

        await self.eventually(reported, what="on_hang for a process procd says is hung")
        self.assertEqual(hung[0][:2], (p.pid, "hangs"))
        self.assertGreaterEqual(hung[0][2], 0.5)
        self.assertEqual((await m.watchdog.scan_once())["hung"], [p.pid])


# ---------------------------------------------------------------- §5 components


class Components(SignatureMixin, ProcdTestCase):
    def test_signatures(self):
        self.assertEqual(list(procd_client.ProcessRecord.__annotations__), ["process", "config", "started_at", "status"])
        self.assert_signature(
            ProcessRegistry.register,
            [("pid", POS, REQ), ("process", POS, REQ), ("config", POS, REQ), ("started_at", POS, None), ("status", POS, "running")],
        )
        for name in ("register", "unregister", "get_process", "list_pids", "update_status", "clear", "snapshot", "contains", "get_process_field"):
            self.assert_coroutine(getattr(ProcessRegistry, name))
        # A logger may be omitted (procd_client's own logger is used).
        self.assert_signature(
            SignalDispatcher.__init__,
            [("registry", POS, REQ), ("logger", POS, REQ), ("strategies", POS, None), ("register_defaults", POS, True)],
            optional_ok=("logger",),
        )
        self.assert_signature(SignalDispatcher.send, [("signal_type", POS, REQ), ("pid", POS, REQ), ("process_info", POS, None)])
        self.assert_signature(
            procd_client.ProcessLifecycle.__init__,
            [("watchdog", POS, REQ), ("registry", POS, REQ), ("signal_handler", POS, REQ), ("logger", POS, REQ)],
            optional_ok=("logger",),
        )
        self.assert_signature(
            procd_client.ProcessInspector.__init__,
            [("registry", POS, REQ), ("watchdog", POS, REQ), ("logger", POS, REQ)],
            optional_ok=("logger",),
        )
        for name in ("start", "stop", "stop_all"):
            self.assert_coroutine(getattr(procd_client.ProcessLifecycle, name))
        for name in ("get_status", "list_processes", "get_statistics", "cleanup_finished_processes", "wait_for_completion"):
            self.assert_coroutine(getattr(procd_client.ProcessInspector, name))
        self.assert_signature(procd_client.wait_for_process_exit, [("process", POS, REQ), ("timeout", POS, None)])

    async def test_registry(self):
        r = ProcessRegistry()
        cfg = ProcessConfig(["x"])
        await r.register(1, "proc", cfg, started_at=5.0)
        self.assertEqual(await r.get_process(1), {"process": "proc", "config": cfg, "started_at": 5.0, "status": "running"})
        copy = await r.get_process(1)
        copy["status"] = "changed"
        self.assertEqual((await r.get_process(1))["status"], "running")
        await r.update_status(1, "stopped")
        self.assertEqual(await r.get_process_field(1, "status"), "stopped")
        self.assertEqual((await r.list_pids(), await r.contains(1), await r.contains(2)), ([1], True, False))
        self.assertEqual(list(await r.snapshot()), [1])
        table = r.processes
        table.clear()
        self.assertEqual(list(r.processes), [1])
        await r.unregister(2)  # no error
        await r.unregister(1)
        self.assertIsNone(await r.get_process(1))
        await r.register(3, "p", cfg)
        await r.clear()
        self.assertEqual(r.processes, {})

    async def test_dispatcher(self):
        r = ProcessRegistry(client=procd_client.ClientConfig(socket=self.daemon.socket))
        d = SignalDispatcher(r, logging.getLogger("t"))
        self.assertEqual(d.list_strategies(), ["timeout", "force", "interrupt"])
        self.assertEqual(SignalDispatcher(r, None, register_defaults=False).list_strategies(), [])
        d.register_strategy("hup", "SIGHUP")
        self.assertTrue(d.unregister_strategy("hup"))
        self.assertFalse(d.unregister_strategy("hup"))
        self.assertFalse(await d.send("timeout", 999_999_999))
        child = await asyncio.create_subprocess_exec("sleep", "30", start_new_session=True)
        await r.register(child.pid, child, ProcessConfig(["sleep"]))
        self.assertFalse(await d.send("unknown-kind", child.pid))
        self.assertTrue(await d.send("interrupt", child.pid))
        self.assertEqual(await child.wait(), -signal.SIGINT)
        await r._conn.close()

    async def test_wait_for_process_exit(self):
        child = await asyncio.create_subprocess_exec("sleep", "30")
        with self.assertRaises(asyncio.TimeoutError):
            await procd_client.wait_for_process_exit(child, timeout=0.1)
        child.kill()
        self.assertEqual(await procd_client.wait_for_process_exit(child), -9)


# ---------------------------------------------------------------- §6 AsyncFuzzExecutor


class Executor(SignatureMixin, unittest.IsolatedAsyncioTestCase):
    def test_signatures(self):
        self.assert_signature(AsyncFuzzExecutor.__init__, [("max_concurrency", POS, 5)])
        self.assert_signature(AsyncFuzzExecutor.execute_batch, [("operations", POS, REQ)])
        self.assert_signature(AsyncFuzzExecutor.run_hypothesis_strategy, [("strategy", POS, REQ)])
        self.assert_signature(AsyncFuzzExecutor.shutdown, [])
        self.assertEqual(AsyncFuzzExecutor(0).max_concurrency, 1)
        self.assertEqual(AsyncFuzzExecutor(-3).max_concurrency, 1)
        self.assertEqual(AsyncFuzzExecutor(7).max_concurrency, 7)

    async def test_execute_batch_shape(self):
        async with AsyncFuzzExecutor(2) as ex:
            self.assertIsInstance(ex, AsyncFuzzExecutor)
            self.assertEqual(await ex.execute_batch([]), {"results": [], "errors": []})

            async def coro(x):
                return x

            class AsyncCallable:
                async def __call__(self):
                    return "never awaited"

            boom = ValueError("boom")

            def fails():
                raise boom

            out = await ex.execute_batch([(coro, [1], {}), (fails, [], {}), (lambda: 2, [], {}), (AsyncCallable(), [], {})])
            self.assertEqual(list(out), ["results", "errors"])
            self.assertEqual(out["results"][:2], [1, 2])
            self.assertTrue(inspect.iscoroutine(out["results"][2]))  # as the original: not awaited
            out["results"][2].close()
            self.assertEqual(out["errors"], [boom])

            async def cancelled():
                raise asyncio.CancelledError()

            with self.assertRaises(asyncio.CancelledError):
                await ex.execute_batch([(cancelled, [], {})])
        with self.assertRaisesRegex(RuntimeError, "^AsyncFuzzExecutor has been shut down$"):
            await ex.execute_batch([])
        with self.assertRaisesRegex(RuntimeError, "^AsyncFuzzExecutor has been shut down$"):
            await ex.run_hypothesis_strategy(None)
        await ex.shutdown()  # idempotent

    async def test_run_hypothesis_strategy(self):
        try:
            from hypothesis import strategies as st
        except ImportError:
            self.skipTest("python3-hypothesis is not installed")
        ex = AsyncFuzzExecutor()
        self.addAsyncCleanup(ex.shutdown)
        self.assertEqual(await ex.run_hypothesis_strategy(st.just(42)), 42)
        value = await ex.run_hypothesis_strategy(st.lists(st.integers(0, 9), min_size=2, max_size=2))
        self.assertEqual(len(value), 2)
        self.assertTrue(all(0 <= v <= 9 for v in value))


# ---------------------------------------------------------------- §7 exceptions


class Exceptions(unittest.TestCase):
    def test_hierarchy_and_codes(self):
        for name, parent, code in EXCEPTIONS:
            cls = getattr(procd_client, name)
            self.assertTrue(issubclass(cls, ProcdError), name)  # both styles of except
            if parent is not None:
                self.assertIs(cls.__bases__[0], getattr(procd_client, parent), name)
            if code is not None:
                self.assertEqual(cls.code, code, name)
                self.assertEqual(cls().code, code, name)
                self.assertIsInstance(cls.description, str)
        registry = procd_client.get_error_registry()
        for _, _, code in EXCEPTIONS:
            if code is not None:
                self.assertIn(code, registry)

    def test_mcp_error(self):
        E = procd_client.ProcessStartError
        self.assertEqual(str(E("msg", "why")), "msg")
        self.assertEqual(str(E(None, "why")), "why")
        e = E("msg", code="12345", context={"pid": 1})
        self.assertEqual((e.code, e.context), ("12345", {"pid": 1}))
        self.assertEqual(E().context, {})
        meta = e.to_metadata()
        self.assertEqual((meta.code, meta.description, meta.message, meta.context), ("12345", E.description, "msg", {"pid": 1}))
        self.assertIsInstance(e, procd_client.MCPError)


# ---------------------------------------------------------------- must-show: a script for the original


SCRIPT = os.path.join(_procd.HERE, "scripts", "original_runtime_script.py")

# What the released runtime prints for the script (see the reference: the
# watchdog settings from config_dict, ProcessConfig's defaults, the status
# dict's keys, the results of wait(), the stats' keys, execute_batch's shape).
EXPECTED = [
    ["watchdog", "0.5", "20.0", "2.0", "40.0", "True"],
    ["config", "worker-0", "sh", "30.0", "True", "{'WORKER':", "'0'}"],
    ["started", "worker-0", "True", "True"],
    ["config", "worker-1", "sh", "30.0", "True", "{'WORKER':", "'1'}"],
    ["started", "worker-1", "True", "True"],
    ["config", "worker-2", "sleep", "30.0", "True", "{'WORKER':", "'2'}"],
    ["started", "worker-2", "True", "True"],
    ["status", "['config',", "'process',", "'started_at',", "'status']", "running", "worker-2"],
    ["signal", "True"],
    ["wait", "True", "-15", "False"],
    ["wait", "True", "0", "False"],
    ["wait", "True", "3", "False"],
    ["stats", "['processes',", "'total_managed',", "'watchdog']", "['finished_processes',", "'last_error',",
     "'last_scan_at',", "'running_processes',", "'total_processes',", "'watchdog_active']", "True"],
    ["batch", "['errors',", "'results']", "[10,", "20]", "['ValueError']"],
    ["empty", "{'results':", "[],", "'errors':", "[]}"],
    ["hypothesis", "7"],
    ["hypothesis-text", "3", "True"],
    ["registered-after-shutdown", "[False,", "False,", "False]"],
]


class OriginalScript(ProcdTestCase):
    def run_script(self, argv):
        env = dict(os.environ, PROCD_SOCKET=self.daemon.socket, PYTHONPATH=_procd.CLIENT_DIR)
        env.pop("PROCD_ADDR", None)
        r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return [line.split() for line in r.stdout.splitlines()]

    def compare(self, got):
        self.assertEqual(len(got), len(EXPECTED), "\n".join(" ".join(g) for g in got))
        for i, (g, want) in enumerate(zip(got, EXPECTED)):
            self.assertEqual(g, want, f"line {i + 1}")

    def test_with_the_import_line_changed(self):
        try:
            import hypothesis  # noqa: F401
        except ImportError:
            self.skipTest("python3-hypothesis is not installed")
        with open(SCRIPT) as f:
            text = f.read()
        changed = text.replace(
            "from mcp_fuzzer.fuzz_engine.executor import AsyncFuzzExecutor\n"
            "from mcp_fuzzer.fuzz_engine.runtime import ProcessConfigBuilder, ProcessManager\n",
            "from procd_client import AsyncFuzzExecutor, ProcessConfigBuilder, ProcessManager\n",
        )
        self.assertNotEqual(changed, text)
        path = os.path.join(self.daemon.dir, "ported.py")
        with open(path, "w") as f:
            f.write(changed)
        self.compare(self.run_script([sys.executable, path]))

    def test_unchanged_behind_the_alias(self):
        try:
            import hypothesis  # noqa: F401
        except ImportError:
            self.skipTest("python3-hypothesis is not installed")
        code = f'import sys, procd_client; sys.modules["mcp_fuzzer"] = procd_client\nimport runpy; runpy.run_path({SCRIPT!r}, run_name="__main__")'
        self.compare(self.run_script([sys.executable, "-c", code]))


if __name__ == "__main__":
    unittest.main()
