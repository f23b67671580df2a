// Types of the procd Node client (index.js). Hand-written from
// proto/procd/v1/procd.proto as proto-loader presents it with
// { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true }:
// lowerCamelCase fields, 64-bit integers as numbers, enums as their full
// names, unset messages as null, proto3 `optional` fields absent when unset.

/// <reference types="node" />

// ---------------------------------------------------------------------------
// Well-known types

/** google.protobuf.Duration as received. */
export interface Duration { seconds: number; nanos: number }
/** google.protobuf.Timestamp as received. */
export interface Timestamp { seconds: number; nanos: number }
/** A duration in a request: milliseconds, a Go-style string ("1.5s", "250ms", "2m") or a Duration. */
export type DurationInput = number | string | { seconds?: number | string; nanos?: number };

/** A process reference: an id ("p-3"), a pid (number or string of digits), or an object with id or pid (a Process works). */
export type ProcessRef = string | number | { id: string } | { pid: number };
/** A bulk target: a process reference, or a selector. */
export type BulkTarget = ProcessRef | { selector: Selector };

// ---------------------------------------------------------------------------
// Enums (full names as received; requests also take the suffix in any case, e.g. 'exited', 'stdout', 'pipe')

export type StdinMode = 'STDIN_MODE_UNSPECIFIED' | 'STDIN_MODE_NULL' | 'STDIN_MODE_PIPE';
/**
 * PROCESS_STATE_LOST: procd died while the process ran; a restarted procd found only its record (see lostAt, lastState).
 * PROCESS_STATE_STARTING: the process has not passed its readiness check (ProcessSpec.ready) yet.
 * PROCESS_STATE_BACKOFF: a run ended and the restart policy starts the next one after a delay (restart.nextRestartAt).
 * PROCESS_STATE_FAILED: the restart policy gave up (reason CRASH_LOOP), or a restart could not start; final like EXITED.
 */
export type ProcessState =
  | 'PROCESS_STATE_UNSPECIFIED' | 'PROCESS_STATE_RUNNING' | 'PROCESS_STATE_STOPPING' | 'PROCESS_STATE_EXITED'
  | 'PROCESS_STATE_STARTING' | 'PROCESS_STATE_BACKOFF' | 'PROCESS_STATE_FAILED' | 'PROCESS_STATE_LOST';
export type ExitReason =
  | 'EXIT_REASON_UNSPECIFIED' | 'EXIT_REASON_EXITED' | 'EXIT_REASON_STOPPED' | 'EXIT_REASON_HUNG'
  | 'EXIT_REASON_DEADLINE' | 'EXIT_REASON_DAEMON_SHUTDOWN' | 'EXIT_REASON_CLIENT_GONE' | 'EXIT_REASON_STARTUP_TIMEOUT'
  | 'EXIT_REASON_CRASH_LOOP';
export type KillMode = 'KILL_MODE_UNSPECIFIED' | 'KILL_MODE_GROUP' | 'KILL_MODE_LEADER';
export type Stream = 'STREAM_UNSPECIFIED' | 'STREAM_STDOUT' | 'STREAM_STDERR';
export type ActivitySource =
  | 'ACTIVITY_SOURCE_UNSPECIFIED' | 'ACTIVITY_SOURCE_HEARTBEAT' | 'ACTIVITY_SOURCE_NOTIFY'
  | 'ACTIVITY_SOURCE_OUTPUT' | 'ACTIVITY_SOURCE_CPU' | 'ACTIVITY_SOURCE_FILE';
export type EventType =
  | 'EVENT_TYPE_UNSPECIFIED' | 'EVENT_TYPE_STARTED' | 'EVENT_TYPE_EXITED' | 'EVENT_TYPE_SIGNAL_SENT'
  | 'EVENT_TYPE_ESCALATED' | 'EVENT_TYPE_LEFTOVERS' | 'EVENT_TYPE_OUTPUT_DROPPED' | 'EVENT_TYPE_REMOVED'
  | 'EVENT_TYPE_SLOW' | 'EVENT_TYPE_HUNG' | 'EVENT_TYPE_DEADLINE' | 'EVENT_TYPE_ACTIVITY_READY'
  | 'EVENT_TYPE_RECOVERED' | 'EVENT_TYPE_NOTIFY_STATUS' | 'EVENT_TYPE_BATCH_STARTED'
  | 'EVENT_TYPE_JOB_FINISHED' | 'EVENT_TYPE_BATCH_FINISHED' | 'EVENT_TYPE_OOM_KILLED' | 'EVENT_TYPE_READY'
  | 'EVENT_TYPE_RESTARTING';
export type RestartMode = 'RESTART_MODE_UNSPECIFIED' | 'RESTART_MODE_NEVER' | 'RESTART_MODE_ON_FAILURE' | 'RESTART_MODE_ALWAYS';
export type RestartFailure =
  | 'RESTART_FAILURE_UNSPECIFIED' | 'RESTART_FAILURE_NONZERO' | 'RESTART_FAILURE_SIGNAL' | 'RESTART_FAILURE_HUNG'
  | 'RESTART_FAILURE_DEADLINE' | 'RESTART_FAILURE_STARTUP_TIMEOUT';
export type JobOutcome =
  | 'JOB_OUTCOME_UNSPECIFIED' | 'JOB_OUTCOME_SUCCEEDED' | 'JOB_OUTCOME_EXIT_CODE' | 'JOB_OUTCOME_SIGNAL'
  | 'JOB_OUTCOME_TIMEOUT' | 'JOB_OUTCOME_START_FAILED' | 'JOB_OUTCOME_CANCELLED';

/** An enum value in a request: the full name, its suffix in any case, or the number. */
type EnumInput<T extends string> = T | Lowercase<string> | string | number;

// ---------------------------------------------------------------------------
// Requests

export interface WindowSize { rows: number; cols: number }

export interface Rlimit {
  /** AS, CORE, CPU, DATA, FSIZE, MEMLOCK, NOFILE, NPROC or STACK (RLIMIT_ prefix optional). */
  name: string;
  /** A number, a decimal string, a bigint, or 'unlimited' / Infinity / RLIM_INFINITY. */
  soft: number | string | bigint;
  hard: number | string | bigint;
}

/** A process to start (ProcessSpec). Duration fields take milliseconds. */
export interface ProcessSpec {
  command: string[];
  cwd?: string;
  env?: Record<string, string>;
  clearEnv?: boolean;
  name?: string;
  labels?: Record<string, string>;
  killMode?: EnumInput<KillMode>;
  stopSignal?: string;
  grace?: DurationInput;
  timeout?: DurationInput;
  extraBuffer?: DurationInput;
  maxHangTime?: DurationInput;
  autoKill?: boolean;
  deadline?: DurationInput;
  activity?: Array<EnumInput<ActivitySource>>;
  activityFile?: string;
  memoryMax?: number;
  pidsMax?: number;
  cpuMax?: number;
  rlimits?: Rlimit[];
  stdin?: EnumInput<StdinMode>;
  tty?: boolean;
  windowSize?: WindowSize;
  logFiles?: boolean;
  user?: string;
  group?: string;
  groups?: string[];
  /** When the process counts as ready (unset: at once); until then it is PROCESS_STATE_STARTING. */
  ready?: ReadinessProbeSpec;
  /** Stop a process not ready this long after its start (reason STARTUP_TIMEOUT); 0: none. Only with ready. */
  startupTimeout?: DurationInput;
  /** Restart policy; unset: never restart. */
  restart?: RestartPolicyInput;
}

/** How a process shows it is ready: set exactly one of notify, tcp, http, exec and log. */
export interface ReadinessProbeSpec {
  /** READY=1 sent to $NOTIFY_SOCKET (sd_notify). */
  notify?: boolean;
  /** host:port (loopback) or a port: a TCP connection succeeds. */
  tcp?: string;
  /** http(s)://loopback-host:port/path: a GET answers 2xx. */
  http?: string;
  /** argv of a command that exits 0 (run like the process, under the same policy). */
  exec?: string[];
  /** A regular expression (RE2) a stdout or stderr line matches. */
  log?: string;
  interval?: DurationInput;
  attemptTimeout?: DurationInput;
}

/** A process's readiness check as procd reports it (defaults applied). */
export interface ReadinessProbe {
  notify: boolean;
  tcp: string;
  http: string;
  exec: string[];
  log: string;
  interval: Duration | null;
  attemptTimeout: Duration | null;
}

/**
 * A restart policy in a request (e.g. { mode: 'on-failure', delay: 100, maxDelay: '1s', limit: 5, window: '1m', jitter: 0 }).
 * Unset fields take the daemon's defaults (procd --restart-*). The process keeps its id across runs.
 */
export interface RestartPolicyInput {
  mode: EnumInput<RestartMode>;
  /** For on-failure: the failures that restart (default all). */
  on?: Array<EnumInput<RestartFailure>>;
  delay?: DurationInput;
  multiplier?: number;
  maxDelay?: DurationInput;
  /** 0 to 1. */
  jitter?: number;
  /** Restarts allowed within window; one more leaves the process FAILED, CRASH_LOOP. 0: no limit. */
  limit?: number;
  window?: DurationInput;
  /** A run lasting this long resets the delay; 0: never. */
  resetAfter?: DurationInput;
}

export interface Selector {
  /** Required when no other field is set. */
  all?: boolean;
  name?: string;
  labels?: Record<string, string>;
  ids?: string[];
}

export interface RetryPolicy {
  maxAttempts?: number;
  initial?: DurationInput;
  multiplier?: number;
  max?: DurationInput;
  jitter?: number;
  retryOn?: Array<EnumInput<JobOutcome>>;
  neverRetryCodes?: number[];
}

/** Per-call options, accepted by every method. */
export interface CallOptions {
  /** Fail with DEADLINE_EXCEEDED after this many milliseconds. */
  deadlineMs?: number;
  /** Cancels the call (CANCELLED). */
  signal?: AbortSignal;
}

export interface ProcdOptions {
  /** procd's Unix socket (default: PROCD_SOCKET, else defaultSocket()). */
  socket?: string;
  /** procd's TCP address host:port instead of the socket (default: PROCD_ADDR). */
  address?: string;
  /** TLS for address: PEM file paths, PEM text or Buffers; true: system roots (default: PROCD_TLS_CA/CERT/KEY). */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer } | boolean;
  /** File holding the bearer token: the token alone, or one line NAME ROLE TOKEN (default: PROCD_TOKEN_FILE). Without TLS, sent to loopback addresses only. */
  tokenFile?: string;
  /** The bearer token itself. */
  token?: string;
  /** The directory holding procd/v1/procd.proto (default: PROCD_PROTO_ROOT, else the packaged proto/, else ../../proto from index.js). */
  protoRoot?: string;
  /** Extra grpc-js channel options. */
  channelOptions?: Record<string, string | number>;
  /**
   * Start processes in the caller's working directory and environment (see
   * clientEnvironment) unless a spec sets cwd or clearEnv. Default: true on
   * the Unix socket, false over TCP.
   */
  inheritContext?: boolean;
}

// ---------------------------------------------------------------------------
// Responses

export interface TreeUsage { cpu: Duration | null; memoryCurrentBytes: number; memoryPeakBytes: number }
export interface ResourceUsage { maxRssBytes: number; userCpu: Duration | null; systemCpu: Duration | null }

/** The final record of how a process ended: exactly one of exitCode and signalNumber is present. */
export interface ExitStatus {
  reason: ExitReason;
  exitCode?: number;
  signalNumber?: number;
  /** e.g. "SIGSEGV"; '' when it exited. */
  signal: string;
  coreDumped: boolean;
  rusage: ResourceUsage | null;
  leftoversKilled: number;
  outputTruncated: boolean;
  oomKilled: boolean;
  tree: TreeUsage | null;
}

export interface OutputInfo { totalBytes: number; droppedBytes: number; logBytes: number }

export interface WatchdogStatus {
  enabled: boolean;
  timeout: Duration | null;
  extraBuffer: Duration | null;
  maxHangTime: Duration | null;
  autoKill: boolean;
  deadline: Duration | null;
  sources: ActivitySource[];
  activityFile: string;
  lastActivitySource: ActivitySource;
  idle: Duration | null;
  slow: boolean;
  hung: boolean;
  deadlineAt: Timestamp | null;
  ready: boolean;
  notifyStatus: string;
}

export interface RlimitRecord { name: string; soft: number; hard: number }

/** A restart policy as received: resolved, every field set. */
export interface RestartPolicy {
  mode: RestartMode;
  on: RestartFailure[];
  delay: Duration | null;
  multiplier: number;
  maxDelay: Duration | null;
  jitter?: number;
  limit?: number;
  window: Duration | null;
  resetAfter: Duration | null;
}

/** One run of a process: its first start or a restart. */
export interface ProcessRun {
  /** 1 for the first start. */
  attempt: number;
  pid: number;
  startedAt: Timestamp | null;
  /** null while the run goes on. */
  finishedAt: Timestamp | null;
  exit: ExitStatus | null;
}

/** A process's restart policy and where its supervision stands. */
export interface RestartStatus {
  policy: RestartPolicy | null;
  restarts: number;
  /** Restarts within the policy's window (the limit counts them). */
  recentRestarts: number;
  step: number;
  /** For PROCESS_STATE_BACKOFF: when the next run starts. */
  nextRestartAt: Timestamp | null;
  delay: Duration | null;
  /** For PROCESS_STATE_FAILED: why a restart could not start. */
  error: string;
}

/** The record of one process. */
export interface Process {
  id: string;
  pid: number;
  pgid: number;
  name: string;
  labels: Record<string, string>;
  command: string[];
  executable: string;
  cwd: string;
  state: ProcessState;
  startedAt: Timestamp | null;
  finishedAt: Timestamp | null;
  duration: Duration | null;
  /** null until the state is PROCESS_STATE_EXITED. */
  exit: ExitStatus | null;
  lastActivity: Timestamp | null;
  stdout: OutputInfo | null;
  stderr: OutputInfo | null;
  killMode: KillMode;
  watchdog: WatchdogStatus | null;
  usage: TreeUsage | null;
  cgroup: string;
  memoryMax: number;
  pidsMax: number;
  cpuMax: number;
  /** "unlimited" reads back as RLIM_INFINITY. */
  rlimits: RlimitRecord[];
  stdin: StdinMode;
  tty: boolean;
  logDir: string;
  runAs: string;
  caller: string;
  /** An earlier run of procd kept this record (its output was not kept). */
  restored: boolean;
  /** For PROCESS_STATE_LOST: when the restarted procd found it lost. */
  lostAt: Timestamp | null;
  /** For PROCESS_STATE_LOST: the state its record held when procd died. */
  lastState: ProcessState;
  /** Its readiness check; null: ready at start. */
  ready: ReadinessProbe | null;
  /** When it became ready; null while PROCESS_STATE_STARTING or if it ended before. */
  readyAt: Timestamp | null;
  readyAttempts: number;
  /** Why the last probe attempt failed ('' once ready). */
  readyError: string;
  startupTimeout: Duration | null;
  /** This run's number (1 for the first start); the id stays across restarts. */
  attempt: number;
  /** The last runs, oldest first, the current one last. */
  runs: ProcessRun[];
  /** Set when the process has a restart policy. */
  restart: RestartStatus | null;
  [field: string]: unknown;
}

export interface SignalResult { id: string; pid: number; delivered: boolean; error: string }
export interface SendSignalResponse { signal: string; results: SignalResult[] }
export interface StopResult { process: Process | null; error: string }
export interface WaitResult { process: Process; timedOut: boolean }

export interface Stats {
  processes: {
    running: number; stopping: number; exited: number; startedTotal: number; startFailuresTotal: number;
    exitsByReason: Record<string, number>; leftoversKilledTotal: number; orphansReapedTotal: number;
    backoff: number; failed: number; restartsByReason: Record<string, number>; crashLoopsTotal: number;
  } | null;
  output: { bytesCapturedTotal: number; bytesDroppedTotal: number; ringBytes: number } | null;
  events: { lastSeq: number; oldestSeq: number; ringSize: number; subscribers: number; slowSubscribersTotal: number } | null;
  daemon: {
    version: string; pid: number; uptime: Duration | null; goroutines: number; rssBytes: number;
    containment: string; controllers: Record<string, string>; cgroupBase: string;
  } | null;
  watchdog: {
    active: boolean; watched: number; slow: number; hung: number; killsByReason: Record<string, number>;
    timerQueue: number; notifyAcceptedTotal: number; notifyRejectedTotal: number; containment: string;
    checkInterval: Duration | null; sampled: number;
  } | null;
  batches: {
    batchesRunning: number; jobsQueued: number; jobsRunning: number; jobsSucceededTotal: number;
    jobsFailedTotal: number; retriesTotal: number; maxRunningJobs: number;
  } | null;
}

export interface Event {
  seq: number;
  time: Timestamp | null;
  type: EventType;
  processId: string;
  pid: number;
  name: string;
  labels: Record<string, string>;
  /** For EXITED: the final record. */
  exit: ExitStatus | null;
  signal: string;
  stream: Stream;
  detail: string;
  idle: Duration | null;
  batchId: string;
  jobIndex: number;
  /** For RESTARTING: the delay before the next run. */
  delay: Duration | null;
  /** For STARTED: the run's number; for RESTARTING: the next run's. */
  attempt: number;
}

export interface OutputChunk {
  stream: Stream;
  /** Offset of the first byte of data in its stream. */
  offset: number;
  data: Buffer;
  /** Bytes between the requested offset and this chunk no longer held. */
  skippedBytes: number;
}

export interface JobResult {
  index: number;
  outcome: JobOutcome;
  attempts: number;
  processId: string;
  pid: number;
  exit: ExitStatus | null;
  error: string;
  duration: Duration | null;
}

export interface BatchSummary {
  batchId: string;
  jobs: JobResult[];
  results: number[];
  errors: number[];
  succeeded: number;
  failed: number;
  cancelled: number;
  retries: number;
  wallTime: Duration | null;
  stopped: string;
}

export interface JobAttempt {
  index: number;
  attempt: number;
  process: Process | null;
  outcome: JobOutcome;
  error: string;
  willRetry: boolean;
  retryDelay: Duration | null;
}

export type RunBatchResponse =
  | { kind: 'started'; started: { batchId: string; jobs: number; maxConcurrency: number } }
  | { kind: 'attemptStarted'; attemptStarted: JobAttempt }
  | { kind: 'attemptFinished'; attemptFinished: JobAttempt }
  | { kind: 'summary'; summary: BatchSummary };

export type AttachResponse =
  | { kind: 'output'; output: OutputChunk }
  | { kind: 'exit'; exit: Process };

/** A server stream as an async iterator; leaving a for-await loop early cancels the call. */
export interface CallStream<T> extends AsyncGenerator<T, void, undefined> {
  /** Cancels the call; a pending or later next() ends with a CANCELLED ProcdError. */
  cancel(): void;
}

export interface Attachment extends CallStream<AttachResponse> {
  write(data: Buffer | Uint8Array | string): Promise<void>;
  closeStdin(): Promise<void>;
  releaseStdin(): Promise<void>;
  resize(size: WindowSize): Promise<void>;
  /** No more client messages (half-close); output goes on. */
  end(): void;
}

export type BatchJob = ProcessSpec | string[] | string;

// ---------------------------------------------------------------------------
// The client

export class ProcdError extends Error {
  constructor(code: string, message: string, extra?: {
    grpcCode?: number; details?: string; metadata?: Record<string, unknown>; method?: string; cause?: unknown;
  });
  name: 'ProcdError';
  /** The gRPC status code's name, e.g. 'NOT_FOUND'. */
  code: string;
  /** The gRPC status code's number, e.g. 5. */
  grpcCode: number;
  /** The status details string as gRPC delivered it. */
  details: string;
  /** Response trailers. */
  metadata: Record<string, unknown>;
  /** The RPC that failed, e.g. 'StartProcess'. */
  method?: string;
}

export class Procd {
  constructor(opts?: ProcdOptions);
  /** The daemon's address for messages: the socket path or host:port. */
  readonly where: string;
  /** The grpc-js target, e.g. 'unix:///run/procd/procd.sock'. */
  readonly target: string;
  /** Whether startProcess and runBatch fill in the caller's cwd and environment (see ProcdOptions.inheritContext). */
  inheritContext: boolean;
  close(): void;

  startProcess(spec: ProcessSpec | string[], opts?: CallOptions): Promise<Process>;
  /** untilReady: return once the process is ready (process.readyAt set) or has ended. */
  waitForProcess(ref: ProcessRef, opts?: CallOptions & { timeoutMs?: number; timeout?: DurationInput; untilReady?: boolean }): Promise<WaitResult>;
  getProcess(ref: ProcessRef, opts?: CallOptions): Promise<Process>;
  listProcesses(filter?: { states?: Array<EnumInput<ProcessState>>; name?: string; labels?: Record<string, string> } & CallOptions): Promise<Process[]>;
  sendSignal(target: BulkTarget, signal: string | number, opts?: CallOptions & { leaderOnly?: boolean }): Promise<SendSignalResponse>;
  stopProcess(target: BulkTarget, opts?: {
    graceMs?: number; grace?: DurationInput; stopSignal?: string | number; deadlineMs?: number;
    /** An AbortSignal cancels the call; a string or number is taken as the stop signal. */
    signal?: AbortSignal | string | number;
  }): Promise<StopResult[]>;
  updateActivity(ref: ProcessRef, opts?: CallOptions): Promise<Process>;
  removeProcess(ref: ProcessRef, opts?: CallOptions): Promise<Process>;
  cleanupFinished(selector?: Selector, opts?: CallOptions): Promise<string[]>;
  getStats(opts?: CallOptions): Promise<Stats>;
  writeInput(ref: ProcessRef, data: Buffer | Uint8Array | string, opts?: CallOptions & { close?: boolean }): Promise<number>;
  waitUntilServing(opts?: { timeoutMs?: number; intervalMs?: number }): Promise<Stats>;

  watchEvents(opts?: {
    afterSeq?: number; types?: Array<EnumInput<EventType>>; processIds?: string[]; names?: string[];
    labels?: Record<string, string>; batch?: boolean;
  } & CallOptions): CallStream<Event>;
  readOutput(ref: ProcessRef, opts?: {
    follow?: boolean; stream?: EnumInput<Stream>; offset?: number; tailBytes?: number;
  } & CallOptions): CallStream<OutputChunk>;
  attach(ref: ProcessRef, opts?: {
    stdin?: boolean; stdoutOffset?: number; stderrOffset?: number; tailBytes?: number;
  } & CallOptions): Attachment;
  runBatch(jobs: BatchJob[], opts?: {
    maxConcurrency?: number; timeout?: DurationInput; retry?: RetryPolicy; deadline?: DurationInput;
    failFast?: boolean; labels?: Record<string, string>; name?: string;
  } & CallOptions): CallStream<RunBatchResponse>;
}

export function defaultSocket(): string;
/** The environment a process inherits: the caller's minus NOTIFY_SOCKET, LISTEN_*, WATCHDOG_*, and for non-root callers procd's deny list (DENIED_ENV). */
export function clientEnvironment(env?: Record<string, string | undefined>, uid?: number): Record<string, string>;
/** procd's default deny list for callers less privileged than procd: exact names, and prefixes ending in "*". */
export const DENIED_ENV: readonly string[];
/** Whether procd refuses the variable from a caller less privileged than itself. */
export function deniedEnv(name: string): boolean;
/** The token of a client's token file: the token alone, or one line NAME ROLE TOKEN. Throws INVALID_ARGUMENT otherwise. */
export function parseTokenFile(text: string, file?: string): string;
/** Whether host:port names a loopback address. */
export function loopbackAddress(address: string): boolean;
/** The gRPC API package this client speaks ("procd.v1"). */
export const API_PACKAGE: string;
/** This package's version (1.x speaks procd.v1). */
export const VERSION: string;
export function toDuration(v: DurationInput | bigint, what?: string): Duration;
export function durationToMs(d: Duration | null | undefined): number | null;
export function timestampToDate(ts: Timestamp | null | undefined): Date | null;
/** Exit code, or 128+signal; null while running. */
export function exitCodeOf(proc: { exit?: { exitCode?: number; signalNumber?: number } | null }): number | null;
/** An unlimited rlimit as it reads back (2^64 as a double). */
export const RLIM_INFINITY: number;
export const LOADER_OPTIONS: Readonly<{ keepCase: false; longs: NumberConstructor; enums: StringConstructor; defaults: true; oneofs: true }>;
export const DEFAULT_PROTO_ROOT: string;
export default Procd;
