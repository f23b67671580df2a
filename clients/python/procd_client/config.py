"""Configuration: where procd is, watchdog defaults, and process configs.

:class:`ProcessConfig` and :class:`WatchdogConfig` keep the original asyncio
API's names, fields and defaults; :class:`ClientConfig` says how to reach the
daemon.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._convert import enum_value, str_list, str_map, to_duration
from ._pb import pb

__all__ = [
    "WatchdogConfig",
    "RestartPolicy",
    "ProcessConfig",
    "ProcessConfigBuilder",
    "merge_env",
    "ClientConfig",
    "default_socket",
    "ActivityCallback",
]

#: An activity callback: called with no arguments (sync or async), it returns
#: the time of the process's last activity (a ``time.time()`` float) or a bool
#: (True: there was activity since the last call).
ActivityCallback = Callable[[], Union[float, bool, None, Awaitable[Union[float, bool, None]]]]


def default_socket(uid: Optional[int] = None, environ: Optional[Mapping[str, str]] = None) -> str:
    """procd's default socket, found the way procd and procctl find it:
    ``/run/procd/procd.sock`` for root, else
    ``$XDG_RUNTIME_DIR/procd/procd.sock`` (when it is an absolute path), else
    ``$TMPDIR/procd-$UID/procd.sock`` (``/tmp`` without TMPDIR).

    PROCD_SOCKET is not consulted here; see :meth:`ClientConfig.resolve`.
    """
    env = os.environ if environ is None else environ
    if uid is None:
        uid = os.getuid()
    if uid == 0:
        return "/run/procd/procd.sock"
    xdg = env.get("XDG_RUNTIME_DIR", "")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "procd", "procd.sock")
    return os.path.join(env.get("TMPDIR") or "/tmp", f"procd-{uid}", "procd.sock")


@dataclasses.dataclass
class WatchdogConfig:
    """The released runtime's watchdog settings; in procd_client, the hang
    settings of every process a manager starts.

    procd runs the watchdog itself (per-process timers on a monotonic clock);
    these values are sent in the spec of each process the manager starts (a
    ProcessConfig's own ``watchdog``, if set, replaces them for that
    process). A field set to None is left to the daemon's default
    (``procd --process-timeout`` etc., the same values unless the daemon was
    configured otherwise).

    Attributes:
        check_interval: how often (seconds) this client's watchdog loop polls
            the ``activity_callback`` of each process and scans the processes
            it tracks itself (see ProcessManager.register_existing_process).
            procd's own sampling period of its cpu and file activity sources
            is the daemon's ``--check-interval``.
        process_timeout: idle seconds after which a process is *slow*. 0 turns
            hang detection off.
        extra_buffer: further idle seconds after which it is *hung* (and, with
            auto_kill, stopped with reason HUNG).
        max_hang_time: without auto_kill, idle seconds after which a hung
            process is killed anyway.
        auto_kill: stop hung processes.
    """

    check_interval: float = 1.0
    process_timeout: Optional[float] = 30.0
    extra_buffer: Optional[float] = 5.0
    max_hang_time: Optional[float] = 60.0
    auto_kill: Optional[bool] = True

    @classmethod
    def from_config(cls, config: Optional[Mapping[str, Any]]) -> "WatchdogConfig":
        """Reads ``watchdog_check_interval``, ``watchdog_process_timeout``,
        ``watchdog_extra_buffer``, ``watchdog_max_hang_time`` and the
        unprefixed ``auto_kill`` from an application's configuration dict, as
        the released runtime does; missing keys take the defaults and other
        keys are ignored."""
        config = config or {}
        kwargs: Dict[str, Any] = {}
        for field in ("check_interval", "process_timeout", "extra_buffer", "max_hang_time"):
            key = "watchdog_" + field
            if key in config:
                kwargs[field] = config[key]
        if "auto_kill" in config:
            kwargs["auto_kill"] = config["auto_kill"]
        return cls(**kwargs)

    def __post_init__(self) -> None:
        if self.check_interval is None or self.check_interval <= 0:
            raise ValueError(f"check_interval must be positive, got {self.check_interval!r}")


@dataclasses.dataclass
class RestartPolicy:
    """procd's restart policy for one process (``ProcessConfig.restart``).

    ``mode``: "on-failure" restarts a run that failed (``on``: any of
    "nonzero", "signal", "hung", "deadline", "startup-timeout"; None: all),
    "always" also one that exited 0; "never" is the default without a
    policy. A stop never restarts and cancels a pending restart. Delays grow
    from ``delay`` seconds by ``multiplier`` up to ``max_delay``, spread by
    ± ``jitter`` (0 to 1); a run lasting ``reset_after`` seconds resets
    them. The failure that would need more than ``limit`` restarts within
    ``window`` seconds leaves the process FAILED with reason CRASH_LOOP
    (``limit`` 0: no limit). None: the daemon's default (``procd
    --restart-*``: 1 s, ×2, 60 s, 0.1, 5 per 60 s, reset after 60 s).

    The process keeps its id across runs; its status lists them
    (``runs``), and ``wait`` returns once it is final.
    """

    mode: str = "on-failure"
    on: Optional[Sequence[str]] = None
    delay: Optional[float] = None
    multiplier: Optional[float] = None
    max_delay: Optional[float] = None
    jitter: Optional[float] = None
    limit: Optional[int] = None
    window: Optional[float] = None
    reset_after: Optional[float] = None

    def to_proto(self) -> "pb.RestartPolicy":
        p = pb.RestartPolicy(mode=enum_value(pb.RestartMode, self.mode, "restart.mode"))
        if isinstance(self.on, str):
            raise TypeError("restart.on: a list of failure kinds, not a string")
        p.on.extend(enum_value(pb.RestartFailure, f, "restart.on") for f in (self.on or []))
        for field in ("delay", "max_delay", "window", "reset_after"):
            d = to_duration(getattr(self, field))
            if d is not None:
                getattr(p, field).CopyFrom(d)
        if self.multiplier is not None:
            p.multiplier = float(self.multiplier)
        if self.jitter is not None:
            p.jitter = float(self.jitter)
        if self.limit is not None:
            p.limit = int(self.limit)
        return p


@dataclasses.dataclass(repr=False)
class ProcessConfig:
    """A process to start: the released runtime's seven fields, then procd's
    extras (keyword-only).

    Original fields (same names, defaults and meaning):
        command: argv as a list of strings; ``command[0]`` is looked up in the
            PATH of the process's environment unless it contains a slash.
        cwd: working directory (must exist). None: this client's current
            directory on a local socket (see ``inherit_context``), else procd's.
        env: variables laid over the base environment: this client's on a
            local socket, else procd's (``clear_env``: an empty one).
        timeout, auto_kill: kept as given (30.0 and True by default) and, as
            in the released runtime, not used: the manager's WatchdogConfig
            sets the hang watchdog. For per-process settings (a procd
            strength) set ``watchdog``.
        name: human-readable name.
        activity_callback: a callable (sync or async) returning the time of
            the last activity (a ``time.time()`` float) or a bool (True: now).
            The manager's watchdog loop calls it every ``check_interval`` and
            forwards new activity to procd as an UpdateActivity heartbeat.

    procd extras (keyword-only; unset: the daemon's defaults):
        watchdog: a WatchdogConfig for this process alone, replacing the
            manager's (all its fields, check_interval included).
        labels: free-form tags for selection.
        deadline: wall-clock limit in seconds; the process is stopped with
            reason DEADLINE when it passes, whatever its activity.
        activity: activity sources: any of "heartbeat", "notify", "output",
            "cpu", "file" (default heartbeat, notify, output). With an
            activity_callback, "heartbeat" is added if missing.
        activity_file: a file whose modification time counts as activity.
        clear_env: start from an empty environment (plus ``env``).
        kill_mode: "group" (default) or "leader".
        stop_signal: signal that starts a stop (default SIGTERM).
        grace: seconds between the stop signal and SIGKILL (default 2.0).
        stdin_pipe: give the process a stdin pipe (see write_input); the
            default is /dev/null.
        tty, window_size: run on a pseudo-terminal of (rows, cols).
        log_files: keep the output in rotated files too.
        memory_max, pids_max, cpu_max: limits on the whole tree (cgroups).
        rlimits: {"NOFILE": 1024} or {"AS": (soft, hard)}.
        user, group, groups: run as (root callers only).
        ready: when the process counts as ready, as procctl's --ready:
            "notify" (READY=1 on $NOTIFY_SOCKET), "tcp:PORT" or
            "tcp:HOST:PORT", "http://127.0.0.1:PORT/PATH" (a GET answering
            2xx), "exec:CMD ARG..." (exits 0) or "log:REGEX" (a stdout or
            stderr line matches). Until then the process is "starting" and
            its hang watchdog counts no idleness. None: ready at start.
        startup_timeout: seconds the process may take to be ready before
            procd stops it with reason STARTUP_TIMEOUT (None: the daemon's
            default, 60; 0: none). Only with ``ready``.
        ready_interval, ready_attempt_timeout: seconds between probe
            attempts and bound on each (tcp, http, exec).
        wait_ready: start_process returns only once the process is ready,
            and raises ProcessStartError if it ended first.
        restart: a RestartPolicy: procd starts the process again, under the
            same id, when a run ends (see RestartPolicy).
    """

    command: List[str]
    cwd: Optional[Union[str, "os.PathLike[str]"]] = None
    env: Optional[Dict[str, str]] = None
    timeout: float = 30.0
    auto_kill: bool = True
    name: str = "unknown"
    activity_callback: Optional[ActivityCallback] = None
    _: dataclasses.KW_ONLY
    # procd extras
    watchdog: Optional[WatchdogConfig] = None
    labels: Optional[Dict[str, str]] = None
    deadline: Optional[float] = None
    activity: Optional[Sequence[str]] = None
    activity_file: Optional[str] = None
    clear_env: bool = False
    kill_mode: Optional[str] = None
    stop_signal: Optional[str] = None
    grace: Optional[float] = None
    stdin_pipe: bool = False
    tty: bool = False
    window_size: Optional[Tuple[int, int]] = None
    log_files: Optional[bool] = None
    memory_max: int = 0
    pids_max: int = 0
    cpu_max: float = 0.0
    rlimits: Optional[Mapping[str, Union[int, Tuple[int, int]]]] = None
    user: Optional[str] = None
    group: Optional[str] = None
    groups: Optional[Sequence[str]] = None
    ready: Optional[str] = None
    startup_timeout: Optional[float] = None
    ready_interval: Optional[float] = None
    ready_attempt_timeout: Optional[float] = None
    wait_ready: bool = False
    restart: Optional[RestartPolicy] = None

    def __repr__(self) -> str:
        # The original's seven fields, then only the procd extras that are set.
        parts = []
        for i, f in enumerate(dataclasses.fields(self)):
            value = getattr(self, f.name)
            if i >= 7 and value == f.default:
                continue
            parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **overrides: Any) -> "ProcessConfig":
        """As the released runtime: ``timeout`` from ``process_timeout`` and
        ``auto_kill`` from ``auto_kill`` of ``config`` (nothing else), every
        other field from ``overrides``. TypeError without ``command`` or with
        ``timeout``/``auto_kill`` among the overrides."""
        return cls(
            timeout=config.get("process_timeout", 30.0),
            auto_kill=config.get("auto_kill", True),
            **overrides,
        )

    def watchdog_settings(self, default: Optional[WatchdogConfig] = None) -> WatchdogConfig:
        """The watchdog settings that apply to this process: its own
        ``watchdog``, else ``default`` (the manager's), else the defaults."""
        return self.watchdog or default or WatchdogConfig()

    def to_spec(
        self,
        watchdog: Optional[WatchdogConfig] = None,
        *,
        base_env: Optional[Mapping[str, str]] = None,
        default_cwd: Optional[str] = None,
    ) -> "pb.ProcessSpec":
        """Builds the ProcessSpec procd receives.

        Args:
            watchdog: the manager's settings, used unless this config has its
                own ``watchdog``.
            base_env: when given (and clear_env is off), the environment
                ``env`` is laid over; it is sent whole with clear_env, so the
                process does not see the daemon's environment.
            default_cwd: the working directory when ``cwd`` is None.
        """
        wd = self.watchdog_settings(watchdog)
        spec = pb.ProcessSpec(
            command=str_list(self.command, "command"),
            name=self.name or "",
            labels=str_map(self.labels, "labels"),
            clear_env=self.clear_env,
        )
        cwd = self.cwd if self.cwd is not None else default_cwd
        if cwd is not None:
            spec.cwd = os.fspath(cwd)
        env = str_map(self.env, "env")
        if base_env is not None and not self.clear_env:
            merged = dict(base_env)
            merged.update(env)
            spec.env.update(merged)
            spec.clear_env = True
        else:
            spec.env.update(env)

        for field, value in (
            ("timeout", wd.process_timeout),
            ("extra_buffer", wd.extra_buffer),
            ("max_hang_time", wd.max_hang_time),
            ("deadline", self.deadline),
            ("grace", self.grace),
        ):
            d = to_duration(value)
            if d is not None:
                getattr(spec, field).CopyFrom(d)
        if wd.auto_kill is not None:
            spec.auto_kill = bool(wd.auto_kill)

        sources = [enum_value(pb.ActivitySource, a, "activity") for a in (self.activity or [])]
        if sources and self.activity_callback is not None and pb.ACTIVITY_SOURCE_HEARTBEAT not in sources:
            sources.append(pb.ACTIVITY_SOURCE_HEARTBEAT)
        spec.activity.extend(sources)
        if self.activity_file:
            spec.activity_file = os.fspath(self.activity_file)

        if self.kill_mode is not None:
            spec.kill_mode = enum_value(pb.KillMode, self.kill_mode, "kill_mode")
        if self.stop_signal:
            spec.stop_signal = str(self.stop_signal)
        if self.stdin_pipe:
            spec.stdin = pb.STDIN_MODE_PIPE
        if self.tty:
            spec.tty = True
        if self.window_size is not None:
            rows, cols = self.window_size
            spec.window_size.rows, spec.window_size.cols = rows, cols
        if self.log_files is not None:
            spec.log_files = bool(self.log_files)
        spec.memory_max = int(self.memory_max or 0)
        spec.pids_max = int(self.pids_max or 0)
        spec.cpu_max = float(self.cpu_max or 0.0)
        for name, value in (self.rlimits or {}).items():
            soft, hard = value if isinstance(value, tuple) else (value, value)
            spec.rlimits.add(name=name, soft=soft, hard=hard)
        if self.user:
            spec.user = str(self.user)
        if self.group:
            spec.group = str(self.group)
        spec.groups.extend(str_list(self.groups, "groups"))
        if self.ready is not None:
            spec.ready.CopyFrom(readiness_probe(self.ready, self.ready_interval, self.ready_attempt_timeout))
        elif self.ready_interval is not None or self.ready_attempt_timeout is not None:
            raise ValueError("ready_interval and ready_attempt_timeout need ready")
        d = to_duration(self.startup_timeout)
        if d is not None:
            spec.startup_timeout.CopyFrom(d)
        if self.restart is not None:
            spec.restart.CopyFrom(self.restart.to_proto())
        return spec


class ProcessConfigBuilder:
    """The released runtime's fluent builder: every ``with_*`` returns the
    builder; :meth:`build` returns a ProcessConfig (ValueError mentioning a
    "non-empty command" when the command is missing or empty). Values are
    kept as given (a Path cwd stays a Path)."""

    def __init__(self) -> None:
        self._values: Dict[str, Any] = {}

    def with_command(self, command: List[str]) -> "ProcessConfigBuilder":
        self._values["command"] = command
        return self

    def with_cwd(self, cwd: Optional[Union[str, "os.PathLike[str]"]]) -> "ProcessConfigBuilder":
        self._values["cwd"] = cwd
        return self

    def with_env(self, env: Optional[Dict[str, str]]) -> "ProcessConfigBuilder":
        self._values["env"] = env
        return self

    def with_timeout(self, timeout: float) -> "ProcessConfigBuilder":
        self._values["timeout"] = timeout
        return self

    def with_auto_kill(self, auto_kill: bool) -> "ProcessConfigBuilder":
        self._values["auto_kill"] = auto_kill
        return self

    def with_name(self, name: str) -> "ProcessConfigBuilder":
        self._values["name"] = name
        return self

    def with_activity_callback(self, callback: Optional[ActivityCallback]) -> "ProcessConfigBuilder":
        self._values["activity_callback"] = callback
        return self

    def build(self) -> ProcessConfig:
        if not self._values.get("command"):
            raise ValueError("ProcessConfigBuilder needs a non-empty command (call with_command first)")
        return ProcessConfig(**self._values)


def merge_env(base: Optional[Mapping[str, str]], overrides: Optional[Mapping[str, str]]) -> Dict[str, str]:
    """A new dict: a copy of ``base`` (``os.environ`` when None) with
    ``overrides`` applied when they are truthy. ``base`` is not changed."""
    env = dict(os.environ if base is None else base)
    if overrides:
        env.update(overrides)
    return env


# Variables of this client's own service manager, never handed to processes
# that inherit this client's environment (procd sets its own NOTIFY_SOCKET).
_CLIENT_ONLY_ENV = (
    "NOTIFY_SOCKET",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "WATCHDOG_PID",
    "WATCHDOG_USEC",
)

# The released runtime removed these (in any case) from its children's
# environment, so a fuzzed local server is never reached through a proxy.
_PROXY_ENV = frozenset(("http_proxy", "https_proxy", "all_proxy", "no_proxy"))


# procd's default deny list for callers less privileged than procd (Go:
# internal/policy DeniedEnvNames; a Go test compares the two): names ending
# in "*" are prefixes. These variables change what a program loads or runs;
# procd refuses them from such callers, so the client never forwards them.
# BEGIN denied-env
DENIED_ENV = (
    "LD_*", "BASH_FUNC_*",
    "GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH",
    "MALLOC_TRACE", "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS",
    "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "IFS",
    "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONINSPECT", "PYTHONUSERBASE",
    "PERL5LIB", "PERLLIB", "PERL5OPT", "PERL5DB", "RUBYLIB", "RUBYOPT", "NODE_OPTIONS",
    "NODE_PATH", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "LUA_INIT",
    "LUA_PATH", "LUA_CPATH",
)
# END denied-env

_DENIED_PREFIXES = tuple(n[:-1] for n in DENIED_ENV if n.endswith("*"))
_DENIED_NAMES = frozenset(n for n in DENIED_ENV if not n.endswith("*"))


def denied_env(name: str) -> bool:
    """Whether procd refuses ``name`` from a caller less privileged than
    itself (see :data:`DENIED_ENV`)."""
    return name in _DENIED_NAMES or name.startswith(_DENIED_PREFIXES)


def client_environment(
    environ: Optional[Mapping[str, str]] = None, *, uid: Optional[int] = None
) -> Dict[str, str]:
    """The environment a process inherits from this client (see
    ``ClientConfig.inherit_context``): this process's environment minus

    * the service-manager variables that only make sense for this process
      (NOTIFY_SOCKET, LISTEN_*, WATCHDOG_*);
    * the proxy variables (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY, in
      any case), as the released runtime did;
    * for a caller that is not root, procd's deny list, :data:`DENIED_ENV`
      (LD_*, BASH_FUNC_*, glibc's unsecure variables, shell and interpreter
      start-up variables): procd refuses them from non-root callers (they
      would let a caller run code in processes run with the daemon's
      privileges). Root callers forward them.

    Variables set explicitly in ``ProcessConfig.env`` are sent as given.
    """
    env = os.environ if environ is None else environ
    if uid is None:
        uid = os.getuid()
    return {
        k: v
        for k, v in env.items()
        if k not in _CLIENT_ONLY_ENV
        and k.lower() not in _PROXY_ENV
        and not (uid != 0 and denied_env(k))
    }


#: The shortest token procd accepts (internal/policy MinTokenLen).
MIN_TOKEN_LEN = 16


def parse_token_file(text: str, path: str = "token file") -> str:
    """The bearer token in a client's token file: the token alone, or one
    line ``NAME ROLE TOKEN`` as in procd's --token-file (blank lines and
    ``#`` comments ignored). A file of several tokens (procd's own) is
    refused: a client sends one."""
    lines = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line and not line.startswith("#"):
            lines.append((n, line.split()))
    if not lines:
        raise ValueError(f"{path}: no token in it (write the token alone, or one line NAME ROLE TOKEN)")
    if len(lines) > 1:
        raise ValueError(
            f"{path} holds {len(lines)} tokens (procd's own file?); give the client a file with only yours"
        )
    n, fields = lines[0]
    if len(fields) == 1:
        token = fields[0]
    elif len(fields) == 3:
        name, role, token = fields
        if role not in ("control", "read"):
            raise ValueError(f"{path}:{n}: token {name}: unknown role {role!r} (use control or read)")
    else:
        raise ValueError(f"{path}:{n}: want NAME ROLE TOKEN (or the token alone), found {len(fields)} fields")
    if len(token) < MIN_TOKEN_LEN:
        raise ValueError(f"{path}:{n}: the token is {len(token)} characters; procd wants at least {MIN_TOKEN_LEN}")
    return token


def _read_token(path: str) -> str:
    with open(path, "r", encoding="utf-8") as f:
        return parse_token_file(f.read(), path)


def loopback_address(address: str) -> bool:
    """Whether ``host:port`` names a loopback address (``localhost``,
    127.0.0.0/8, ``[::1]``)."""
    host, sep, _ = address.rpartition(":")
    if not sep:
        return False
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclasses.dataclass
class ClientConfig:
    """How to reach procd, and the client-side defaults.

    Attributes:
        socket: procd's Unix socket. Default: PROCD_SOCKET, else
            :func:`default_socket`.
        address: ``host:port`` of procd's TCP listener (wins over socket).
            Default: PROCD_ADDR.
        tls_ca, tls_cert, tls_key: PEM files for TLS on ``address`` (the CA
            that signed procd's certificate; this client's certificate and key
            for mTLS). Defaults: PROCD_TLS_CA, PROCD_TLS_CERT, PROCD_TLS_KEY.
        tls_server_name: the name procd's certificate is checked against
            when ``address`` is one address of a name (a fan-out over a
            headless Service sets it); None: the address's host.
        token, token_file: a bearer token (or a file holding it: the token
            alone, or one line ``NAME ROLE TOKEN`` as in procd's
            --token-file) sent with every call over TCP; without TLS only to
            a loopback address. Default: PROCD_TOKEN_FILE.
        watchdog: the hang settings of the processes this client starts.
        inherit_context: when true, a process started without ``cwd`` runs in
            this client's current directory, and its ``env`` is laid over this
            client's environment (see :func:`client_environment` for what is
            left out), which is sent whole with clear_env: the process sees
            what a child of this client would see, as with the released
            runtime. When false, procd's own directory and environment are
            the base. None (default): true on a Unix socket (same machine),
            false over TCP (this client's paths mean nothing there).
        rpc_timeout: deadline in seconds for the short calls (start, status,
            signal, stats…); None: none. Waits, stops and streams are never
            cut by it.
        early_exit_check: seconds start_process waits to see whether the
            process exits at once; if it does (even with code 0),
            start_process raises ProcessStartError with its output, as the
            released runtime did (it slept 0.1 s). 0 turns the check off:
            every process procd started is returned.
    """

    socket: Optional[str] = None
    address: Optional[str] = None
    tls_ca: Optional[str] = None
    tls_cert: Optional[str] = None
    tls_key: Optional[str] = None
    tls_server_name: Optional[str] = None
    token: Optional[str] = None
    token_file: Optional[str] = None
    watchdog: WatchdogConfig = dataclasses.field(default_factory=WatchdogConfig)
    inherit_context: Optional[bool] = None
    rpc_timeout: Optional[float] = None
    early_exit_check: float = 0.1

    def resolve(self, environ: Optional[Mapping[str, str]] = None) -> "ClientConfig":
        """Returns a copy with the environment's defaults filled in.

        Precedence: explicit fields, then PROCD_ADDR / PROCD_SOCKET (an
        explicit socket or address disables both variables), then the
        default socket. TLS and token fields fall back to PROCD_TLS_CA,
        PROCD_TLS_CERT, PROCD_TLS_KEY and PROCD_TOKEN_FILE.
        """
        env = os.environ if environ is None else environ
        c = dataclasses.replace(self)
        if not c.socket and not c.address:
            c.address = env.get("PROCD_ADDR") or None
            if not c.address:
                c.socket = env.get("PROCD_SOCKET") or default_socket(environ=env)
        c.tls_ca = c.tls_ca or env.get("PROCD_TLS_CA") or None
        c.tls_cert = c.tls_cert or env.get("PROCD_TLS_CERT") or None
        c.tls_key = c.tls_key or env.get("PROCD_TLS_KEY") or None
        if c.token is None and c.token_file is None:
            c.token_file = env.get("PROCD_TOKEN_FILE") or None
        if c.inherit_context is None:
            c.inherit_context = not c.address
        return c

    @property
    def where(self) -> str:
        """The daemon's address, for messages."""
        return self.address or self.socket or "?"

    def bearer_token(self) -> Optional[str]:
        """The token to send, if any. Raises ValueError for a token file
        that is not one token, and for a token that would travel in clear
        off this machine: over TCP without TLS it goes to loopback only (as
        procctl and procd's --insecure)."""
        token = None
        if self.token is not None:
            token = self.token.strip()
        elif self.token_file:
            token = _read_token(self.token_file)
        if token and self.address and not (self.tls_ca or self.tls_cert) and not loopback_address(self.address):
            raise ValueError(
                f"refusing to send the bearer token in clear to {self.address}: "
                "connect with TLS (tls_ca) or to a loopback address"
            )
        return token or None

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> "ClientConfig":
        """Builds one from a mapping: the field names above as keys, the
        watchdog either as ``watchdog`` (a WatchdogConfig, or a mapping of
        its field names) or as the released runtime's top-level keys
        (``watchdog_check_interval``, ``watchdog_process_timeout``,
        ``watchdog_extra_buffer``, ``watchdog_max_hang_time``, ``auto_kill``;
        see :meth:`WatchdogConfig.from_config`). Unknown keys are ignored, so
        an application's whole configuration dict can be passed."""
        fields = {f.name for f in dataclasses.fields(cls)} - {"watchdog"}
        kwargs = {k: v for k, v in config.items() if k in fields}
        wd = config.get("watchdog")
        if isinstance(wd, WatchdogConfig):
            watchdog = wd
        elif isinstance(wd, Mapping):
            names = {f.name for f in dataclasses.fields(WatchdogConfig)}
            unknown = set(wd) - names
            if unknown:
                raise ValueError(f"watchdog: unknown keys {sorted(unknown)} (fields: {sorted(names)})")
            watchdog = WatchdogConfig(**wd)
        else:
            watchdog = WatchdogConfig.from_config(config)
        return cls(watchdog=watchdog, **kwargs)


def readiness_probe(
    ready: str, interval: Optional[float] = None, attempt_timeout: Optional[float] = None
) -> "pb.ReadinessProbe":
    """A ReadinessProbe from procctl's --ready syntax (see ProcessConfig.ready);
    ValueError for anything else."""
    if not isinstance(ready, str):
        raise TypeError(f"ready must be a string like 'tcp:8080', not {ready!r}")
    kind, _, arg = ready.partition(":")
    if ready == "notify":
        p = pb.ReadinessProbe(notify=True)
    elif kind in ("http", "https"):
        p = pb.ReadinessProbe(http=ready)
    elif kind == "tcp" and arg:
        p = pb.ReadinessProbe(tcp=arg)
    elif kind == "exec" and arg.split():
        p = pb.ReadinessProbe(exec=arg.split())
    elif kind == "log" and arg:
        p = pb.ReadinessProbe(log=arg)
    else:
        raise ValueError(
            f"ready {ready!r}: use 'notify', 'tcp:PORT', 'http://127.0.0.1:PORT/PATH', 'exec:CMD' or 'log:REGEX'"
        )
    for field, value in (("interval", interval), ("attempt_timeout", attempt_timeout)):
        d = to_duration(value)
        if d is not None:
            getattr(p, field).CopyFrom(d)
    return p
