"""Configuration: where procd is, watchdog defaults, and process configs.

:class:`ProcessConfig` and :class:`WatchdogConfig` keep the original asyncio
API's names, fields and defaults; :class:`ClientConfig` says how to reach the
daemon.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._convert import enum_value, str_list, str_map, to_duration
from ._pb import pb

__all__ = [
    "WatchdogConfig",
    "ProcessConfig",
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
    """The original watchdog settings, used by procd_client as the defaults
    of every process this manager starts.

    procd runs the watchdog itself (per-process timers on a monotonic clock);
    these values are sent in each ProcessSpec that does not set its own, so a
    process behaves as it did under the original watchdog. Set a field to
    None to leave it to the daemon's own default (``procd --process-timeout``
    etc., which are the same values unless the daemon was configured
    otherwise).

    Attributes:
        check_interval: how often (seconds) this client polls each process's
            ``activity_callback``. (procd's own sampling period of the cpu and
            file activity sources is the daemon's ``--check-interval``.)
        process_timeout: idle seconds after which a process is *slow*; the
            default ``timeout`` of a ProcessConfig. 0 turns hang detection off.
        extra_buffer: further idle seconds after which it is *hung* (and, with
            auto_kill, stopped with reason HUNG).
        max_hang_time: without auto_kill, idle seconds after which a hung
            process is SIGKILLed anyway.
        auto_kill: stop hung processes.
    """

    check_interval: float = 1.0
    process_timeout: Optional[float] = 30.0
    extra_buffer: Optional[float] = 5.0
    max_hang_time: Optional[float] = 60.0
    auto_kill: Optional[bool] = True

    @classmethod
    def from_config(cls, config: Optional[Mapping[str, Any]]) -> "WatchdogConfig":
        """Builds one from a mapping with the field names as keys (unknown
        keys are ignored, like the original's ``WatchdogConfig.from_config``)."""
        config = config or {}
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in config.items() if k in fields})

    def __post_init__(self) -> None:
        if self.check_interval is None or self.check_interval <= 0:
            raise ValueError(f"check_interval must be positive, got {self.check_interval!r}")


@dataclasses.dataclass
class ProcessConfig:
    """A process to start: the original fields, then procd's extras.

    Original fields (same names, same meaning):
        command: argv as a list of strings; ``command[0]`` is looked up in the
            PATH of the process's environment unless it contains a slash.
        cwd: working directory (must exist). None: see ``client_context`` on
            the manager (this client's cwd on a local socket, else procd's).
        env: variables set on top of the base environment (see
            ``client_context`` on the manager; ``clear_env`` starts empty).
        timeout: hang timeout in seconds (procd's ``timeout``): idle longer
            than this is slow, longer than timeout + extra_buffer is hung.
            None: the manager's ``WatchdogConfig.process_timeout`` (30.0).
            0 turns hang detection off for this process.
        auto_kill: stop the process when it is hung. None: the manager's
            ``WatchdogConfig.auto_kill`` (True).
        name: human-readable name (procd's default is "unknown" too).
        activity_callback: called every ``WatchdogConfig.check_interval``
            seconds by this client; when it reports new activity (a timestamp
            later than the last one, or True) the client sends an
            UpdateActivity heartbeat. Sync or async.

    procd extras (unset: the daemon's defaults):
        labels: free-form tags for selection.
        extra_buffer, max_hang_time: per-process watchdog settings (None: the
            manager's WatchdogConfig).
        deadline: wall-clock limit in seconds; the process is stopped with
            reason DEADLINE when it passes, whatever its activity.
        activity: activity sources: any of "heartbeat", "notify", "output",
            "cpu", "file" (default heartbeat, notify, output). With an
            activity_callback, "heartbeat" is added if missing.
        activity_file: a file whose modification time counts as activity.
        clear_env: start from an empty environment.
        kill_mode: "group" (default) or "leader".
        stop_signal: signal that starts a stop (default SIGTERM).
        grace: seconds between the stop signal and SIGKILL (default 2.0).
        stdin_pipe: give the process a stdin pipe (see write_input).
        tty, window_size: run on a pseudo-terminal of (rows, cols).
        log_files: keep the output in rotated files too.
        memory_max, pids_max, cpu_max: limits on the whole tree (cgroups).
        rlimits: {"NOFILE": 1024} or {"AS": (soft, hard)}.
        user, group, groups: run as (root callers only).
    """

    command: List[str]
    cwd: Optional[Union[str, "os.PathLike[str]"]] = None
    env: Optional[Dict[str, str]] = None
    timeout: Optional[float] = None
    auto_kill: Optional[bool] = None
    name: str = "unknown"
    activity_callback: Optional[ActivityCallback] = None
    # procd extras
    labels: Optional[Dict[str, str]] = None
    extra_buffer: Optional[float] = None
    max_hang_time: Optional[float] = None
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

    def to_spec(
        self,
        watchdog: Optional[WatchdogConfig] = None,
        *,
        base_env: Optional[Mapping[str, str]] = None,
        default_cwd: Optional[str] = None,
    ) -> "pb.ProcessSpec":
        """Builds the ProcessSpec procd receives.

        Args:
            watchdog: defaults for timeout, extra_buffer, max_hang_time and
                auto_kill when this config leaves them None.
            base_env: when given (and clear_env is off), the environment
                ``env`` is laid over; it is sent whole with clear_env, so the
                process does not see the daemon's environment.
            default_cwd: the working directory when ``cwd`` is None.
        """
        wd = watchdog or WatchdogConfig()
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

        def pick(own, default):
            return own if own is not None else default

        for field, value in (
            ("timeout", pick(self.timeout, wd.process_timeout)),
            ("extra_buffer", pick(self.extra_buffer, wd.extra_buffer)),
            ("max_hang_time", pick(self.max_hang_time, wd.max_hang_time)),
            ("deadline", self.deadline),
            ("grace", self.grace),
        ):
            d = to_duration(value)
            if d is not None:
                getattr(spec, field).CopyFrom(d)
        auto_kill = pick(self.auto_kill, wd.auto_kill)
        if auto_kill is not None:
            spec.auto_kill = bool(auto_kill)

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
        return spec


# Variables of this client's own service manager, never handed to processes
# started with client_context (procd sets its own NOTIFY_SOCKET).
_CLIENT_ONLY_ENV = (
    "NOTIFY_SOCKET",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "WATCHDOG_PID",
    "WATCHDOG_USEC",
)


def client_environment() -> Dict[str, str]:
    """This process's environment minus the service-manager variables that
    only make sense for this process itself."""
    return {k: v for k, v in os.environ.items() if k not in _CLIENT_ONLY_ENV}


def _read_token(path: str) -> str:
    with open(path, "r", encoding="utf-8") as f:
        return f.read().strip()


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
        token, token_file: a bearer token (or a file holding it) sent with
            every call. Default: PROCD_TOKEN_FILE.
        watchdog: defaults for the processes this client starts.
        client_context: when true, a ProcessConfig without cwd runs in this
            client's current directory and its env is laid over this client's
            environment, like the original's child processes; when false,
            procd's own cwd and environment are the base. None (default):
            true on a Unix socket (same machine), false over TCP.
        rpc_timeout: deadline in seconds for the short calls (start, status,
            signal, stats…); None: none. Waits, stops and streams are never
            cut by it.
    """

    socket: Optional[str] = None
    address: Optional[str] = None
    tls_ca: Optional[str] = None
    tls_cert: Optional[str] = None
    tls_key: Optional[str] = None
    token: Optional[str] = None
    token_file: Optional[str] = None
    watchdog: WatchdogConfig = dataclasses.field(default_factory=WatchdogConfig)
    client_context: Optional[bool] = None
    rpc_timeout: Optional[float] = None

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
        if c.client_context is None:
            c.client_context = not c.address
        return c

    @property
    def where(self) -> str:
        """The daemon's address, for messages."""
        return self.address or self.socket or "?"

    def bearer_token(self) -> Optional[str]:
        if self.token is not None:
            return self.token.strip()
        if self.token_file:
            return _read_token(self.token_file)
        return None

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> "ClientConfig":
        """Builds one from a mapping: the field names above as keys, the
        watchdog either as ``watchdog`` (a WatchdogConfig or a mapping) or as
        top-level WatchdogConfig keys. Unknown keys are ignored, so an
        application's whole configuration dict can be passed."""
        fields = {f.name for f in dataclasses.fields(cls)} - {"watchdog"}
        kwargs = {k: v for k, v in config.items() if k in fields}
        wd = config.get("watchdog")
        if isinstance(wd, WatchdogConfig):
            watchdog = wd
        elif isinstance(wd, Mapping):
            watchdog = WatchdogConfig.from_config(wd)
        else:
            watchdog = WatchdogConfig.from_config(config)
        return cls(watchdog=watchdog, **kwargs)
