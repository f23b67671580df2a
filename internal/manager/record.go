package manager

import (
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/procd/procd/internal/cgroup"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/output"
	"github.com/procd/procd/internal/probe"
	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/watchdog"
)

// record is one run of a process: the table's entry for its id while it
// is the newest run (see lineage).
type record struct {
	// Immutable after Start.
	id      string // the logical process's, shared by its runs
	seq     uint64 // start order of the logical process
	lin     *lineage
	attempt int  // 1 for the first run
	spec    Spec // normalised: Name, KillMode, StopSignal and Grace set
	exe     string
	pid     int
	pgid    int
	p       *proc.Process
	cg      *cgroup.Group // nil without cgroup containment
	// cgMu orders signals to the tree (readers) before the cgroup is given
	// back (cgGone, set by closeCgroup): a pooled cgroup then belongs to
	// another tree, which a late client signal or kill must never reach.
	cgMu      sync.RWMutex
	cgGone    bool
	startedAt time.Time
	stdout    *output.Stream
	stderr    *output.Stream
	stdin     *stdin // nil: stdin is /dev/null
	// stdinExternal: stdin is a pipe of the session's client (AttachOptions.StdinFile), not procd's.
	stdinExternal bool
	logDir        string // output log files, if any

	act       *watchdog.Activity // shared by every activity source
	wdConfig  watchdog.Settings  // resolved watchdog settings
	startMono time.Duration      // start on the watchdog's clock
	exited    chan struct{}      // closed when the leader exits (it may be unreaped)
	ended     chan struct{}      // closed when this run's record is complete (output followers stop)
	done      chan struct{}      // the lineage's: closed when the logical process's final record is published

	mu         sync.Mutex
	state      State
	stopReason Reason      // first reason a stop was requested for; 0 if none
	esc        *escalation // the running escalation, if any
	settling   bool        // settle has taken over; no new escalation starts
	clientSigs []syscall.Signal
	exit       *Exit
	finishedAt time.Time
	ready      bool   // READY=1 on the notify socket
	status     string // last STATUS= on the notify socket
	rd         readyState

	frozen *Info // a record read back from the state store: its snapshot
}

// escalation is one run of the stop sequence for a record.
type escalation struct {
	done         chan struct{} // closed when the tree is gone (or given up on)
	expedite     chan struct{} // closed to skip what is left of the grace period
	expediteOnce sync.Once
}

func (e *escalation) hurry() { e.expediteOnce.Do(func() { close(e.expedite) }) }

func (r *record) matches(name string, labels map[string]string) bool {
	if name != "" && r.spec.Name != name {
		return false
	}
	for k, v := range labels {
		if got, ok := r.spec.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// info snapshots a record without the live tree usage (reading cgroup
// files costs more than the rest of a snapshot; see liveInfo).
func (m *Manager) info(r *record) Info { return m.snapshot(r, false) }

// liveInfo is info with the live tree usage of a running process.
func (m *Manager) liveInfo(r *record) Info { return m.snapshot(r, true) }

func (m *Manager) snapshot(r *record, live bool) Info {
	if r.frozen != nil {
		return r.frozenInfo()
	}
	r.mu.Lock()
	state, exit, fin, ready, status := r.state, r.exit, r.finishedAt, r.ready, r.status
	readiness := r.readyInfo()
	r.mu.Unlock()
	var e *Exit
	if exit != nil {
		c := *exit
		e = &c
	}
	last, src := r.act.Last()
	rs := r.lin.snapshot()
	info := Info{
		ID:           r.id,
		Attempt:      r.attempt,
		Runs:         rs.Runs,
		PID:          r.pid,
		PGID:         r.pgid,
		Name:         r.spec.Name,
		Labels:       r.spec.Labels,
		Command:      r.spec.Command,
		Executable:   r.exe,
		Dir:          r.spec.Dir,
		KillMode:     r.spec.KillMode,
		State:        state,
		StartedAt:    r.startedAt,
		FinishedAt:   fin,
		LastActivity: m.clock.Wall(last),
		LastSource:   src,
		Exit:         e,
		Watchdog:     WatchdogInfo{Settings: r.wdConfig, Ready: ready, NotifyStatus: status},
		Limits:       r.spec.Limits,
		TTY:          r.spec.TTY != nil,
		Stdin:        r.spec.Stdin,
		LogDir:       r.logDir,
		RunAs:        runAsString(&r.spec),

		BoundToSession: r.spec.BindToSession,
		Ready:          readiness,
	}
	if r.spec.Caller != nil {
		info.Caller = r.spec.Caller.Desc
	}
	if r.lin.policy.Mode != RestartNever {
		info.Restart = &RestartInfo{Policy: r.lin.policy, RestartState: rs}
	}
	if r.cg != nil {
		info.Cgroup = r.cg.Path()
		switch {
		case exit != nil:
			info.Usage = exit.Tree
		case live:
			r.cgMu.RLock()
			if !r.cgGone { // a cgroup given back may hold another tree now
				u := r.cg.Usage()
				info.Usage = TreeUsage{CPU: u.CPU, MemCurrent: u.MemCurrent, MemPeak: u.MemPeak}
			}
			r.cgMu.RUnlock()
		}
	}
	if st, ok := m.wd.Status(r.id); ok {
		info.Watchdog.Idle, info.Watchdog.Slow, info.Watchdog.Hung = st.Idle, st.Slow, st.Hung
	} else if exit == nil {
		info.Watchdog.Idle = m.clock.Now() - last
	}
	if r.wdConfig.Deadline > 0 {
		info.Watchdog.DeadlineAt = m.clock.Wall(r.startMono + r.wdConfig.Deadline)
	}
	info.Stdout = streamInfo(r.stdout)
	info.Stderr = streamInfo(r.stderr)
	return info
}

func streamInfo(s *output.Stream) StreamInfo {
	total, _, _ := s.Info()
	return StreamInfo{Total: total, Dropped: s.RingDropped(), LogBytes: s.DiskUsage()}
}

// terminatingBySignal are the signals a client sends to end a process; a
// process that exits after receiving one from a client was stopped, not
// exited on its own.
var terminatingBySignal = []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGKILL, syscall.SIGHUP, syscall.SIGQUIT}

// reasonFor decides the exit reason once the leader is reaped; r.mu is held.
func (r *record) reasonFor(st proc.ExitStatus) Reason {
	if r.stopReason != 0 {
		return r.stopReason
	}
	for _, s := range r.clientSigs {
		if s == st.Signal || slices.Contains(terminatingBySignal, s) {
			return ReasonStopped
		}
	}
	return ReasonExited
}

// streamSink feeds one output pipe into its stream, counts and events
// drops, and stamps activity. It holds the pipe back while a session lags
// (proc.FlowSink): bytes a session consumes count as output activity too,
// so a process blocked in write(2) on a slow but reading client is not
// idle; one blocked on a client that stopped reading is.
type streamSink struct {
	m       *Manager
	r       *record
	s       *output.Stream
	stream  string
	evented bool               // only touched from the poll loop
	lines   *probe.LineMatcher // a log readiness check, while starting; poll loop only
}

func (s *streamSink) Room() int {
	room := s.s.Room()
	if room == 0 {
		s.r.act.Touch(s.m.clock.Now(), watchdog.Output)
	}
	return room
}

func (s *streamSink) SetResume(resume func()) {
	s.s.OnRoom(func() {
		s.r.act.Touch(s.m.clock.Now(), watchdog.Output)
		resume()
	})
}

// Tee lets a session's local client pipe take the bytes before they are
// read (proc.TeeSink); Write still gets them all.
func (s *streamSink) Tee(fd, limit int) int { return s.s.Tee(fd, limit) }

func (s *streamSink) Write(p []byte) {
	s.r.act.Touch(s.m.clock.Now(), watchdog.Output)
	if s.lines != nil {
		s.feedReady(p)
	}
	s.m.stats.bytesCaptured.Add(int64(len(p)))
	if d := s.s.Write(p); d > 0 {
		s.m.stats.bytesDropped.Add(d)
		if !s.evented {
			s.evented = true
			s.m.publish(s.r, events.OutputDropped, func(e *events.Event) {
				e.Stream = s.stream
				e.Detail = "the " + s.stream + " ring is full; the oldest bytes are being dropped from memory"
			})
		}
	}
}

func (s *streamSink) Close() { s.s.Close() }

func runAsString(s *Spec) string {
	out := s.User
	if s.Group != "" {
		out += ":" + s.Group
	}
	if len(s.Groups) > 0 {
		out += " +" + strings.Join(s.Groups, ",")
	}
	return out
}
