package manager

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/events"
)

// A logical process is a lineage of runs that share an id: the first start
// and each restart its policy makes. Each run is a record of its own (its
// pid, pipes, rings, cgroup and exit never change once set); the table maps
// the id to the newest run, and the lineage holds what the runs share —
// the final-record channel, the restart policy, the run history and the
// pending restart.
//
// After a run ends, finish asks decide whether to restart it. If so the
// run's record goes BACKOFF, a RESTARTING event carries the delay, and a
// timer starts the next run (restartNow); otherwise the record is made
// final (finalize): EXITED, or FAILED with ReasonCrashLoop when the
// restarts within the policy's window reached its limit. EXITED is
// published once per logical process, when it is final.
//
// A stop (or the daemon's shutdown) halts the lineage first: no run ends
// into a restart after that, and a pending restart is cancelled, so a
// restart never resurrects what the user stopped. Exactly one of halt, the
// backoff that arms the timer and the timer itself finalizes a lineage
// halted in BACKOFF: whichever finds the timer not (or no longer) armed.
type lineage struct {
	id     string
	seq    uint64
	done   chan struct{} // closed when the logical process is final
	policy RestartPolicy // resolved
	keep   int           // runs kept in the history

	mu      sync.Mutex    // control; taken before hmu, and held across a restart's start
	current *record       // the newest run (set by register)
	newRun  chan struct{} // closed when a newer run than current registers
	halt    Reason        // why restarts were halted; 0: they were not
	pending bool          // a restart is scheduled (the current run is BACKOFF)
	timer   *time.Timer

	hmu   sync.Mutex
	state RestartState
}

func (m *Manager) newLineage(id string, seq uint64, spec *Spec) *lineage {
	return &lineage{id: id, seq: seq, done: make(chan struct{}),
		policy: spec.Restart.resolve(m.cfg.Restart), keep: m.cfg.Restart.History}
}

// nextAttempt is the attempt number of the run about to start.
func (l *lineage) nextAttempt() int {
	l.hmu.Lock()
	defer l.hmu.Unlock()
	return l.state.Attempt + 1
}

// beginRun lists a run that has just started.
func (l *lineage) beginRun(r *record) {
	l.hmu.Lock()
	defer l.hmu.Unlock()
	l.state.Attempt = r.attempt
	l.state.NextAt = time.Time{}
	l.state.Runs = append(l.state.Runs, Run{Attempt: r.attempt, PID: r.pid, StartedAt: r.startedAt})
	if n := len(l.state.Runs) - l.keep; n > 0 {
		l.state.Runs = append(l.state.Runs[:0:0], l.state.Runs[n:]...)
	}
}

// endRun completes a run's entry in the history.
func (l *lineage) endRun(r *record, exit *Exit, at time.Time) {
	l.hmu.Lock()
	defer l.hmu.Unlock()
	for i := len(l.state.Runs) - 1; i >= 0; i-- {
		if run := &l.state.Runs[i]; run.Attempt == r.attempt {
			run.FinishedAt, run.Exit = at, exit
			return
		}
	}
}

func (l *lineage) snapshot() RestartState {
	l.hmu.Lock()
	defer l.hmu.Unlock()
	return l.state.clone()
}

// latest is the newest run of r's lineage (r itself for a record read
// back from the state store, which has none).
func (m *Manager) latest(r *record) *record {
	if r.lin == nil {
		return r
	}
	r.lin.mu.Lock()
	defer r.lin.mu.Unlock()
	if r.lin.current != nil {
		return r.lin.current
	}
	return r
}

// verdict is what happens to a logical process once a run ended.
type verdict struct {
	restart bool
	delay   time.Duration
	state   State  // the final state, when not restarting
	exit    *Exit  // the final record's exit
	detail  string // appended to the exited event's detail
}

// decide records the end of run r and decides what follows. A restart is
// left pending (l.pending) for backoff to arm.
func (m *Manager) decide(r *record, exit *Exit, finishedAt time.Time) verdict {
	l := r.lin
	l.endRun(r, exit, finishedAt)
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok, _ := l.policy.restarts(exit); !ok {
		return verdict{state: Exited, exit: exit}
	}
	m.mu.RLock()
	closing := m.closing
	m.mu.RUnlock()
	if closing && l.halt == 0 {
		l.halt = ReasonShutdown
	}
	if l.halt != 0 {
		return verdict{state: Exited, exit: withReason(exit, l.halt), detail: "; not restarted: " + haltWhy(l.halt)}
	}
	p := &l.policy
	now := time.Now()
	l.hmu.Lock()
	defer l.hmu.Unlock()
	st := &l.state
	if *p.ResetAfter > 0 && finishedAt.Sub(r.startedAt) >= *p.ResetAfter {
		st.Step = 0
	}
	kept := st.Recent[:0]
	for _, t := range st.Recent {
		if now.Sub(t) < p.Window {
			kept = append(kept, t)
		}
	}
	st.Recent = kept
	if *p.Limit > 0 && len(st.Recent) >= *p.Limit {
		return verdict{state: Failed, exit: withReason(exit, ReasonCrashLoop),
			detail: fmt.Sprintf("; crash loop: %d restarts within %v, the limit", len(st.Recent), p.Window)}
	}
	delay := p.backoff(st.Step, m.jitter())
	st.Step++
	st.Recent = append(st.Recent, now)
	st.NextAt, st.Delay = now.Add(delay), delay
	l.pending = true
	return verdict{restart: true, delay: delay}
}

func withReason(e *Exit, reason Reason) *Exit {
	c := *e
	c.Reason = reason
	return &c
}

func haltWhy(reason Reason) string {
	if reason == ReasonShutdown {
		return "the daemon is shutting down"
	}
	return "the process was stopped"
}

// backoff puts run r into BACKOFF, announces the restart and arms its
// timer, unless the lineage was halted meanwhile (then it is final).
func (m *Manager) backoff(r *record, exit *Exit, delay time.Duration) {
	l := r.lin
	r.mu.Lock()
	r.state = Backoff
	r.mu.Unlock()
	m.persist(r)
	info := m.info(r)
	m.publish(r, events.Restarting, func(e *events.Event) {
		e.Data = info
		e.Delay = delay
		e.Attempt = r.attempt + 1
		e.Detail = fmt.Sprintf("%s; restart %d in %v", describeExit(exit), r.attempt, delay.Round(time.Millisecond))
	})
	if ce := m.log.Check(zap.DebugLevel, "process restarting"); ce != nil {
		ce.Write(zap.String("process-id", r.id), zap.Int("attempt", r.attempt+1), zap.Duration("delay", delay))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.halt != 0 {
		l.pending = false
		m.finalize(r, Exited, withReason(exit, l.halt), "; restart cancelled: "+haltWhy(l.halt))
		return
	}
	l.timer = time.AfterFunc(delay, func() { m.restartNow(l) })
}

// restartNow starts the next run of l once its delay has passed.
func (m *Manager) restartNow(l *lineage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer = nil
	if !l.pending {
		return // halted and finalized meanwhile
	}
	l.pending = false
	prev := l.current
	prev.mu.Lock()
	exit := prev.exit
	prev.mu.Unlock()
	m.mu.RLock()
	if m.closing && l.halt == 0 {
		l.halt = ReasonShutdown
	}
	m.mu.RUnlock()
	if l.halt != 0 {
		m.finalize(prev, Exited, withReason(exit, l.halt), "; restart cancelled: "+haltWhy(l.halt))
		return
	}
	if _, _, err := m.start(prev.spec, nil, l); err != nil {
		m.log.Warn("restart failed", zap.String("process-id", l.id), zap.Error(err))
		m.stats.startFailures.Add(1)
		l.hmu.Lock()
		l.state.Error = err.Error()
		l.hmu.Unlock()
		m.finalize(prev, Failed, exit, "; restart failed: "+err.Error())
		return
	}
	m.removeStreams(prev) // its log files; the new run writes its own
	m.stats.countRestart(exit.Reason)
}

// halt stops l's restarts for reason (the first reason given wins) and
// cancels a pending one. It returns the newest run, for the caller to stop
// (one in BACKOFF has already ended).
func (m *Manager) halt(r *record, reason Reason) *record {
	l := r.lin
	if l == nil {
		return r // read back from the state store: inert
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.halt == 0 {
		l.halt = reason
	}
	cur := l.current
	if l.pending && l.timer != nil && l.timer.Stop() {
		l.timer, l.pending = nil, false
		cur.mu.Lock()
		exit := cur.exit
		cur.mu.Unlock()
		m.finalize(cur, Exited, withReason(exit, l.halt), "; restart cancelled: "+haltWhy(l.halt))
	}
	return cur
}

// finalize makes run r the final record of its logical process.
func (m *Manager) finalize(r *record, state State, exit *Exit, detail string) {
	r.mu.Lock()
	r.state, r.exit = state, exit
	r.mu.Unlock()
	r.lin.hmu.Lock()
	r.lin.state.NextAt = time.Time{}
	r.lin.hmu.Unlock()
	m.persist(r)
	if exit.Reason == ReasonCrashLoop {
		m.stats.crashLoops.Add(1)
	}
	m.mu.Lock()
	m.finished = append(m.finished, r)
	removed := m.trimLocked(time.Now())
	m.mu.Unlock()
	info := m.info(r)
	m.publish(r, events.Exited, func(e *events.Event) {
		e.Data = info
		e.Detail = describeExit(exit) + detail
	})
	m.announceRemoved(removed, "retention limit")
	close(r.done) // last: whoever waits may tear everything down
}

// Resume starts a new run of a logical process that an earlier daemon ran,
// under its old id and with its restart state as a store kept it (the
// history goes on from st; no restart is counted for it, and st.Step
// gives its next delay). It is how processes with a restart policy run
// again after procd restarts. The id must look like the manager's own
// ("p-N"); ids issued afterwards are above it. It fails like Start, or
// with FAILED_PRECONDITION when a record has that id.
func (m *Manager) Resume(id string, spec Spec, st RestartState) (Info, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(id, "p-"), 10, 64)
	if !strings.HasPrefix(id, "p-") || err != nil || n == 0 {
		return Info{}, errdefs.Errorf(errdefs.ErrInvalidArgument, "resume: id %q is not a process id (p-N)", id)
	}
	if err := spec.Validate(); err != nil {
		return Info{}, err
	}
	if err := m.cfg.Input.check(&spec); err != nil {
		return Info{}, err
	}
	for cur := m.nextID.Load(); cur < n && !m.nextID.CompareAndSwap(cur, n); cur = m.nextID.Load() {
	} // ids given out next are above it (newID reserves them in the store)
	m.mu.RLock()
	_, taken := m.byID[id]
	m.mu.RUnlock()
	if taken {
		return Info{}, errdefs.Errorf(errdefs.ErrFailedPrecondition, "resume: a process with id %q exists", id)
	}
	spec = m.normalise(spec)
	l := m.newLineage(id, n, &spec)
	l.state = st.clone()
	l.state.NextAt, l.state.Error = time.Time{}, ""
	l.mu.Lock()
	defer l.mu.Unlock()
	info, _, err := m.start(spec, nil, l)
	return info, err
}
