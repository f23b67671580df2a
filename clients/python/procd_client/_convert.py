"""Conversions between procd's protobuf messages and plain Python values.

Conventions (the same everywhere in procd_client):

* durations are float seconds, timestamps float seconds since the epoch
  (like ``time.time()``); unset ones are ``None``;
* enums are short names: ``"running"``, ``"heartbeat"``, ``"started"``,
  ``"exit_code"``…, lower case, except exit reasons, which keep procd's upper
  case (``"EXITED"``, ``"STOPPED"``, ``"HUNG"``, ``"DEADLINE"``,
  ``"DAEMON_SHUTDOWN"``) as in procctl and in the stats' ``exits_by_reason``;
  an unspecified value is ``None``;
* a process's *returncode* follows asyncio: the exit code, or ``-N`` when
  signal N killed it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.descriptor import FieldDescriptor

from ._pb import pb

# ---------------------------------------------------------------- scalars


def to_duration(seconds: Optional[float]) -> Optional[duration_pb2.Duration]:
    """Float seconds to a Duration; None stays None (unset)."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"a duration must be a number of seconds, not {seconds!r}")
    d = duration_pb2.Duration()
    d.FromNanoseconds(round(seconds * 1e9))
    return d


def from_duration(d: duration_pb2.Duration) -> float:
    return d.seconds + d.nanos / 1e9


def from_timestamp(t: timestamp_pb2.Timestamp) -> float:
    return t.seconds + t.nanos / 1e9


# ---------------------------------------------------------------- enums

_UPPER_CASE_ENUMS = {"ExitReason"}


def _enum_prefix(enum_name: str) -> str:
    # ProcessState -> PROCESS_STATE_
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum_name).upper() + "_"


def enum_name(enum_type, value: int) -> Optional[str]:
    """Short name of an enum value: PROCESS_STATE_RUNNING -> "running";
    ExitReason values keep upper case; UNSPECIFIED -> None."""
    desc = enum_type.DESCRIPTOR if hasattr(enum_type, "DESCRIPTOR") else enum_type
    v = desc.values_by_number.get(value)
    if v is None:
        return str(value)
    name = v.name
    prefix = _enum_prefix(desc.name)
    if name.startswith(prefix):
        name = name[len(prefix):]
    if name == "UNSPECIFIED":
        return None
    return name if desc.name in _UPPER_CASE_ENUMS else name.lower()


def enum_value(enum_type, name: Union[str, int], what: str) -> int:
    """Parses a short, full or numeric enum name ("exited", "EXITED",
    "EVENT_TYPE_EXITED", 2) into its value; ValueError if unknown."""
    if isinstance(name, int) and not isinstance(name, bool):
        return name
    if not isinstance(name, str):
        raise TypeError(f"{what}: expected a name, not {name!r}")
    desc = enum_type.DESCRIPTOR
    prefix = _enum_prefix(desc.name)
    key = name.strip().upper().replace("-", "_")
    for candidate in (key, prefix + key):
        v = desc.values_by_name.get(candidate)
        if v is not None and not v.name.endswith("_UNSPECIFIED"):
            return v.number
    choices = ", ".join(enum_name(enum_type, v.number) for v in desc.values if v.number != 0)
    raise ValueError(f"{what}: unknown value {name!r} (one of: {choices})")


def enum_values(enum_type, names: Optional[Iterable[Union[str, int]]], what: str) -> List[int]:
    if names is None:
        return []
    if isinstance(names, (str, int)):
        names = [names]
    return [enum_value(enum_type, n, what) for n in names]


# ---------------------------------------------------------------- messages


def message_to_dict(msg) -> Dict[str, Any]:
    """Converts any procd message into a dict with every field present:
    durations and timestamps as float seconds, enums as short names,
    maps as dicts, repeated fields as lists, unset messages and unset
    optional scalars as None. int64 values stay ints (unlike
    json_format.MessageToDict)."""
    out: Dict[str, Any] = {}
    for f in msg.DESCRIPTOR.fields:
        out[f.name] = _field_value(msg, f)
    return out


def _field_value(msg, f: FieldDescriptor):
    value = getattr(msg, f.name)
    if _is_map(f):
        vf = f.message_type.fields_by_name["value"]
        return {k: _single(v, vf) for k, v in value.items()}
    if f.label == FieldDescriptor.LABEL_REPEATED:
        return [_single(v, f) for v in value]
    if f.type == FieldDescriptor.TYPE_MESSAGE or f.containing_oneof is not None or _has_presence(f):
        if not msg.HasField(f.name):
            return None
    return _single(value, f)


def _has_presence(f: FieldDescriptor) -> bool:
    # proto3 "optional" scalars live in a synthetic oneof.
    return getattr(f, "has_presence", False) and f.type != FieldDescriptor.TYPE_MESSAGE


def _is_map(f: FieldDescriptor) -> bool:
    return (
        f.type == FieldDescriptor.TYPE_MESSAGE
        and f.message_type.GetOptions().map_entry
    )


def _single(value, f: FieldDescriptor):
    if f.type == FieldDescriptor.TYPE_ENUM:
        return enum_name(f.enum_type, value)
    if f.type == FieldDescriptor.TYPE_MESSAGE:
        full = f.message_type.full_name
        if full == "google.protobuf.Duration":
            return from_duration(value)
        if full == "google.protobuf.Timestamp":
            return from_timestamp(value)
        return message_to_dict(value)
    return value


# ---------------------------------------------------------------- process records


def returncode(exit_status) -> Optional[int]:
    """asyncio's returncode of an ExitStatus: the exit code, or -N when
    signal N killed the process; None for no exit status."""
    if exit_status is None:
        return None
    if exit_status.HasField("exit_code"):
        return exit_status.exit_code
    if exit_status.HasField("signal_number"):
        return -exit_status.signal_number
    return None


def process_status(p) -> Dict[str, Any]:
    """The status dict of a Process record (see ProcessManager.get_process_status)."""
    d = message_to_dict(p)
    lost = p.state == pb.PROCESS_STATE_LOST
    # FAILED: a restart policy gave up (reason CRASH_LOOP); final like EXITED.
    finished = p.state in (pb.PROCESS_STATE_EXITED, pb.PROCESS_STATE_FAILED)
    # BACKOFF: a run ended and the restart policy starts the next one after
    # a delay (restart["next_restart_at"]); exit is the last run's.
    restarting = p.state == pb.PROCESS_STATE_BACKOFF
    ex = p.exit if p.HasField("exit") else None
    d.update(
        # "lost": procd died while it ran; a restarted procd found only its
        # record (lost_at, last_state), and how it ended is unknown.
        # "starting": not ready yet (ProcessConfig.ready; ready_at is set once it is).
        status="lost" if lost else "finished" if finished else "restarting" if restarting
        else "starting" if p.state == pb.PROCESS_STATE_STARTING else "running",
        exit_code=returncode(ex),
        signal=(ex.signal or None) if ex is not None else None,
        signal_number=ex.signal_number if ex is not None and ex.HasField("signal_number") else None,
        reason=enum_name(pb.ExitReason, ex.reason) if ex is not None else None,
        core_dumped=ex.core_dumped if ex is not None else False,
        stdout_bytes=p.stdout.total_bytes,
        stderr_bytes=p.stderr.total_bytes,
        record=p,
    )
    return d


# ---------------------------------------------------------------- events


@dataclasses.dataclass(frozen=True)
class Event:
    """One entry of procd's event stream.

    ``type`` is a short name: ``started``, ``exited``, ``signal_sent``,
    ``escalated``, ``leftovers``, ``output_dropped``, ``removed``, ``slow``,
    ``hung``, ``deadline``, ``activity_ready``, ``recovered``,
    ``notify_status``, ``batch_started``, ``job_finished``,
    ``batch_finished``, ``oom_killed``, ``restarting``. ``exit`` (for
    ``exited``) is the exit record as a dict, with ``returncode`` added
    (asyncio convention); ``exited`` comes once per process, when it is
    final. ``restarting``: a run ended (``detail`` says how) and the
    restart policy starts run number ``attempt`` after ``delay`` seconds;
    ``started`` carries its run's ``attempt`` too.
    """

    seq: int
    time: float
    type: Optional[str]
    process_id: str
    pid: int
    name: str
    labels: Mapping[str, str]
    exit: Optional[Dict[str, Any]]
    signal: str
    stream: Optional[str]
    detail: str
    idle: Optional[float]
    batch_id: str
    job_index: int
    delay: Optional[float] = None
    attempt: int = 0
    raw: Any = dataclasses.field(repr=False, compare=False, default=None)

    def to_dict(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("raw")
        return d


def exit_dict(ex) -> Dict[str, Any]:
    d = message_to_dict(ex)
    d["returncode"] = returncode(ex)
    return d


def event_from_proto(e) -> Event:
    return Event(
        seq=e.seq,
        time=from_timestamp(e.time),
        type=enum_name(pb.EventType, e.type),
        process_id=e.process_id,
        pid=e.pid,
        name=e.name,
        labels=dict(e.labels),
        exit=exit_dict(e.exit) if e.HasField("exit") else None,
        signal=e.signal,
        stream=enum_name(pb.Stream, e.stream),
        detail=e.detail,
        idle=from_duration(e.idle) if e.HasField("idle") else None,
        batch_id=e.batch_id,
        job_index=e.job_index,
        delay=from_duration(e.delay) if e.HasField("delay") else None,
        attempt=e.attempt,
        raw=e,
    )


# ---------------------------------------------------------------- output


@dataclasses.dataclass(frozen=True)
class OutputChunk:
    """A chunk of captured output: ``stream`` is ``"stdout"`` or
    ``"stderr"``, ``offset`` the stream offset of ``data[0]``, and
    ``skipped_bytes`` how many bytes before it were no longer held by the
    daemon's ring (never silently skipped)."""

    stream: str
    offset: int
    data: bytes
    skipped_bytes: int = 0


def chunk_from_proto(r) -> OutputChunk:
    return OutputChunk(
        stream=enum_name(pb.Stream, r.stream) or "",
        offset=r.offset,
        data=bytes(r.data),
        skipped_bytes=r.skipped_bytes,
    )


def stream_value(stream: Optional[str]) -> int:
    """None/"both" -> unspecified (both streams), "stdout", "stderr"."""
    if stream is None or stream == "both":
        return pb.STREAM_UNSPECIFIED
    return enum_value(pb.Stream, stream, "stream")


def str_map(m: Optional[Mapping[str, Any]], what: str) -> Dict[str, str]:
    """Validates a str->str mapping (env, labels)."""
    if m is None:
        return {}
    out = {}
    for k, v in m.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"{what}: keys and values must be str, got {k!r}: {v!r}")
        out[k] = v
    return out


def str_list(xs: Optional[Sequence[Any]], what: str) -> List[str]:
    if xs is None:
        return []
    if isinstance(xs, (str, bytes)):
        raise TypeError(f"{what} must be a list of strings, not a single string: {xs!r}")
    out = []
    for x in xs:
        if hasattr(x, "__fspath__"):
            x = x.__fspath__()
        if not isinstance(x, str):
            raise TypeError(f"{what}: every item must be a str, got {x!r}")
        out.append(x)
    return out
