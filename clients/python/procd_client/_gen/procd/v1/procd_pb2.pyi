from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

ACTIVITY_SOURCE_CPU: ActivitySource
ACTIVITY_SOURCE_FILE: ActivitySource
ACTIVITY_SOURCE_HEARTBEAT: ActivitySource
ACTIVITY_SOURCE_NOTIFY: ActivitySource
ACTIVITY_SOURCE_OUTPUT: ActivitySource
ACTIVITY_SOURCE_UNSPECIFIED: ActivitySource
DESCRIPTOR: _descriptor.FileDescriptor
EVENT_TYPE_ACTIVITY_READY: EventType
EVENT_TYPE_BATCH_FINISHED: EventType
EVENT_TYPE_BATCH_STARTED: EventType
EVENT_TYPE_DEADLINE: EventType
EVENT_TYPE_ESCALATED: EventType
EVENT_TYPE_EXITED: EventType
EVENT_TYPE_HUNG: EventType
EVENT_TYPE_JOB_FINISHED: EventType
EVENT_TYPE_LEFTOVERS: EventType
EVENT_TYPE_NOTIFY_STATUS: EventType
EVENT_TYPE_OOM_KILLED: EventType
EVENT_TYPE_OUTPUT_DROPPED: EventType
EVENT_TYPE_READY: EventType
EVENT_TYPE_RECOVERED: EventType
EVENT_TYPE_REMOVED: EventType
EVENT_TYPE_RESTARTING: EventType
EVENT_TYPE_SIGNAL_SENT: EventType
EVENT_TYPE_SLOW: EventType
EVENT_TYPE_STARTED: EventType
EVENT_TYPE_UNSPECIFIED: EventType
EXIT_REASON_CLIENT_GONE: ExitReason
EXIT_REASON_CRASH_LOOP: ExitReason
EXIT_REASON_DAEMON_SHUTDOWN: ExitReason
EXIT_REASON_DEADLINE: ExitReason
EXIT_REASON_EXITED: ExitReason
EXIT_REASON_HUNG: ExitReason
EXIT_REASON_STARTUP_TIMEOUT: ExitReason
EXIT_REASON_STOPPED: ExitReason
EXIT_REASON_UNSPECIFIED: ExitReason
JOB_OUTCOME_CANCELLED: JobOutcome
JOB_OUTCOME_EXIT_CODE: JobOutcome
JOB_OUTCOME_SIGNAL: JobOutcome
JOB_OUTCOME_START_FAILED: JobOutcome
JOB_OUTCOME_SUCCEEDED: JobOutcome
JOB_OUTCOME_TIMEOUT: JobOutcome
JOB_OUTCOME_UNSPECIFIED: JobOutcome
KILL_MODE_GROUP: KillMode
KILL_MODE_LEADER: KillMode
KILL_MODE_UNSPECIFIED: KillMode
PROCESS_STATE_BACKOFF: ProcessState
PROCESS_STATE_EXITED: ProcessState
PROCESS_STATE_FAILED: ProcessState
PROCESS_STATE_LOST: ProcessState
PROCESS_STATE_RUNNING: ProcessState
PROCESS_STATE_STARTING: ProcessState
PROCESS_STATE_STOPPING: ProcessState
PROCESS_STATE_UNSPECIFIED: ProcessState
RESTART_FAILURE_DEADLINE: RestartFailure
RESTART_FAILURE_HUNG: RestartFailure
RESTART_FAILURE_NONZERO: RestartFailure
RESTART_FAILURE_SIGNAL: RestartFailure
RESTART_FAILURE_STARTUP_TIMEOUT: RestartFailure
RESTART_FAILURE_UNSPECIFIED: RestartFailure
RESTART_MODE_ALWAYS: RestartMode
RESTART_MODE_NEVER: RestartMode
RESTART_MODE_ON_FAILURE: RestartMode
RESTART_MODE_UNSPECIFIED: RestartMode
STDIN_MODE_NULL: StdinMode
STDIN_MODE_PIPE: StdinMode
STDIN_MODE_UNSPECIFIED: StdinMode
STREAM_STDERR: Stream
STREAM_STDOUT: Stream
STREAM_UNSPECIFIED: Stream

class AttachRequest(_message.Message):
    __slots__ = ["close_stdin", "release_stdin", "resize", "start", "stdin"]
    CLOSE_STDIN_FIELD_NUMBER: _ClassVar[int]
    RELEASE_STDIN_FIELD_NUMBER: _ClassVar[int]
    RESIZE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    STDIN_FIELD_NUMBER: _ClassVar[int]
    close_stdin: bool
    release_stdin: bool
    resize: WindowSize
    start: AttachStart
    stdin: bytes
    def __init__(self, start: _Optional[_Union[AttachStart, _Mapping]] = ..., stdin: _Optional[bytes] = ..., close_stdin: bool = ..., release_stdin: bool = ..., resize: _Optional[_Union[WindowSize, _Mapping]] = ...) -> None: ...

class AttachResponse(_message.Message):
    __slots__ = ["exit", "local_pipes", "output", "started", "stdin_released"]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    LOCAL_PIPES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    STDIN_RELEASED_FIELD_NUMBER: _ClassVar[int]
    exit: Process
    local_pipes: LocalPipesResult
    output: ReadOutputResponse
    started: Process
    stdin_released: bool
    def __init__(self, output: _Optional[_Union[ReadOutputResponse, _Mapping]] = ..., exit: _Optional[_Union[Process, _Mapping]] = ..., started: _Optional[_Union[Process, _Mapping]] = ..., stdin_released: bool = ..., local_pipes: _Optional[_Union[LocalPipesResult, _Mapping]] = ...) -> None: ...

class AttachStart(_message.Message):
    __slots__ = ["id", "local_pipes", "lossy", "pid", "spec", "stderr_offset", "stdin", "stdout_offset", "tail_bytes"]
    ID_FIELD_NUMBER: _ClassVar[int]
    LOCAL_PIPES_FIELD_NUMBER: _ClassVar[int]
    LOSSY_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STDERR_OFFSET_FIELD_NUMBER: _ClassVar[int]
    STDIN_FIELD_NUMBER: _ClassVar[int]
    STDOUT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    TAIL_BYTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    local_pipes: LocalPipes
    lossy: bool
    pid: int
    spec: ProcessSpec
    stderr_offset: int
    stdin: bool
    stdout_offset: int
    tail_bytes: int
    def __init__(self, id: _Optional[str] = ..., pid: _Optional[int] = ..., spec: _Optional[_Union[ProcessSpec, _Mapping]] = ..., stdin: bool = ..., stdout_offset: _Optional[int] = ..., stderr_offset: _Optional[int] = ..., tail_bytes: _Optional[int] = ..., lossy: bool = ..., local_pipes: _Optional[_Union[LocalPipes, _Mapping]] = ...) -> None: ...

class BatchStarted(_message.Message):
    __slots__ = ["batch_id", "jobs", "max_concurrency"]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    jobs: int
    max_concurrency: int
    def __init__(self, batch_id: _Optional[str] = ..., jobs: _Optional[int] = ..., max_concurrency: _Optional[int] = ...) -> None: ...

class BatchStats(_message.Message):
    __slots__ = ["batches_running", "jobs_failed_total", "jobs_queued", "jobs_running", "jobs_succeeded_total", "max_running_jobs", "retries_total"]
    BATCHES_RUNNING_FIELD_NUMBER: _ClassVar[int]
    JOBS_FAILED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    JOBS_QUEUED_FIELD_NUMBER: _ClassVar[int]
    JOBS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    JOBS_SUCCEEDED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    MAX_RUNNING_JOBS_FIELD_NUMBER: _ClassVar[int]
    RETRIES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    batches_running: int
    jobs_failed_total: int
    jobs_queued: int
    jobs_running: int
    jobs_succeeded_total: int
    max_running_jobs: int
    retries_total: int
    def __init__(self, batches_running: _Optional[int] = ..., jobs_queued: _Optional[int] = ..., jobs_running: _Optional[int] = ..., jobs_succeeded_total: _Optional[int] = ..., jobs_failed_total: _Optional[int] = ..., retries_total: _Optional[int] = ..., max_running_jobs: _Optional[int] = ...) -> None: ...

class BatchSummary(_message.Message):
    __slots__ = ["batch_id", "cancelled", "errors", "failed", "jobs", "results", "retries", "stopped", "succeeded", "wall_time"]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    STOPPED_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    WALL_TIME_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    cancelled: int
    errors: _containers.RepeatedScalarFieldContainer[int]
    failed: int
    jobs: _containers.RepeatedCompositeFieldContainer[JobResult]
    results: _containers.RepeatedScalarFieldContainer[int]
    retries: int
    stopped: str
    succeeded: int
    wall_time: _duration_pb2.Duration
    def __init__(self, batch_id: _Optional[str] = ..., jobs: _Optional[_Iterable[_Union[JobResult, _Mapping]]] = ..., results: _Optional[_Iterable[int]] = ..., errors: _Optional[_Iterable[int]] = ..., succeeded: _Optional[int] = ..., failed: _Optional[int] = ..., cancelled: _Optional[int] = ..., retries: _Optional[int] = ..., wall_time: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., stopped: _Optional[str] = ...) -> None: ...

class CleanupFinishedRequest(_message.Message):
    __slots__ = ["selector"]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    selector: Selector
    def __init__(self, selector: _Optional[_Union[Selector, _Mapping]] = ...) -> None: ...

class CleanupFinishedResponse(_message.Message):
    __slots__ = ["removed_ids"]
    REMOVED_IDS_FIELD_NUMBER: _ClassVar[int]
    removed_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, removed_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DaemonStats(_message.Message):
    __slots__ = ["cgroup_base", "containment", "controllers", "goroutines", "pid", "rss_bytes", "uptime", "version"]
    class ControllersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CGROUP_BASE_FIELD_NUMBER: _ClassVar[int]
    CONTAINMENT_FIELD_NUMBER: _ClassVar[int]
    CONTROLLERS_FIELD_NUMBER: _ClassVar[int]
    GOROUTINES_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    UPTIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    cgroup_base: str
    containment: str
    controllers: _containers.ScalarMap[str, str]
    goroutines: int
    pid: int
    rss_bytes: int
    uptime: _duration_pb2.Duration
    version: str
    def __init__(self, version: _Optional[str] = ..., pid: _Optional[int] = ..., uptime: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., goroutines: _Optional[int] = ..., rss_bytes: _Optional[int] = ..., containment: _Optional[str] = ..., controllers: _Optional[_Mapping[str, str]] = ..., cgroup_base: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ["attempt", "batch_id", "delay", "detail", "exit", "idle", "job_index", "labels", "name", "pid", "process_id", "seq", "signal", "stream", "time", "type"]
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    DELAY_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    IDLE_FIELD_NUMBER: _ClassVar[int]
    JOB_INDEX_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    batch_id: str
    delay: _duration_pb2.Duration
    detail: str
    exit: ExitStatus
    idle: _duration_pb2.Duration
    job_index: int
    labels: _containers.ScalarMap[str, str]
    name: str
    pid: int
    process_id: str
    seq: int
    signal: str
    stream: Stream
    time: _timestamp_pb2.Timestamp
    type: EventType
    def __init__(self, seq: _Optional[int] = ..., time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., type: _Optional[_Union[EventType, str]] = ..., process_id: _Optional[str] = ..., pid: _Optional[int] = ..., name: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., exit: _Optional[_Union[ExitStatus, _Mapping]] = ..., signal: _Optional[str] = ..., stream: _Optional[_Union[Stream, str]] = ..., detail: _Optional[str] = ..., idle: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., batch_id: _Optional[str] = ..., job_index: _Optional[int] = ..., delay: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., attempt: _Optional[int] = ...) -> None: ...

class EventStats(_message.Message):
    __slots__ = ["last_seq", "oldest_seq", "ring_size", "slow_subscribers_total", "subscribers"]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    OLDEST_SEQ_FIELD_NUMBER: _ClassVar[int]
    RING_SIZE_FIELD_NUMBER: _ClassVar[int]
    SLOW_SUBSCRIBERS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBERS_FIELD_NUMBER: _ClassVar[int]
    last_seq: int
    oldest_seq: int
    ring_size: int
    slow_subscribers_total: int
    subscribers: int
    def __init__(self, last_seq: _Optional[int] = ..., oldest_seq: _Optional[int] = ..., ring_size: _Optional[int] = ..., subscribers: _Optional[int] = ..., slow_subscribers_total: _Optional[int] = ...) -> None: ...

class ExitStatus(_message.Message):
    __slots__ = ["core_dumped", "exit_code", "leftovers_killed", "oom_killed", "output_truncated", "reason", "rusage", "signal", "signal_number", "tree"]
    CORE_DUMPED_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    LEFTOVERS_KILLED_FIELD_NUMBER: _ClassVar[int]
    OOM_KILLED_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RUSAGE_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TREE_FIELD_NUMBER: _ClassVar[int]
    core_dumped: bool
    exit_code: int
    leftovers_killed: int
    oom_killed: bool
    output_truncated: bool
    reason: ExitReason
    rusage: ResourceUsage
    signal: str
    signal_number: int
    tree: TreeUsage
    def __init__(self, reason: _Optional[_Union[ExitReason, str]] = ..., exit_code: _Optional[int] = ..., signal_number: _Optional[int] = ..., signal: _Optional[str] = ..., core_dumped: bool = ..., rusage: _Optional[_Union[ResourceUsage, _Mapping]] = ..., leftovers_killed: _Optional[int] = ..., output_truncated: bool = ..., oom_killed: bool = ..., tree: _Optional[_Union[TreeUsage, _Mapping]] = ...) -> None: ...

class GetProcessRequest(_message.Message):
    __slots__ = ["id", "pid"]
    ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    id: str
    pid: int
    def __init__(self, id: _Optional[str] = ..., pid: _Optional[int] = ...) -> None: ...

class GetProcessResponse(_message.Message):
    __slots__ = ["process"]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    process: Process
    def __init__(self, process: _Optional[_Union[Process, _Mapping]] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ["batches", "daemon", "events", "output", "processes", "watchdog"]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    DAEMON_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    WATCHDOG_FIELD_NUMBER: _ClassVar[int]
    batches: BatchStats
    daemon: DaemonStats
    events: EventStats
    output: OutputStats
    processes: ProcessStats
    watchdog: WatchdogStats
    def __init__(self, processes: _Optional[_Union[ProcessStats, _Mapping]] = ..., output: _Optional[_Union[OutputStats, _Mapping]] = ..., events: _Optional[_Union[EventStats, _Mapping]] = ..., daemon: _Optional[_Union[DaemonStats, _Mapping]] = ..., watchdog: _Optional[_Union[WatchdogStats, _Mapping]] = ..., batches: _Optional[_Union[BatchStats, _Mapping]] = ...) -> None: ...

class JobAttempt(_message.Message):
    __slots__ = ["attempt", "error", "index", "outcome", "process", "retry_delay", "will_retry"]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    RETRY_DELAY_FIELD_NUMBER: _ClassVar[int]
    WILL_RETRY_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    error: str
    index: int
    outcome: JobOutcome
    process: Process
    retry_delay: _duration_pb2.Duration
    will_retry: bool
    def __init__(self, index: _Optional[int] = ..., attempt: _Optional[int] = ..., process: _Optional[_Union[Process, _Mapping]] = ..., outcome: _Optional[_Union[JobOutcome, str]] = ..., error: _Optional[str] = ..., will_retry: bool = ..., retry_delay: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class JobResult(_message.Message):
    __slots__ = ["attempts", "duration", "error", "exit", "index", "outcome", "pid", "process_id"]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    attempts: int
    duration: _duration_pb2.Duration
    error: str
    exit: ExitStatus
    index: int
    outcome: JobOutcome
    pid: int
    process_id: str
    def __init__(self, index: _Optional[int] = ..., outcome: _Optional[_Union[JobOutcome, str]] = ..., attempts: _Optional[int] = ..., process_id: _Optional[str] = ..., pid: _Optional[int] = ..., exit: _Optional[_Union[ExitStatus, _Mapping]] = ..., error: _Optional[str] = ..., duration: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ListProcessesRequest(_message.Message):
    __slots__ = ["labels", "name", "states", "usage"]
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LABELS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.ScalarMap[str, str]
    name: str
    states: _containers.RepeatedScalarFieldContainer[ProcessState]
    usage: bool
    def __init__(self, states: _Optional[_Iterable[_Union[ProcessState, str]]] = ..., name: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., usage: bool = ...) -> None: ...

class ListProcessesResponse(_message.Message):
    __slots__ = ["processes"]
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    processes: _containers.RepeatedCompositeFieldContainer[Process]
    def __init__(self, processes: _Optional[_Iterable[_Union[Process, _Mapping]]] = ...) -> None: ...

class LocalPipes(_message.Message):
    __slots__ = ["stderr", "stdin", "stdout"]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    STDIN_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    stderr: int
    stdin: int
    stdout: int
    def __init__(self, stdin: _Optional[int] = ..., stdout: _Optional[int] = ..., stderr: _Optional[int] = ...) -> None: ...

class LocalPipesResult(_message.Message):
    __slots__ = ["reason", "taken"]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TAKEN_FIELD_NUMBER: _ClassVar[int]
    reason: str
    taken: bool
    def __init__(self, taken: bool = ..., reason: _Optional[str] = ...) -> None: ...

class OutputInfo(_message.Message):
    __slots__ = ["dropped_bytes", "log_bytes", "total_bytes"]
    DROPPED_BYTES_FIELD_NUMBER: _ClassVar[int]
    LOG_BYTES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    dropped_bytes: int
    log_bytes: int
    total_bytes: int
    def __init__(self, total_bytes: _Optional[int] = ..., dropped_bytes: _Optional[int] = ..., log_bytes: _Optional[int] = ...) -> None: ...

class OutputStats(_message.Message):
    __slots__ = ["bytes_captured_total", "bytes_dropped_total", "ring_bytes"]
    BYTES_CAPTURED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    BYTES_DROPPED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    RING_BYTES_FIELD_NUMBER: _ClassVar[int]
    bytes_captured_total: int
    bytes_dropped_total: int
    ring_bytes: int
    def __init__(self, bytes_captured_total: _Optional[int] = ..., bytes_dropped_total: _Optional[int] = ..., ring_bytes: _Optional[int] = ...) -> None: ...

class Process(_message.Message):
    __slots__ = ["attempt", "bound_to_session", "caller", "cgroup", "command", "cpu_max", "cwd", "duration", "executable", "exit", "finished_at", "id", "kill_mode", "labels", "last_activity", "last_state", "log_dir", "lost_at", "memory_max", "name", "pgid", "pid", "pids_max", "ready", "ready_at", "ready_attempts", "ready_error", "restart", "restored", "rlimits", "run_as", "runs", "started_at", "startup_timeout", "state", "stderr", "stdin", "stdout", "tty", "usage", "watchdog"]
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    BOUND_TO_SESSION_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    CGROUP_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    CPU_MAX_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    EXECUTABLE_FIELD_NUMBER: _ClassVar[int]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    KILL_MODE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    LAST_STATE_FIELD_NUMBER: _ClassVar[int]
    LOG_DIR_FIELD_NUMBER: _ClassVar[int]
    LOST_AT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MAX_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PGID_FIELD_NUMBER: _ClassVar[int]
    PIDS_MAX_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    READY_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    READY_AT_FIELD_NUMBER: _ClassVar[int]
    READY_ERROR_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    RESTART_FIELD_NUMBER: _ClassVar[int]
    RESTORED_FIELD_NUMBER: _ClassVar[int]
    RLIMITS_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    RUN_AS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTUP_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    STDIN_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    TTY_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    WATCHDOG_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    bound_to_session: bool
    caller: str
    cgroup: str
    command: _containers.RepeatedScalarFieldContainer[str]
    cpu_max: float
    cwd: str
    duration: _duration_pb2.Duration
    executable: str
    exit: ExitStatus
    finished_at: _timestamp_pb2.Timestamp
    id: str
    kill_mode: KillMode
    labels: _containers.ScalarMap[str, str]
    last_activity: _timestamp_pb2.Timestamp
    last_state: ProcessState
    log_dir: str
    lost_at: _timestamp_pb2.Timestamp
    memory_max: int
    name: str
    pgid: int
    pid: int
    pids_max: int
    ready: ReadinessProbe
    ready_at: _timestamp_pb2.Timestamp
    ready_attempts: int
    ready_error: str
    restart: RestartStatus
    restored: bool
    rlimits: _containers.RepeatedCompositeFieldContainer[Rlimit]
    run_as: str
    runs: _containers.RepeatedCompositeFieldContainer[ProcessRun]
    started_at: _timestamp_pb2.Timestamp
    startup_timeout: _duration_pb2.Duration
    state: ProcessState
    stderr: OutputInfo
    stdin: StdinMode
    stdout: OutputInfo
    tty: bool
    usage: TreeUsage
    watchdog: WatchdogStatus
    def __init__(self, id: _Optional[str] = ..., pid: _Optional[int] = ..., pgid: _Optional[int] = ..., name: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., command: _Optional[_Iterable[str]] = ..., executable: _Optional[str] = ..., cwd: _Optional[str] = ..., state: _Optional[_Union[ProcessState, str]] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., exit: _Optional[_Union[ExitStatus, _Mapping]] = ..., last_activity: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., stdout: _Optional[_Union[OutputInfo, _Mapping]] = ..., stderr: _Optional[_Union[OutputInfo, _Mapping]] = ..., kill_mode: _Optional[_Union[KillMode, str]] = ..., watchdog: _Optional[_Union[WatchdogStatus, _Mapping]] = ..., usage: _Optional[_Union[TreeUsage, _Mapping]] = ..., cgroup: _Optional[str] = ..., memory_max: _Optional[int] = ..., pids_max: _Optional[int] = ..., cpu_max: _Optional[float] = ..., rlimits: _Optional[_Iterable[_Union[Rlimit, _Mapping]]] = ..., stdin: _Optional[_Union[StdinMode, str]] = ..., tty: bool = ..., log_dir: _Optional[str] = ..., run_as: _Optional[str] = ..., caller: _Optional[str] = ..., bound_to_session: bool = ..., ready: _Optional[_Union[ReadinessProbe, _Mapping]] = ..., ready_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., ready_attempts: _Optional[int] = ..., ready_error: _Optional[str] = ..., startup_timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., attempt: _Optional[int] = ..., runs: _Optional[_Iterable[_Union[ProcessRun, _Mapping]]] = ..., restart: _Optional[_Union[RestartStatus, _Mapping]] = ..., restored: bool = ..., lost_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_state: _Optional[_Union[ProcessState, str]] = ...) -> None: ...

class ProcessRun(_message.Message):
    __slots__ = ["attempt", "exit", "finished_at", "pid", "started_at"]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    exit: ExitStatus
    finished_at: _timestamp_pb2.Timestamp
    pid: int
    started_at: _timestamp_pb2.Timestamp
    def __init__(self, attempt: _Optional[int] = ..., pid: _Optional[int] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., exit: _Optional[_Union[ExitStatus, _Mapping]] = ...) -> None: ...

class ProcessSpec(_message.Message):
    __slots__ = ["activity", "activity_file", "auto_kill", "bind_to_session", "clear_env", "command", "cpu_max", "cwd", "deadline", "env", "extra_buffer", "grace", "group", "groups", "kill_mode", "labels", "log_files", "max_hang_time", "memory_max", "name", "pids_max", "ready", "restart", "rlimits", "startup_timeout", "stdin", "stop_signal", "timeout", "tty", "user", "window_size"]
    class EnvEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FILE_FIELD_NUMBER: _ClassVar[int]
    AUTO_KILL_FIELD_NUMBER: _ClassVar[int]
    BIND_TO_SESSION_FIELD_NUMBER: _ClassVar[int]
    CLEAR_ENV_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    CPU_MAX_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    EXTRA_BUFFER_FIELD_NUMBER: _ClassVar[int]
    GRACE_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    KILL_MODE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    LOG_FILES_FIELD_NUMBER: _ClassVar[int]
    MAX_HANG_TIME_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MAX_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PIDS_MAX_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    RESTART_FIELD_NUMBER: _ClassVar[int]
    RLIMITS_FIELD_NUMBER: _ClassVar[int]
    STARTUP_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    STDIN_FIELD_NUMBER: _ClassVar[int]
    STOP_SIGNAL_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    TTY_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SIZE_FIELD_NUMBER: _ClassVar[int]
    activity: _containers.RepeatedScalarFieldContainer[ActivitySource]
    activity_file: str
    auto_kill: bool
    bind_to_session: bool
    clear_env: bool
    command: _containers.RepeatedScalarFieldContainer[str]
    cpu_max: float
    cwd: str
    deadline: _duration_pb2.Duration
    env: _containers.ScalarMap[str, str]
    extra_buffer: _duration_pb2.Duration
    grace: _duration_pb2.Duration
    group: str
    groups: _containers.RepeatedScalarFieldContainer[str]
    kill_mode: KillMode
    labels: _containers.ScalarMap[str, str]
    log_files: bool
    max_hang_time: _duration_pb2.Duration
    memory_max: int
    name: str
    pids_max: int
    ready: ReadinessProbe
    restart: RestartPolicy
    rlimits: _containers.RepeatedCompositeFieldContainer[Rlimit]
    startup_timeout: _duration_pb2.Duration
    stdin: StdinMode
    stop_signal: str
    timeout: _duration_pb2.Duration
    tty: bool
    user: str
    window_size: WindowSize
    def __init__(self, command: _Optional[_Iterable[str]] = ..., cwd: _Optional[str] = ..., env: _Optional[_Mapping[str, str]] = ..., clear_env: bool = ..., name: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., kill_mode: _Optional[_Union[KillMode, str]] = ..., stop_signal: _Optional[str] = ..., grace: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., extra_buffer: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., max_hang_time: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., auto_kill: bool = ..., deadline: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., activity: _Optional[_Iterable[_Union[ActivitySource, str]]] = ..., activity_file: _Optional[str] = ..., memory_max: _Optional[int] = ..., pids_max: _Optional[int] = ..., cpu_max: _Optional[float] = ..., rlimits: _Optional[_Iterable[_Union[Rlimit, _Mapping]]] = ..., stdin: _Optional[_Union[StdinMode, str]] = ..., tty: bool = ..., window_size: _Optional[_Union[WindowSize, _Mapping]] = ..., log_files: bool = ..., user: _Optional[str] = ..., group: _Optional[str] = ..., groups: _Optional[_Iterable[str]] = ..., bind_to_session: bool = ..., restart: _Optional[_Union[RestartPolicy, _Mapping]] = ..., ready: _Optional[_Union[ReadinessProbe, _Mapping]] = ..., startup_timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ProcessStats(_message.Message):
    __slots__ = ["backoff", "crash_loops_total", "exited", "exits_by_reason", "failed", "leftovers_killed_total", "orphans_reaped_total", "restarts_by_reason", "running", "start_failures_total", "started_total", "stopping"]
    class ExitsByReasonEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class RestartsByReasonEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    BACKOFF_FIELD_NUMBER: _ClassVar[int]
    CRASH_LOOPS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    EXITED_FIELD_NUMBER: _ClassVar[int]
    EXITS_BY_REASON_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    LEFTOVERS_KILLED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ORPHANS_REAPED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_BY_REASON_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    STARTED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    START_FAILURES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    STOPPING_FIELD_NUMBER: _ClassVar[int]
    backoff: int
    crash_loops_total: int
    exited: int
    exits_by_reason: _containers.ScalarMap[str, int]
    failed: int
    leftovers_killed_total: int
    orphans_reaped_total: int
    restarts_by_reason: _containers.ScalarMap[str, int]
    running: int
    start_failures_total: int
    started_total: int
    stopping: int
    def __init__(self, running: _Optional[int] = ..., stopping: _Optional[int] = ..., exited: _Optional[int] = ..., started_total: _Optional[int] = ..., start_failures_total: _Optional[int] = ..., exits_by_reason: _Optional[_Mapping[str, int]] = ..., leftovers_killed_total: _Optional[int] = ..., orphans_reaped_total: _Optional[int] = ..., backoff: _Optional[int] = ..., failed: _Optional[int] = ..., restarts_by_reason: _Optional[_Mapping[str, int]] = ..., crash_loops_total: _Optional[int] = ...) -> None: ...

class ReadOutputRequest(_message.Message):
    __slots__ = ["follow", "id", "offset", "pid", "stream", "tail_bytes"]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    TAIL_BYTES_FIELD_NUMBER: _ClassVar[int]
    follow: bool
    id: str
    offset: int
    pid: int
    stream: Stream
    tail_bytes: int
    def __init__(self, id: _Optional[str] = ..., pid: _Optional[int] = ..., stream: _Optional[_Union[Stream, str]] = ..., offset: _Optional[int] = ..., tail_bytes: _Optional[int] = ..., follow: bool = ...) -> None: ...

class ReadOutputResponse(_message.Message):
    __slots__ = ["data", "offset", "skipped_bytes", "stream"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_BYTES_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    offset: int
    skipped_bytes: int
    stream: Stream
    def __init__(self, stream: _Optional[_Union[Stream, str]] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ..., skipped_bytes: _Optional[int] = ...) -> None: ...

class ReadinessProbe(_message.Message):
    __slots__ = ["attempt_timeout", "exec", "http", "interval", "log", "notify", "tcp"]
    ATTEMPT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    EXEC_FIELD_NUMBER: _ClassVar[int]
    HTTP_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_FIELD_NUMBER: _ClassVar[int]
    TCP_FIELD_NUMBER: _ClassVar[int]
    attempt_timeout: _duration_pb2.Duration
    exec: _containers.RepeatedScalarFieldContainer[str]
    http: str
    interval: _duration_pb2.Duration
    log: str
    notify: bool
    tcp: str
    def __init__(self, notify: bool = ..., tcp: _Optional[str] = ..., http: _Optional[str] = ..., exec: _Optional[_Iterable[str]] = ..., log: _Optional[str] = ..., interval: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., attempt_timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RemoveProcessRequest(_message.Message):
    __slots__ = ["id", "pid"]
    ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    id: str
    pid: int
    def __init__(self, id: _Optional[str] = ..., pid: _Optional[int] = ...) -> None: ...

class RemoveProcessResponse(_message.Message):
    __slots__ = ["process"]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    process: Process
    def __init__(self, process: _Optional[_Union[Process, _Mapping]] = ...) -> None: ...

class ResourceUsage(_message.Message):
    __slots__ = ["max_rss_bytes", "system_cpu", "user_cpu"]
    MAX_RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_CPU_FIELD_NUMBER: _ClassVar[int]
    USER_CPU_FIELD_NUMBER: _ClassVar[int]
    max_rss_bytes: int
    system_cpu: _duration_pb2.Duration
    user_cpu: _duration_pb2.Duration
    def __init__(self, max_rss_bytes: _Optional[int] = ..., user_cpu: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., system_cpu: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RestartPolicy(_message.Message):
    __slots__ = ["delay", "jitter", "limit", "max_delay", "mode", "multiplier", "on", "reset_after", "window"]
    DELAY_FIELD_NUMBER: _ClassVar[int]
    JITTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MAX_DELAY_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    ON_FIELD_NUMBER: _ClassVar[int]
    RESET_AFTER_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    delay: _duration_pb2.Duration
    jitter: float
    limit: int
    max_delay: _duration_pb2.Duration
    mode: RestartMode
    multiplier: float
    on: _containers.RepeatedScalarFieldContainer[RestartFailure]
    reset_after: _duration_pb2.Duration
    window: _duration_pb2.Duration
    def __init__(self, mode: _Optional[_Union[RestartMode, str]] = ..., on: _Optional[_Iterable[_Union[RestartFailure, str]]] = ..., delay: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., multiplier: _Optional[float] = ..., max_delay: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., jitter: _Optional[float] = ..., limit: _Optional[int] = ..., window: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., reset_after: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RestartStatus(_message.Message):
    __slots__ = ["delay", "error", "next_restart_at", "policy", "recent_restarts", "restarts", "step"]
    DELAY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    NEXT_RESTART_AT_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    RECENT_RESTARTS_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    delay: _duration_pb2.Duration
    error: str
    next_restart_at: _timestamp_pb2.Timestamp
    policy: RestartPolicy
    recent_restarts: int
    restarts: int
    step: int
    def __init__(self, policy: _Optional[_Union[RestartPolicy, _Mapping]] = ..., restarts: _Optional[int] = ..., recent_restarts: _Optional[int] = ..., step: _Optional[int] = ..., next_restart_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., delay: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ["initial", "jitter", "max", "max_attempts", "multiplier", "never_retry_codes", "retry_on"]
    INITIAL_FIELD_NUMBER: _ClassVar[int]
    JITTER_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    NEVER_RETRY_CODES_FIELD_NUMBER: _ClassVar[int]
    RETRY_ON_FIELD_NUMBER: _ClassVar[int]
    initial: _duration_pb2.Duration
    jitter: float
    max: _duration_pb2.Duration
    max_attempts: int
    multiplier: float
    never_retry_codes: _containers.RepeatedScalarFieldContainer[int]
    retry_on: _containers.RepeatedScalarFieldContainer[JobOutcome]
    def __init__(self, max_attempts: _Optional[int] = ..., initial: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., multiplier: _Optional[float] = ..., max: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., jitter: _Optional[float] = ..., retry_on: _Optional[_Iterable[_Union[JobOutcome, str]]] = ..., never_retry_codes: _Optional[_Iterable[int]] = ...) -> None: ...

class Rlimit(_message.Message):
    __slots__ = ["hard", "name", "soft"]
    HARD_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOFT_FIELD_NUMBER: _ClassVar[int]
    hard: int
    name: str
    soft: int
    def __init__(self, name: _Optional[str] = ..., soft: _Optional[int] = ..., hard: _Optional[int] = ...) -> None: ...

class RunBatchRequest(_message.Message):
    __slots__ = ["deadline", "fail_fast", "jobs", "labels", "max_concurrency", "name", "retry", "timeout"]
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    FAIL_FAST_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    deadline: _duration_pb2.Duration
    fail_fast: bool
    jobs: _containers.RepeatedCompositeFieldContainer[ProcessSpec]
    labels: _containers.ScalarMap[str, str]
    max_concurrency: int
    name: str
    retry: RetryPolicy
    timeout: _duration_pb2.Duration
    def __init__(self, jobs: _Optional[_Iterable[_Union[ProcessSpec, _Mapping]]] = ..., max_concurrency: _Optional[int] = ..., timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., retry: _Optional[_Union[RetryPolicy, _Mapping]] = ..., deadline: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., fail_fast: bool = ..., labels: _Optional[_Mapping[str, str]] = ..., name: _Optional[str] = ...) -> None: ...

class RunBatchResponse(_message.Message):
    __slots__ = ["attempt_finished", "attempt_started", "started", "summary"]
    ATTEMPT_FINISHED_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_STARTED_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    attempt_finished: JobAttempt
    attempt_started: JobAttempt
    started: BatchStarted
    summary: BatchSummary
    def __init__(self, started: _Optional[_Union[BatchStarted, _Mapping]] = ..., attempt_started: _Optional[_Union[JobAttempt, _Mapping]] = ..., attempt_finished: _Optional[_Union[JobAttempt, _Mapping]] = ..., summary: _Optional[_Union[BatchSummary, _Mapping]] = ...) -> None: ...

class Selector(_message.Message):
    __slots__ = ["all", "ids", "labels", "name"]
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ALL_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    all: bool
    ids: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.ScalarMap[str, str]
    name: str
    def __init__(self, all: bool = ..., name: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SendSignalRequest(_message.Message):
    __slots__ = ["id", "leader_only", "pid", "selector", "signal"]
    ID_FIELD_NUMBER: _ClassVar[int]
    LEADER_ONLY_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    id: str
    leader_only: bool
    pid: int
    selector: Selector
    signal: str
    def __init__(self, id: _Optional[str] = ..., pid: _Optional[int] = ..., selector: _Optional[_Union[Selector, _Mapping]] = ..., signal: _Optional[str] = ..., leader_only: bool = ...) -> None: ...

class SendSignalResponse(_message.Message):
    __slots__ = ["results", "signal"]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SignalResult]
    signal: str
    def __init__(self, signal: _Optional[str] = ..., results: _Optional[_Iterable[_Union[SignalResult, _Mapping]]] = ...) -> None: ...

class SignalResult(_message.Message):
    __slots__ = ["delivered", "error", "id", "pid"]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    delivered: bool
    error: str
    id: str
    pid: int
    def __init__(self, id: _Optional[str] = ..., pid: _Optional[int] = ..., delivered: bool = ..., error: _Optional[str] = ...) -> None: ...

class StartProcessRequest(_message.Message):
    __slots__ = ["spec", "wait"]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    spec: ProcessSpec
    wait: StartWait
    def __init__(self, spec: _Optional[_Union[ProcessSpec, _Mapping]] = ..., wait: _Optional[_Union[StartWait, _Mapping]] = ...) -> None: ...

class StartProcessResponse(_message.Message):
    __slots__ = ["process", "timed_out"]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    process: Process
    timed_out: bool
    def __init__(self, process: _Optional[_Union[Process, _Mapping]] = ..., timed_out: bool = ...) -> None: ...

class StartWait(_message.Message):
    __slots__ = ["timeout", "until_ready"]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    UNTIL_READY_FIELD_NUMBER: _ClassVar[int]
    timeout: _duration_pb2.Duration
    until_ready: bool
    def __init__(self, timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., until_ready: bool = ...) -> None: ...

class StopProcessRequest(_message.Message):
    __slots__ = ["grace", "id", "pid", "selector", "signal"]
    GRACE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    grace: _duration_pb2.Duration
    id: str
    pid: int
    selector: Selector
    signal: str
    def __init__(self, id: _Optional[str] = ..., pid: _Optional[int] = ..., selector: _Optional[_Union[Selector, _Mapping]] = ..., grace: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., signal: _Optional[str] = ...) -> None: ...

class StopProcessResponse(_message.Message):
    __slots__ = ["results"]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[StopResult]
    def __init__(self, results: _Optional[_Iterable[_Union[StopResult, _Mapping]]] = ...) -> None: ...

class StopResult(_message.Message):
    __slots__ = ["error", "process"]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    error: str
    process: Process
    def __init__(self, process: _Optional[_Union[Process, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class TreeUsage(_message.Message):
    __slots__ = ["cpu", "memory_current_bytes", "memory_peak_bytes"]
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_CURRENT_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_PEAK_BYTES_FIELD_NUMBER: _ClassVar[int]
    cpu: _duration_pb2.Duration
    memory_current_bytes: int
    memory_peak_bytes: int
    def __init__(self, cpu: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., memory_current_bytes: _Optional[int] = ..., memory_peak_bytes: _Optional[int] = ...) -> None: ...

class UpdateActivityRequest(_message.Message):
    __slots__ = ["id", "pid"]
    ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    id: str
    pid: int
    def __init__(self, id: _Optional[str] = ..., pid: _Optional[int] = ...) -> None: ...

class UpdateActivityResponse(_message.Message):
    __slots__ = ["process"]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    process: Process
    def __init__(self, process: _Optional[_Union[Process, _Mapping]] = ...) -> None: ...

class WaitForProcessRequest(_message.Message):
    __slots__ = ["id", "pid", "timeout", "until_ready"]
    ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    UNTIL_READY_FIELD_NUMBER: _ClassVar[int]
    id: str
    pid: int
    timeout: _duration_pb2.Duration
    until_ready: bool
    def __init__(self, id: _Optional[str] = ..., pid: _Optional[int] = ..., timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., until_ready: bool = ...) -> None: ...

class WaitForProcessResponse(_message.Message):
    __slots__ = ["process", "timed_out"]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    process: Process
    timed_out: bool
    def __init__(self, process: _Optional[_Union[Process, _Mapping]] = ..., timed_out: bool = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ["after_seq", "batch", "labels", "names", "process_ids", "types"]
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    PROCESS_IDS_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    after_seq: int
    batch: bool
    labels: _containers.ScalarMap[str, str]
    names: _containers.RepeatedScalarFieldContainer[str]
    process_ids: _containers.RepeatedScalarFieldContainer[str]
    types: _containers.RepeatedScalarFieldContainer[EventType]
    def __init__(self, after_seq: _Optional[int] = ..., types: _Optional[_Iterable[_Union[EventType, str]]] = ..., process_ids: _Optional[_Iterable[str]] = ..., names: _Optional[_Iterable[str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., batch: bool = ...) -> None: ...

class WatchEventsResponse(_message.Message):
    __slots__ = ["event", "events"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: Event
    events: _containers.RepeatedCompositeFieldContainer[Event]
    def __init__(self, event: _Optional[_Union[Event, _Mapping]] = ..., events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ...) -> None: ...

class WatchdogStats(_message.Message):
    __slots__ = ["active", "check_interval", "containment", "hung", "kills_by_reason", "notify_accepted_total", "notify_rejected_total", "sampled", "slow", "timer_queue", "watched"]
    class KillsByReasonEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    CHECK_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    CONTAINMENT_FIELD_NUMBER: _ClassVar[int]
    HUNG_FIELD_NUMBER: _ClassVar[int]
    KILLS_BY_REASON_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_ACCEPTED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_REJECTED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SAMPLED_FIELD_NUMBER: _ClassVar[int]
    SLOW_FIELD_NUMBER: _ClassVar[int]
    TIMER_QUEUE_FIELD_NUMBER: _ClassVar[int]
    WATCHED_FIELD_NUMBER: _ClassVar[int]
    active: bool
    check_interval: _duration_pb2.Duration
    containment: str
    hung: int
    kills_by_reason: _containers.ScalarMap[str, int]
    notify_accepted_total: int
    notify_rejected_total: int
    sampled: int
    slow: int
    timer_queue: int
    watched: int
    def __init__(self, active: bool = ..., watched: _Optional[int] = ..., slow: _Optional[int] = ..., hung: _Optional[int] = ..., kills_by_reason: _Optional[_Mapping[str, int]] = ..., timer_queue: _Optional[int] = ..., notify_accepted_total: _Optional[int] = ..., notify_rejected_total: _Optional[int] = ..., containment: _Optional[str] = ..., check_interval: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., sampled: _Optional[int] = ...) -> None: ...

class WatchdogStatus(_message.Message):
    __slots__ = ["activity_file", "auto_kill", "deadline", "deadline_at", "enabled", "extra_buffer", "hung", "idle", "last_activity_source", "max_hang_time", "notify_status", "ready", "slow", "sources", "timeout"]
    ACTIVITY_FILE_FIELD_NUMBER: _ClassVar[int]
    AUTO_KILL_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_AT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    EXTRA_BUFFER_FIELD_NUMBER: _ClassVar[int]
    HUNG_FIELD_NUMBER: _ClassVar[int]
    IDLE_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    MAX_HANG_TIME_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_STATUS_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    SLOW_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    activity_file: str
    auto_kill: bool
    deadline: _duration_pb2.Duration
    deadline_at: _timestamp_pb2.Timestamp
    enabled: bool
    extra_buffer: _duration_pb2.Duration
    hung: bool
    idle: _duration_pb2.Duration
    last_activity_source: ActivitySource
    max_hang_time: _duration_pb2.Duration
    notify_status: str
    ready: bool
    slow: bool
    sources: _containers.RepeatedScalarFieldContainer[ActivitySource]
    timeout: _duration_pb2.Duration
    def __init__(self, enabled: bool = ..., timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., extra_buffer: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., max_hang_time: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., auto_kill: bool = ..., deadline: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., sources: _Optional[_Iterable[_Union[ActivitySource, str]]] = ..., activity_file: _Optional[str] = ..., last_activity_source: _Optional[_Union[ActivitySource, str]] = ..., idle: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., slow: bool = ..., hung: bool = ..., deadline_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., ready: bool = ..., notify_status: _Optional[str] = ...) -> None: ...

class WindowSize(_message.Message):
    __slots__ = ["cols", "rows"]
    COLS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    cols: int
    rows: int
    def __init__(self, rows: _Optional[int] = ..., cols: _Optional[int] = ...) -> None: ...

class WriteInputRequest(_message.Message):
    __slots__ = ["close", "data", "id", "pid"]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    close: bool
    data: bytes
    id: str
    pid: int
    def __init__(self, id: _Optional[str] = ..., pid: _Optional[int] = ..., data: _Optional[bytes] = ..., close: bool = ...) -> None: ...

class WriteInputResponse(_message.Message):
    __slots__ = ["written"]
    WRITTEN_FIELD_NUMBER: _ClassVar[int]
    written: int
    def __init__(self, written: _Optional[int] = ...) -> None: ...

class StdinMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ProcessState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ExitReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class KillMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Stream(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class RestartMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class RestartFailure(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ActivitySource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class JobOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
