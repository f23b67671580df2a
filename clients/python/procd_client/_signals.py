"""SignalDispatcher and the signal strategies of the released runtime.

The default kinds map to signals sent to the process's group: "timeout" to
SIGTERM, "force" to SIGKILL, "interrupt" to SIGINT. For a procd process the
signal is a SendSignal call (procd signals the group it created); for a
process this client registered itself it is sent from here, as the original
did. Custom strategies are either objects with ``async send(pid,
process_info=None) -> bool`` (run here) or simply a signal name or number.
"""

from __future__ import annotations

import logging
import os
import signal as _signal
from typing import Any, Dict, List, Mapping, Optional, Union

from ._process import ProcessHandle
from ._registry import ProcessRegistry

__all__ = [
    "ProcessSignalStrategy",
    "TermSignalStrategy",
    "KillSignalStrategy",
    "InterruptSignalStrategy",
    "SignalDispatcher",
    "resolve_signal",
]

log = logging.getLogger("procd_client")


def resolve_signal(value: Union[int, str, _signal.Signals]) -> Optional[_signal.Signals]:
    """A signal from a number, a ``signal.Signals`` or a name ("SIGUSR1",
    "usr1"); None if it names no signal."""
    if isinstance(value, _signal.Signals):
        return value
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            return _signal.Signals(value)
        if isinstance(value, str):
            s = value.strip()
            if s.isdigit():
                return _signal.Signals(int(s))
            name = s.upper()
            if not name.startswith("SIG"):
                name = "SIG" + name
            return _signal.Signals[name]
    except (KeyError, ValueError):
        return None
    return None


async def deliver(registry: ProcessRegistry, pid: int, sig: _signal.Signals, process_info: Any = None) -> bool:
    """Sends ``sig`` to the process group of ``pid``: through procd for a
    procd process (also one this manager did not start), from here for a
    process this client registered itself. False if there is no such live
    process."""
    handle = registry.handle_for(pid)
    if handle is None and isinstance(process_info, Mapping) and isinstance(process_info.get("process"), ProcessHandle):
        handle = process_info["process"]
    if handle is not None:
        return await registry._signal(handle, sig.name)
    record = await registry.get_process(pid)
    if record is None:
        # Not this manager's: a process procd holds (started by another client).
        return await registry._signal(pid, sig.name)
    process = record["process"]
    if getattr(process, "returncode", None) is not None:
        return False
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)  # it leads its own group, as the original's children did
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


class ProcessSignalStrategy:
    """A way to signal a process: ``await strategy.send(pid,
    process_info=None)`` returns True when the signal was sent."""

    #: The signal the built-in strategies send.
    signal: Optional[_signal.Signals] = None

    def __init__(self, registry: Optional[ProcessRegistry] = None, logger: Optional[logging.Logger] = None):
        self.registry = registry
        self.logger = logger or log

    async def send(self, pid: int, process_info: Any = None) -> bool:
        if self.signal is None or self.registry is None:
            raise NotImplementedError("a signal strategy sends a signal: override send()")
        return await deliver(self.registry, pid, self.signal, process_info)


class TermSignalStrategy(ProcessSignalStrategy):
    """The "timeout" kind: SIGTERM to the process group."""

    signal = _signal.SIGTERM


class KillSignalStrategy(ProcessSignalStrategy):
    """The "force" kind: SIGKILL to the process group."""

    signal = _signal.SIGKILL


class InterruptSignalStrategy(ProcessSignalStrategy):
    """The "interrupt" kind: SIGINT to the process group."""

    signal = _signal.SIGINT


class _NamedSignal(ProcessSignalStrategy):
    def __init__(self, sig: _signal.Signals, registry: Optional[ProcessRegistry]):
        super().__init__(registry)
        self.signal = sig


class SignalDispatcher:
    """Sends kinds of signals by name, as the released runtime's dispatcher.

    ``SignalDispatcher(registry, logger, strategies=None,
    register_defaults=True)``; the defaults are "timeout", "force" and
    "interrupt". ``send(kind, pid)`` returns False for an unknown pid or
    kind, except that a kind naming a real signal ("SIGUSR1", "HUP", "10")
    sends that signal (a procd_client extension).
    """

    def __init__(
        self,
        registry: ProcessRegistry,
        logger: Optional[logging.Logger] = None,
        strategies: Optional[Mapping[str, Any]] = None,
        register_defaults: bool = True,
    ):
        self.registry = registry
        self.logger = logger or log
        self._strategies: Dict[str, Any] = {}
        if register_defaults:
            self._strategies["timeout"] = TermSignalStrategy(registry, self.logger)
            self._strategies["force"] = KillSignalStrategy(registry, self.logger)
            self._strategies["interrupt"] = InterruptSignalStrategy(registry, self.logger)
        for name, s in (strategies or {}).items():
            self.register_strategy(name, s)

    def register_strategy(self, name: str, strategy: Any) -> None:
        """Adds or replaces a kind: a strategy object (``async send(pid,
        process_info=None)``) or a signal name or number."""
        if not hasattr(strategy, "send"):
            sig = resolve_signal(strategy)
            if sig is None:
                raise ValueError(f"strategy {name!r}: {strategy!r} is neither a strategy nor a signal")
            strategy = _NamedSignal(sig, self.registry)
        elif isinstance(strategy, ProcessSignalStrategy) and strategy.registry is None:
            strategy.registry = self.registry
        self._strategies[name] = strategy

    def unregister_strategy(self, name: str) -> bool:
        return self._strategies.pop(name, None) is not None

    def list_strategies(self) -> List[str]:
        return list(self._strategies)

    def strategy(self, name: str) -> Optional[Any]:
        return self._strategies.get(name)

    async def send(self, signal_type: str, pid: int, process_info: Any = None) -> bool:
        """Sends the kind ``signal_type`` to ``pid``; False if either is
        unknown or the process has exited."""
        strategy = self._strategies.get(signal_type)
        if strategy is None:
            sig = resolve_signal(signal_type)
            if sig is None:
                self.logger.warning("procd_client: unknown signal type %r", signal_type)
                return False
            strategy = _NamedSignal(sig, self.registry)
        if process_info is None:
            process_info = await self.registry.get_process(pid)
        return bool(await strategy.send(pid, process_info))
