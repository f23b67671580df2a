package manager

import (
	"fmt"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/cgroup"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/faults"
	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/procattr"
)

// settle runs once per process, after the leader exited. It ends leftovers
// of the group (unless kill mode is leader), waits for a running stop
// escalation, reaps the leader, waits for the output to end and publishes
// the final record.
func (m *Manager) settle(r *record) {
	r.mu.Lock()
	r.stopProbing() // a process that exited while starting never becomes ready
	r.mu.Unlock()
	leftovers := 0
	empty := false // known empty: no process is left in the tree
	if r.spec.KillMode == KillGroup {
		r.mu.Lock()
		running := r.esc != nil
		r.mu.Unlock()
		if !running && r.cg != nil {
			empty = m.treeEmpty(r) // one read, where listing the members is two or more
		}
		if !running && !empty {
			if members := m.treeMembers(r); len(members) > 0 {
				leftovers = len(members)
				m.publish(r, events.Leftovers, func(e *events.Event) {
					e.Detail = fmt.Sprintf("leader exited; ending %d leftover process(es) of its group", leftovers)
				})
				m.escalate(r, 0, r.spec.StopSignal, r.spec.Grace, "leftovers")
			}
		}
	}
	r.mu.Lock()
	r.settling = true // from now on Stop waits instead of escalating
	esc := r.esc
	r.mu.Unlock()
	if esc != nil {
		<-esc.done
	}

	faults.Point(m.cfg.Faults, faults.Settling)
	if r.cg == nil && m.cfg.Tracker != nil {
		// Before the reap: once reaped, the pid and group number are free,
		// and a new process of ours may get them and be tracked meanwhile.
		m.cfg.Tracker.Untrack(r.pgid)
	}
	st, err := r.p.Reap()
	if err != nil {
		// Cannot happen for a child we alone wait for; keep a record anyway.
		m.log.Error("reap failed", zap.String("process-id", r.id), zap.Int("pid", r.pid), zap.Error(err))
		st = proc.ExitStatus{Code: -1}
	}
	// The tree is gone: what its pipes still buffer is captured now, even
	// past the window of a lagging session, rather than keep the final
	// record waiting on the slowest client.
	r.stdout.Drain()
	r.stderr.Drain()
	complete := r.p.WaitOutput(m.cfg.PipeWait)
	r.p.Release()
	if r.stdin != nil {
		r.stdin.shutdown()
	}
	if !complete {
		m.log.Warn("output pipes still open after the tree ended; closed them",
			zap.String("process-id", r.id), zap.Duration("pipe-wait", m.cfg.PipeWait))
	}
	// The streams are closed: the final record waits (bounded) for their
	// log files to hold every byte, so the files in the log directory are
	// whole. A disk slower than that keeps writing after; readers through
	// procd get those bytes meanwhile from the log's writer (Stream.ReadAt).
	logWait := time.Now().Add(m.cfg.PipeWait)
	if !r.stdout.WaitLog(time.Until(logWait)) || !r.stderr.WaitLog(time.Until(logWait)) {
		m.log.Warn("log files still being written when the process's record was finished",
			zap.String("process-id", r.id), zap.Duration("pipe-wait", m.cfg.PipeWait))
	}
	var tree cgroupFinal
	if r.cg != nil {
		tree = m.closeCgroup(r, empty)
	}
	m.finish(r, st, leftovers, !complete, tree)
}

// cgroupFinal is what a tree's cgroup says once the tree is gone.
type cgroupFinal struct {
	usage TreeUsage
	oom   bool
}

// closeCgroup reads a finished tree's figures and gives its cgroup back to
// the pool or has it removed. A tree still populated is killed first
// (SIGKILL did not end it within the kill wait) — unless its kill mode is
// leader, whose descendants are left running on purpose: their cgroup is
// removed once they are gone. A cgroup procd cannot read counts as
// populated. empty says settle already found the tree empty (nothing can
// enter it since).
func (m *Manager) closeCgroup(r *record, empty bool) cgroupFinal {
	if !empty {
		empty = m.treeEmpty(r)
	}
	if !empty && r.spec.KillMode == KillGroup {
		m.withFDs(r.cg.Kill)
		empty = r.cg.WaitEmpty(m.cfg.KillWait)
	}
	var u cgroup.Usage
	recycled := false
	r.cgMu.Lock() // waits out a signal in flight; none reaches the cgroup after this
	r.cgGone = true
	r.cgMu.Unlock()
	switch {
	case empty && r.cg.Pooled():
		u, recycled = m.cfg.Cgroups.Release(r.cg) // checks again that it is empty and uncharged
	default:
		u = r.cg.FinalUsage()
	}
	f := cgroupFinal{usage: TreeUsage{CPU: u.CPU, MemPeak: u.MemPeak}, oom: u.OOMKills > 0}
	switch {
	case recycled:
	case empty:
		m.remover.remove(r.id, r.cg) // off the exit path: the figures are read
	default:
		m.remover.removeWhenEmpty(r.id, r.cg)
	}
	return f
}

// finish publishes the final record.
func (m *Manager) finish(r *record, st proc.ExitStatus, leftovers int, truncated bool, tree cgroupFinal) {
	m.fds.refill() // descriptors a finished tree held go to the reserve before new starts
	if tree.oom {
		m.publish(r, events.OOMKilled, func(e *events.Event) {
			e.Detail = fmt.Sprintf("the kernel killed a process of the tree for memory (memory_max %d bytes)", r.spec.Limits.MemoryMax)
		})
	}
	r.mu.Lock()
	exit := &Exit{
		Reason:          r.reasonFor(st),
		Code:            st.Code,
		Signal:          st.Signal,
		CoreDumped:      st.CoreDumped,
		Usage:           st.Usage,
		Leftovers:       leftovers,
		OutputTruncated: truncated,
		OOMKilled:       tree.oom,
		Tree:            tree.usage,
	}
	r.exit = exit
	r.finishedAt = time.Now()
	fin := r.finishedAt
	r.mu.Unlock()
	m.unwatch(r) // the record is persisted once its next state is known (backoff, finalize)

	m.stats.countExit(exit.Reason, leftovers)
	m.mu.Lock()
	m.live--
	m.mu.Unlock()
	if ce := m.log.Check(zap.DebugLevel, "process exited"); ce != nil {
		ce.Write(zap.String("process-id", r.id), zap.Int("pid", r.pid), zap.String("reason", exit.Reason.String()),
			zap.Int("code", exit.Code), zap.String("signal", signalName(exit.Signal)))
	}
	close(r.ended)
	if v := m.decide(r, exit, fin); v.restart {
		m.backoff(r, exit, v.delay)
	} else {
		m.finalize(r, v.state, v.exit, v.detail)
	}
}

func signalName(sig syscall.Signal) string {
	if sig == 0 {
		return ""
	}
	return procattr.SignalName(sig)
}

func describeExit(e *Exit) string {
	s := fmt.Sprintf("exit code %d", e.Code)
	if e.Signal != 0 {
		s = "killed by " + procattr.SignalName(e.Signal)
		if e.CoreDumped {
			s += " (core dumped)"
		}
	}
	s += ", reason " + e.Reason.String()
	if e.Leftovers > 0 {
		s += fmt.Sprintf(", %d leftover(s) ended", e.Leftovers)
	}
	if e.OOMKilled {
		s += ", OOM kill in the tree"
	}
	return s
}

// escalate starts the stop sequence for r, or joins the one already running
// (recording reason if none was recorded yet). It returns nil when settle has
// already taken over without an escalation: the caller just waits for done.
// A new sequence's first signal reaches the leader before escalate returns,
// on the caller's goroutine (for a watchdog kill, the timer's): the
// deadline is met by one syscall, not by a goroutine that must first be
// scheduled on a busy daemon.
func (m *Manager) escalate(r *record, reason Reason, sig syscall.Signal, grace time.Duration, why string) *escalation {
	e, started := m.newEscalation(r, reason)
	if started {
		leaderSent := r.cg != nil && !isClosed(r.exited) && r.p.Signal(sig) == nil
		go m.runEscalation(r, e, sig, grace, why, leaderSent)
	}
	return e
}

// newEscalation records reason and returns r's escalation: a new one
// (started) if none runs and the leader is not settled yet.
func (m *Manager) newEscalation(r *record, reason Reason) (e *escalation, started bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopProbing() // a process being stopped is not probed any more
	if reason != 0 && r.stopReason == 0 && !isClosed(r.exited) {
		// Only a stop that finds the leader running caused its end; one that
		// arrives while leftovers are cleaned up leaves the reason EXITED.
		r.stopReason = reason
	}
	if r.esc != nil {
		return r.esc, false
	}
	if r.settling || r.exit != nil {
		return nil, false
	}
	e = &escalation{done: make(chan struct{}), expedite: make(chan struct{})}
	r.esc = e
	if reason != 0 {
		r.state = Stopping
		m.persist(r)
	}
	return e, true
}

// runEscalation: stop signal to the group, wait for the tree to go within
// the grace period, else SIGKILL to the group — even if the leader already
// exited (pitfall 1) — and wait for the tree to go. The leader is never
// reaped before this ends, so its zombie keeps the group number ours.
// leaderSent says escalate signalled the leader already.
func (m *Manager) runEscalation(r *record, e *escalation, sig syscall.Signal, grace time.Duration, why string, leaderSent bool) {
	defer close(e.done)
	m.signalGroup(r, sig, why, leaderSent)
	faults.Point(m.cfg.Faults, faults.Escalating)
	if sig != syscall.SIGKILL && m.waitTreeGone(r, grace, e.expedite) {
		return
	}
	if sig != syscall.SIGKILL {
		target, err := m.signalTree(r, syscall.SIGKILL, false)
		if err != nil && !isDone(err) {
			m.log.Error("SIGKILL to process tree failed", zap.String("process-id", r.id), zap.String("tree", target), zap.Error(err))
		}
		m.publish(r, events.Escalated, func(ev *events.Event) {
			ev.Signal = "SIGKILL"
			ev.Detail = fmt.Sprintf("tree still alive after the %v grace period; sent SIGKILL to %s", grace, target)
		})
	}
	if !m.waitTreeGone(r, m.cfg.KillWait, nil) {
		m.log.Error("process tree still alive after SIGKILL; giving up waiting",
			zap.String("process-id", r.id), zap.Int("pgid", r.pgid), zap.Ints("members", m.treeMembers(r)))
	}
}

func (m *Manager) signalGroup(r *record, sig syscall.Signal, why string, leaderSent bool) {
	target, err := m.signalTree(r, sig, leaderSent)
	if err != nil && !isDone(err) {
		m.log.Error("signal to process tree failed", zap.String("process-id", r.id), zap.String("tree", target),
			zap.String("signal", procattr.SignalName(sig)), zap.Error(err))
		return
	}
	m.publish(r, events.SignalSent, func(e *events.Event) {
		e.Signal = procattr.SignalName(sig)
		e.Detail = fmt.Sprintf("%s to %s (%s)", procattr.SignalName(sig), target, why)
	})
}

// waitTreeGone waits up to d for the leader to exit and its group to be
// empty. It returns early (false) when hurry is closed.
func (m *Manager) waitTreeGone(r *record, d time.Duration, hurry <-chan struct{}) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-r.exited:
	case <-timer.C:
		return false
	case <-hurry:
		return false
	}
	for delay := time.Millisecond; ; delay = min(2*delay, 25*time.Millisecond) {
		if m.treeEmpty(r) {
			return true
		}
		select {
		case <-time.After(delay):
		case <-timer.C:
			return false
		case <-hurry:
			return false
		}
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
