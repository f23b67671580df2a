package manager

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/procd/procd/internal/errdefs"
)

// RestartMode says whether a process is started again when a run ends.
type RestartMode int

// Restart modes. Their numbers are the core's own (the zero value is
// never): internal/server maps each to procd.v1.RestartMode by name.
const (
	RestartNever     RestartMode = 0
	RestartOnFailure RestartMode = 1 // after the failures in RestartPolicy.On
	RestartAlways    RestartMode = 2 // after any end the user did not ask for
)

func (m RestartMode) String() string {
	switch m {
	case RestartNever:
		return "never"
	case RestartOnFailure:
		return "on-failure"
	case RestartAlways:
		return "always"
	}
	return fmt.Sprintf("RestartMode(%d)", int(m))
}

// Failures is a set of the ways a run can fail, for RestartOnFailure.
type Failures uint8

// Failure kinds. A run ended by the user (stop, a terminating signal from
// a client), by the daemon's shutdown or by the end of its session never
// fails: nothing restarts it, whatever the mode.
const (
	FailNonZero  Failures = 1 << iota // exited on its own with a non-zero code
	FailSignal                        // killed by a signal nobody asked procd for (a crash, the OOM killer)
	FailHung                          // the hang watchdog ended it
	FailDeadline                      // its deadline ended it
	FailStartup                       // it did not become ready within its start-up timeout

	AllFailures = FailNonZero | FailSignal | FailHung | FailDeadline | FailStartup
)

var failureNames = []struct {
	f    Failures
	name string
}{{FailNonZero, "nonzero"}, {FailSignal, "signal"}, {FailHung, "hung"}, {FailDeadline, "deadline"}, {FailStartup, "startup-timeout"}}

func (f Failures) String() string {
	var names []string
	for _, n := range failureNames {
		if f&n.f != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

// ParseFailures reads a comma-separated list of failure kinds ("nonzero",
// "signal", "hung", "deadline", "startup-timeout", or "all").
func ParseFailures(s string) (Failures, error) {
	var f Failures
	for _, w := range strings.Split(s, ",") {
		w = strings.TrimSpace(w)
		if w == "all" {
			f |= AllFailures
			continue
		}
		found := false
		for _, n := range failureNames {
			if n.name == w {
				f, found = f|n.f, true
			}
		}
		if !found {
			return 0, errdefs.Errorf(errdefs.ErrInvalidArgument, "unknown failure kind %q (known: nonzero, signal, hung, deadline, startup-timeout, all)", w)
		}
	}
	return f, nil
}

// RestartPolicy is a process's restart policy. Zero values and nil
// pointers take the manager's defaults (Config.Restart); a resolved policy
// (Info.Restart.Policy) has every field set.
type RestartPolicy struct {
	Mode RestartMode
	// On is the failures that restart under RestartOnFailure (0: all).
	On Failures
	// Delay is the first delay; each restart multiplies it by Multiplier
	// (≥ 1), up to MaxDelay.
	Delay      time.Duration
	Multiplier float64
	MaxDelay   time.Duration
	// Jitter spreads each delay at random over ±Jitter of it (0 to 1),
	// never past MaxDelay, so processes that failed together do not restart
	// together.
	Jitter *float64
	// Limit is how many restarts Window may hold: the failure that would
	// need one more leaves the process FAILED with ReasonCrashLoop. 0: no
	// limit.
	Limit  *int
	Window time.Duration
	// ResetAfter: a run that lasts this long resets the delay to Delay. 0:
	// never.
	ResetAfter *time.Duration
}

// RestartDefaults are the daemon-wide defaults of restart policies (the
// daemon's --restart-* settings). Zero fields take DefaultRestart's; a
// negative Jitter, Limit or ResetAfter means none (no jitter, no limit,
// never reset).
type RestartDefaults struct {
	Delay      time.Duration
	Multiplier float64
	MaxDelay   time.Duration
	Jitter     float64
	Limit      int
	Window     time.Duration
	ResetAfter time.Duration
	// History is how many runs a record lists (the oldest are dropped).
	History int
}

// DefaultRestart returns the built-in restart defaults: 1 s doubling up to
// 1 min with 10 % jitter, at most 5 restarts a minute, reset after a minute
// of stable running, 20 runs listed.
func DefaultRestart() RestartDefaults {
	return RestartDefaults{Delay: time.Second, Multiplier: 2, MaxDelay: time.Minute, Jitter: 0.1,
		Limit: 5, Window: time.Minute, ResetAfter: time.Minute, History: 20}
}

func (d *RestartDefaults) withDefaults() {
	def := DefaultRestart()
	setDefault(&d.Delay, def.Delay)
	setDefault(&d.MaxDelay, def.MaxDelay)
	setDefault(&d.Window, def.Window)
	setDefault(&d.History, def.History)
	setDefault(&d.Limit, def.Limit)
	setDefault(&d.ResetAfter, def.ResetAfter)
	if d.Multiplier == 0 {
		d.Multiplier = def.Multiplier
	}
	if d.Jitter == 0 {
		d.Jitter = def.Jitter
	}
	d.Limit, d.ResetAfter, d.Jitter = max(d.Limit, 0), max(d.ResetAfter, 0), max(d.Jitter, 0)
}

func (p *RestartPolicy) validate() error {
	bad := func(format string, args ...any) error {
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "restart policy: "+format, args...)
	}
	switch {
	case p.Mode < RestartNever || p.Mode > RestartAlways:
		return bad("unknown mode %d", p.Mode)
	case p.Mode == RestartNever && (p.On != 0 || p.Delay != 0 || p.Multiplier != 0 || p.MaxDelay != 0 ||
		p.Jitter != nil || p.Limit != nil || p.Window != 0 || p.ResetAfter != nil):
		return bad("settings given, but the mode is never (set on-failure or always)")
	case p.On != 0 && p.Mode != RestartOnFailure:
		return bad("the failures that restart (on) only apply to mode on-failure, not %s", p.Mode)
	case p.On&^AllFailures != 0:
		return bad("unknown failure kinds %#x", uint8(p.On&^AllFailures))
	case p.Delay < 0 || p.MaxDelay < 0 || p.Window < 0:
		return bad("delay, max delay and window must not be negative")
	case p.Multiplier != 0 && (p.Multiplier < 1 || math.IsInf(p.Multiplier, 0) || math.IsNaN(p.Multiplier)):
		return bad("multiplier %v is below 1 (a delay must not shrink)", p.Multiplier)
	case p.MaxDelay != 0 && p.Delay > p.MaxDelay:
		return bad("delay %v is above the max delay %v", p.Delay, p.MaxDelay)
	case p.Jitter != nil && !(*p.Jitter >= 0 && *p.Jitter <= 1):
		return bad("jitter %v is not between 0 and 1", *p.Jitter)
	case p.Limit != nil && *p.Limit < 0:
		return bad("limit %d is negative", *p.Limit)
	case p.ResetAfter != nil && *p.ResetAfter < 0:
		return bad("reset after %v is negative", *p.ResetAfter)
	}
	return nil
}

// resolve fills a valid policy's unset fields from d.
func (p RestartPolicy) resolve(d RestartDefaults) RestartPolicy {
	if p.Mode == RestartNever {
		return RestartPolicy{}
	}
	if p.Mode == RestartOnFailure && p.On == 0 {
		p.On = AllFailures
	}
	if p.Delay == 0 {
		p.Delay = d.Delay
	}
	if p.Multiplier == 0 {
		p.Multiplier = d.Multiplier
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = max(d.MaxDelay, p.Delay)
	}
	p.Delay = min(p.Delay, p.MaxDelay)
	if p.Window == 0 {
		p.Window = d.Window
	}
	if p.Jitter == nil {
		p.Jitter = &d.Jitter
	}
	if p.Limit == nil {
		p.Limit = &d.Limit
	}
	if p.ResetAfter == nil {
		p.ResetAfter = &d.ResetAfter
	}
	return p
}

// restarts reports whether a run that ended with e is started again under
// p, and as what kind of failure (0 for a run that did not fail). It is
// the one place that classifies an end; a new exit reason belongs here.
func (p *RestartPolicy) restarts(e *Exit) (restart bool, failure Failures) {
	switch e.Reason {
	case ReasonHung:
		failure = FailHung
	case ReasonDeadline:
		failure = FailDeadline
	case ReasonStartupTimeout:
		failure = FailStartup
	case ReasonExited:
		switch {
		case e.Signal != 0:
			failure = FailSignal
		case e.Code != 0:
			failure = FailNonZero
		}
	default:
		// Stopped, shut down, client gone: the user or the daemon ended it.
		return false, 0
	}
	switch p.Mode {
	case RestartAlways:
		return true, failure
	case RestartOnFailure:
		return p.On&failure != 0, failure
	}
	return false, failure
}

// backoff is the delay before restart number step+1 since the last reset
// (step 0 is the first): Delay × Multiplier^step, capped at MaxDelay, then
// spread by the jitter (u is uniform in [0, 1)) and capped again.
func (p *RestartPolicy) backoff(step int, u float64) time.Duration {
	d := float64(p.Delay) * math.Pow(p.Multiplier, float64(step))
	d = min(d, float64(p.MaxDelay))
	if p.Jitter != nil && *p.Jitter > 0 {
		d += d * *p.Jitter * (2*u - 1)
	}
	return time.Duration(min(max(d, 0), float64(p.MaxDelay)))
}

// Run is one run of a logical process: its first start or a restart.
type Run struct {
	Attempt    int // 1 for the first start
	PID        int
	StartedAt  time.Time
	FinishedAt time.Time // zero while it runs
	Exit       *Exit     // nil while it runs
}

// RestartState is where the supervision of a logical process stands: what
// a record shows (Info.Restart) and what a store keeps to resume it after
// the daemon restarts (Manager.Resume).
type RestartState struct {
	// Attempt is the number of runs started so far, the first included;
	// Attempt-1 were restarts.
	Attempt int
	// Step is the restarts since the backoff was last reset: the next
	// delay is the policy's backoff at Step.
	Step int
	// Recent are the times of the restarts within the policy's window,
	// oldest first (the crash-loop limit counts them).
	Recent []time.Time
	// Runs are the last runs, oldest first, at most the manager's
	// RestartDefaults.History; the current run, if any, is the last.
	Runs []Run
	// NextAt and Delay describe the pending restart (state BACKOFF); Delay
	// stays the last delay afterwards.
	NextAt time.Time
	Delay  time.Duration
	// Error says why a restart could not start (the process is FAILED).
	Error string
}

// RestartInfo is a process's resolved restart policy and state.
type RestartInfo struct {
	Policy RestartPolicy
	RestartState
}

func (s *RestartState) clone() RestartState {
	c := *s
	c.Recent = append([]time.Time(nil), s.Recent...)
	c.Runs = make([]Run, len(s.Runs))
	for i, r := range s.Runs {
		c.Runs[i] = r
		if r.Exit != nil {
			e := *r.Exit
			c.Runs[i].Exit = &e
		}
	}
	return c
}

// jitterSource is uniform in [0, 1); a variable of the manager so tests can
// fix it.
func defaultJitterSource() float64 { return rand.Float64() }
