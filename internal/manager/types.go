package manager

import (
	"fmt"
	"syscall"
	"time"

	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/procattr"
	"github.com/procd/procd/internal/watchdog"
)

// State is where a process is in its lifecycle.
type State int

// States. Their numbers are the core's own: internal/server maps each to
// procd.v1.ProcessState by name (enums.go), never by number. Records in
// the state database hold them: a number, once given, is never reused.
const (
	Running  State = 1 // the leader runs, or its tree is being cleaned up
	Stopping State = 2 // a stop escalation is in progress
	Exited   State = 3 // the tree is gone and the exit record is final
	// Starting: the leader runs and is not ready yet (Spec.Ready); it
	// becomes Running when its readiness check passes.
	Starting State = 4
	// Backoff: the last run ended and its restart policy starts the next
	// one after a delay (Info.Restart.NextAt).
	Backoff State = 5
	// Failed: the restart policy gave up (ReasonCrashLoop), or a restart
	// could not start (Info.Restart.Error). Final, like Exited.
	Failed State = 6
	// Lost: the process was running when the daemon died, and a later
	// daemon run found only its record (the guardian ended its tree);
	// how it ended is unknown, so it has no exit record.
	Lost State = 7
)

// Final reports whether a process in state s has its final record: no run
// is going on and none will start.
func (s State) Final() bool { return s == Exited || s == Failed || s == Lost }

func (s State) String() string {
	switch s {
	case Running:
		return "RUNNING"
	case Stopping:
		return "STOPPING"
	case Exited:
		return "EXITED"
	case Starting:
		return "STARTING"
	case Backoff:
		return "BACKOFF"
	case Failed:
		return "FAILED"
	case Lost:
		return "LOST"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Reason says why a process ended.
type Reason int

// Reasons. Their numbers are the core's own: internal/server maps each to
// procd.v1.ExitReason by name (enums.go), never by number. Records in the
// state database hold them: a number, once given, is never reused.
const (
	ReasonExited   Reason = 1 // on its own
	ReasonStopped  Reason = 2 // StopProcess, or a terminating signal from a client
	ReasonHung     Reason = 3 // the hang watchdog
	ReasonDeadline Reason = 4 // wall-clock deadline
	ReasonShutdown Reason = 5 // the daemon was shutting down
	// ReasonClientGone: the process was bound to the session that started
	// it (Spec.BindToSession), and that session ended before it did.
	ReasonClientGone Reason = 6
	// ReasonStartupTimeout: the process did not become ready within its
	// start-up timeout (Readiness.StartupTimeout).
	ReasonStartupTimeout Reason = 7
	// ReasonCrashLoop: the restart policy's limit of restarts within its
	// window was reached (state Failed); the runs say how each ended.
	ReasonCrashLoop Reason = 8
)

func (r Reason) String() string {
	switch r {
	case ReasonExited:
		return "EXITED"
	case ReasonStopped:
		return "STOPPED"
	case ReasonHung:
		return "HUNG"
	case ReasonDeadline:
		return "DEADLINE"
	case ReasonShutdown:
		return "DAEMON_SHUTDOWN"
	case ReasonClientGone:
		return "CLIENT_GONE"
	case ReasonStartupTimeout:
		return "STARTUP_TIMEOUT"
	case ReasonCrashLoop:
		return "CRASH_LOOP"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// KillMode says what is ended when the leader exits on its own.
type KillMode int

// Kill modes. Their numbers are the core's own (0 means "not given" in a
// Spec): internal/server maps each to procd.v1.KillMode by name (enums.go).
const (
	KillGroup  KillMode = 1 // default: leftovers of the group are ended
	KillLeader KillMode = 2 // descendants may outlive the leader
)

func (k KillMode) String() string {
	if k == KillLeader {
		return "leader"
	}
	return "group"
}

// Spec describes a process to start.
type Spec struct {
	Command    []string
	Dir        string
	Env        map[string]string // overlay on the daemon's environment
	ClearEnv   bool              // start from an empty environment
	Name       string            // default "unknown"
	Labels     map[string]string
	KillMode   KillMode       // 0: KillGroup
	StopSignal syscall.Signal // 0: SIGTERM
	Grace      time.Duration  // 0: the manager's default
	Watchdog   WatchdogSpec
	Limits     Limits
	Stdin      StdinMode
	// TTY, if set, runs the process on a pseudo-terminal of that size.
	TTY *procattr.WindowSize
	// LogFiles keeps the output in rotated files too, so it can be read
	// back beyond the ring (nil: the manager's default).
	LogFiles *bool
	// User, Group and Groups run the process as another user (names or
	// numbers); only a root caller may ask.
	User, Group string
	Groups      []string
	// Caller is who asks; nil for in-process callers, which are trusted.
	Caller *Caller
	// BindToSession binds the process to the session that starts it
	// (StartAttached): if that session ends before the process, the
	// process's tree is stopped with ReasonClientGone, as a command run in
	// a terminal ends with its terminal. Start refuses it: there is no
	// session to bind to.
	BindToSession bool
	// Ready says when the process counts as ready (the zero value: as soon
	// as it started).
	Ready Readiness
	// Restart is the restart policy (the zero value: never restart).
	Restart RestartPolicy
}

// Caller is who started a process.
//
// The manager does not interpret the transport, role or identities: they
// are plain data for the Config.StartCheck hook (the daemon's command
// policy) and for messages.
type Caller struct {
	UID, GID, PID int    // -1 when unknown
	Groups        []int  // supplementary groups (Unix socket)
	Root          bool   // root on this machine: may run processes as other users
	Desc          string // for messages and status: "uid 1000 (pid 42)"
	Transport     string // "unix" or "tcp"
	Role          string // "control" or "read"
	// Identities are what a TCP caller proved: "cn:…", "dns:…", "uri:…"
	// of its client certificate, "token:NAME" of its bearer token.
	Identities []string
}

// StdinMode says where a process's stdin comes from.
type StdinMode int

// Stdin modes. Their numbers are the core's own (the zero value is
// /dev/null): internal/server maps each to procd.v1.StdinMode (enums.go).
const (
	StdinNull StdinMode = 0 // /dev/null
	StdinPipe StdinMode = 1 // a pipe written by WriteInput and Attach
)

// Limits bound a process tree. Zero values mean no limit. The cgroup ones
// need cgroup containment; rlimits apply to the leader (and are inherited
// by what it starts).
type Limits struct {
	MemoryMax int64   // bytes, for the whole tree
	PidsMax   int64   // tasks in the whole tree
	CPUMax    float64 // cores
	Rlimits   []procattr.Rlimit
}

// TreeUsage is what a whole tree consumed, from its cgroup (zero without
// cgroup containment).
type TreeUsage struct {
	CPU        time.Duration
	MemCurrent int64 // bytes now (0 once finished)
	MemPeak    int64 // highest seen
}

// WatchdogSpec is a process's own watchdog settings; nil pointers and zero
// values take the manager's defaults (Config.Watchdog).
type WatchdogSpec struct {
	Timeout      *time.Duration // 0 turns hang detection off
	ExtraBuffer  *time.Duration
	MaxHangTime  *time.Duration
	AutoKill     *bool
	Deadline     time.Duration    // 0: none
	Sources      watchdog.Sources // 0: heartbeat, notify, output
	ActivityFile string           // implies the file source
}

// WatchdogInfo is a process's watchdog settings and state.
type WatchdogInfo struct {
	Settings     watchdog.Settings
	Idle         time.Duration
	Slow, Hung   bool
	DeadlineAt   time.Time // zero if no deadline
	Ready        bool      // READY=1 received
	NotifyStatus string    // last STATUS= text
}

// Exit is the final record of how a process ended.
type Exit struct {
	Reason     Reason
	Code       int            // -1 when killed by a signal
	Signal     syscall.Signal // 0 when it exited normally
	CoreDumped bool
	Usage      proc.Usage
	// Leftovers is how many processes of the tree were still alive after
	// the leader exited and were ended by procd.
	Leftovers int
	// OutputTruncated: a descendant still held the output pipes when the
	// bounded pipe wait ran out, and procd closed them.
	OutputTruncated bool
	// OOMKilled: the kernel killed a process of the tree for memory.
	OOMKilled bool
	// Tree is the whole tree's usage from its cgroup.
	Tree TreeUsage
}

// StreamInfo describes one captured output stream.
type StreamInfo struct {
	Total    int64 // bytes captured: the offset of the next byte
	Dropped  int64 // bytes no longer held in memory (the ring's oldest offset)
	LogBytes int64 // bytes kept in log files
}

// Info is a snapshot of a process record. Its maps and slices are shared
// with the record and must not be modified.
type Info struct {
	ID           string
	PID          int
	PGID         int
	Name         string
	Labels       map[string]string
	Command      []string
	Executable   string
	Dir          string
	KillMode     KillMode
	State        State
	StartedAt    time.Time
	FinishedAt   time.Time // zero until Exited
	LastActivity time.Time
	// LastSource is where the last activity came from (0: none since start).
	LastSource watchdog.Source
	Watchdog   WatchdogInfo
	// Usage is the tree's usage so far (live), from its cgroup.
	Usage  TreeUsage
	Cgroup string // the tree's cgroup directory; "" without containment
	Limits Limits
	Stdin  StdinMode
	TTY    bool
	// RunAs is the user and group the process runs as ("" : procd's).
	RunAs string
	// Caller is who started it ("" : in-process).
	Caller string
	// LogDir holds the output log files, if any.
	LogDir string
	// BoundToSession: the process ends with its session (Spec.BindToSession).
	BoundToSession bool
	// Ready is the process's readiness check and its progress.
	Ready ReadyInfo
	// Exit is the final record's exit once State is final, and the last
	// run's exit during Backoff; nil while a run goes on.
	Exit *Exit
	// Attempt is this run's number: 1 for the first start, n+1 after n
	// restarts. StartedAt, PID and the streams are this run's.
	Attempt int
	// Runs are the last runs, oldest first, the current one last (its Exit
	// nil while it runs). Their Exits are shared and must not be modified.
	Runs []Run
	// Restart is the restart policy and state; nil under policy never.
	Restart *RestartInfo
	Stdout  StreamInfo
	Stderr  StreamInfo
	// Restored: an earlier run of the daemon kept this record, and this
	// run read it back from the state database (its output was not kept).
	Restored bool
	// LostAt is when a restarted daemon found the process LOST; LastState
	// is the state its record held when the daemon died.
	LostAt    time.Time
	LastState State
}

// Duration is how long the process ran, or has been running at now. A
// LOST process ran at most until it was found lost.
func (i *Info) Duration(now time.Time) time.Duration {
	if i.State == Lost && !i.LostAt.IsZero() {
		return i.LostAt.Sub(i.StartedAt)
	}
	if !i.FinishedAt.IsZero() {
		return i.FinishedAt.Sub(i.StartedAt)
	}
	return now.Sub(i.StartedAt)
}

// Ref names one process by id or, when ID is empty, by pid (the newest
// record with that pid).
type Ref struct {
	ID  string
	PID int
}

func (r Ref) String() string {
	if r.ID != "" {
		return r.ID
	}
	return fmt.Sprintf("pid %d", r.PID)
}

// Selector matches processes for bulk operations; its fields are ANDed. An
// empty selector matches nothing unless All is set.
type Selector struct {
	All    bool
	Name   string
	Labels map[string]string
	IDs    []string
}

// Empty reports whether the selector names no criterion at all.
func (s *Selector) Empty() bool {
	return !s.All && s.Name == "" && len(s.Labels) == 0 && len(s.IDs) == 0
}

// ListFilter filters List; empty fields match everything.
type ListFilter struct {
	States []State
	Name   string
	Labels map[string]string
	// Usage fills each live record's tree usage from its cgroup (a few
	// file reads per process), as Get does; without it Usage is zero.
	Usage bool
}

// SignalResult is the outcome of a signal for one process.
type SignalResult struct {
	ID        string
	PID       int
	Delivered bool
	Err       string // why not delivered
}

// StopResult is the outcome of a stop for one process.
type StopResult struct {
	Info    Info // only ID when Unknown
	Unknown bool // a selector id no record has
	Err     error
}
