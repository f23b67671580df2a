package manager

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/probe"
	"github.com/procd/procd/internal/proc"
)

// ReadyKind says how a process shows that it is ready.
type ReadyKind int

// Readiness checks. Their numbers are the core's own.
const (
	ReadyAtStart ReadyKind = iota // ready as soon as it started (the default)
	ReadyNotify                   // READY=1 on the sd_notify socket
	ReadyTCP                      // a TCP connection to Readiness.Addr succeeds
	ReadyHTTP                     // GET Readiness.URL answers 2xx
	ReadyExec                     // Readiness.Command exits 0
	ReadyLog                      // a stdout or stderr line matches Readiness.Pattern
)

func (k ReadyKind) String() string {
	switch k {
	case ReadyAtStart:
		return "start"
	case ReadyNotify:
		return "notify"
	case ReadyTCP:
		return "tcp"
	case ReadyHTTP:
		return "http"
	case ReadyExec:
		return "exec"
	case ReadyLog:
		return "log"
	}
	return fmt.Sprintf("ReadyKind(%d)", int(k))
}

// Readiness says when a started process is ready: until then it is
// Starting, its hang watchdog is off (a silent start-up is not idleness)
// and WaitReady waits. The zero value: ready at once.
type Readiness struct {
	Kind ReadyKind
	// Addr (ReadyTCP) is host:port with a loopback host, or a port alone
	// (127.0.0.1).
	Addr string
	// URL (ReadyHTTP) is an http or https URL with a loopback host.
	URL string
	// Command (ReadyExec) is run like the process itself: its environment,
	// working directory and user, under the same start check (the daemon's
	// command policy), as the leader of its own process group, killed with
	// its group when an attempt times out.
	Command []string
	// Pattern (ReadyLog) is a regular expression (RE2) matched against
	// each line of stdout and stderr.
	Pattern string
	// Interval is the time between the starts of two probe attempts and
	// AttemptTimeout bounds each (TCP, HTTP, exec); 0: the manager's
	// defaults.
	Interval, AttemptTimeout time.Duration
	// StartupTimeout ends a process that is not ready in time, with the
	// usual stop escalation and reason STARTUP_TIMEOUT. Nil: the manager's
	// default; 0: none.
	StartupTimeout *time.Duration
}

// ReadinessDefaults are the daemon-wide readiness settings.
type ReadinessDefaults struct {
	Interval       time.Duration // between probe attempts (default 250ms)
	AttemptTimeout time.Duration // per probe attempt (default 1s)
	StartupTimeout time.Duration // default 60s; <0: none
}

// Readiness defaults for Config.
const (
	DefaultReadyInterval       = 250 * time.Millisecond
	DefaultReadyAttemptTimeout = time.Second
	DefaultStartupTimeout      = 60 * time.Second
)

// ReadyInfo is a process's readiness check and its progress.
type ReadyInfo struct {
	Readiness Readiness     // defaults applied; StartupTimeout is never nil
	ReadyAt   time.Time     // zero while Starting (and for a process that never became ready)
	Attempts  int           // probe attempts so far
	LastError string        // why the last probe attempt failed
	Took      time.Duration // from start to ready
}

func (r *Readiness) validate() error {
	bad := func(format string, args ...any) error {
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "ready: "+format, args...)
	}
	if r.Interval < 0 || r.AttemptTimeout < 0 || r.StartupTimeout != nil && *r.StartupTimeout < 0 {
		return bad("interval, attempt timeout and startup timeout must not be negative")
	}
	given := 0
	for _, set := range []bool{r.Addr != "", r.URL != "", len(r.Command) > 0, r.Pattern != ""} {
		if set {
			given++
		}
	}
	switch r.Kind {
	case ReadyAtStart:
		// A zero startup timeout is what normalise gives: a spec kept in
		// the state store validates again when it is resumed.
		if given > 0 || r.StartupTimeout != nil && *r.StartupTimeout != 0 {
			return bad("a probe or startup timeout is given without a readiness check")
		}
		return nil
	case ReadyNotify:
		if given > 0 {
			return bad("notify takes no address, URL, command or pattern")
		}
		return nil
	}
	if given != 1 {
		return bad("give exactly one check (tcp, http, exec or log)")
	}
	if (r.Kind == ReadyTCP) != (r.Addr != "") || (r.Kind == ReadyHTTP) != (r.URL != "") ||
		(r.Kind == ReadyExec) != (len(r.Command) > 0) || (r.Kind == ReadyLog) != (r.Pattern != "") {
		return bad("the %s check is given the field of another check", r.Kind)
	}
	switch r.Kind {
	case ReadyTCP:
		if _, err := probe.CheckAddr(r.Addr); err != nil {
			return bad("tcp %v", err)
		}
	case ReadyHTTP:
		if err := probe.CheckURL(r.URL); err != nil {
			return bad("http %v", err)
		}
	case ReadyExec:
		if len(r.Command) == 0 || r.Command[0] == "" {
			return bad("exec: empty command")
		}
		for i, a := range r.Command {
			if strings.IndexByte(a, 0) >= 0 {
				return bad("exec: argument %d contains a NUL byte", i)
			}
		}
	case ReadyLog:
		if _, err := regexp.Compile(r.Pattern); err != nil {
			return bad("log pattern %q: %v", r.Pattern, err)
		}
	default:
		return bad("unknown check %d", r.Kind)
	}
	return nil
}

// normalise fills the defaults into a valid Readiness and copies its slice.
func (r Readiness) normalise(d ReadinessDefaults) Readiness {
	if r.Kind == ReadyAtStart {
		return Readiness{StartupTimeout: new(time.Duration)}
	}
	r.Command = append([]string(nil), r.Command...)
	if r.Kind == ReadyTCP {
		r.Addr, _ = probe.CheckAddr(r.Addr)
	}
	if r.Interval == 0 {
		r.Interval = d.Interval
	}
	if r.AttemptTimeout == 0 {
		r.AttemptTimeout = d.AttemptTimeout
	}
	if r.StartupTimeout == nil {
		r.StartupTimeout = new(max(d.StartupTimeout, 0))
	}
	return r
}

// readyState is a record's readiness: set up by Start, read under r.mu.
type readyState struct {
	cancel context.CancelFunc // ends probing; nil when ready at start
	ch     chan struct{}      // closed when ready
	at     time.Time
	tries  int
	err    string
	// For exec probes: the resolved program, environment and user.
	exe  string
	env  []string
	cred *proc.Credential
}

// resolveProbe finds an exec probe's program on the process's PATH and puts
// it through the same start check as the process itself: a probe is a
// command procd runs, and a caller may not run through it what it may not
// start.
func (m *Manager) resolveProbe(spec *Spec, path string, res *resolved) error {
	if spec.Ready.Kind != ReadyExec {
		return nil
	}
	exe, err := proc.LookPath(spec.Ready.Command[0], path, spec.Dir)
	if err != nil {
		return fmt.Errorf("ready exec: %w", err)
	}
	if m.cfg.StartCheck != nil && spec.Caller != nil {
		as := *spec
		as.Command = spec.Ready.Command
		if exe, err = m.admit(&as, exe, res.cred); err != nil {
			return fmt.Errorf("ready exec: %w", err)
		}
	}
	res.probeExe = exe
	return nil
}

// initReady sets a new record's readiness up before it is registered.
func (m *Manager) initReady(r *record, res *resolved) {
	r.rd.ch = make(chan struct{})
	if r.spec.Ready.Kind == ReadyAtStart {
		r.rd.at = r.startedAt
		close(r.rd.ch)
		return
	}
	r.state = Starting
	r.rd.exe, r.rd.env, r.rd.cred = res.probeExe, res.env, res.cred
}

// lineMatcher returns the matcher a stream's sink feeds while the process is
// starting with a log check, else nil.
func (r *record) lineMatcher() *probe.LineMatcher {
	if r.spec.Ready.Kind != ReadyLog {
		return nil
	}
	return probe.NewLineMatcher(regexp.MustCompile(r.spec.Ready.Pattern))
}

// beginReadiness starts waiting for a registered record to become ready:
// one goroutine, which ends when the process is ready, has exited, is being
// stopped, or ran out of start-up time.
func (m *Manager) beginReadiness(r *record) {
	if r.spec.Ready.Kind == ReadyAtStart {
		return
	}
	var ctx context.Context
	var cancel context.CancelFunc
	if t := *r.spec.Ready.StartupTimeout; t > 0 {
		ctx, cancel = context.WithTimeout(context.Background(), t)
	} else {
		ctx, cancel = context.WithCancel(context.Background())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != Starting {
		cancel() // ready already (an early log line or READY=1), or being stopped
		return
	}
	r.rd.cancel = cancel
	m.probes.Add(1)
	go m.awaitReady(ctx, r)
}

// stopProbing ends the readiness wait (a stop or the exit); r.mu is held.
func (r *record) stopProbing() {
	if r.rd.cancel != nil {
		r.rd.cancel()
	}
}

func (m *Manager) awaitReady(ctx context.Context, r *record) {
	defer m.probes.Done()
	rd := r.spec.Ready
	var attempt probe.Attempt
	switch rd.Kind {
	case ReadyTCP:
		attempt = probe.TCP(rd.Addr)
	case ReadyHTTP:
		attempt = m.http.Attempt(rd.URL)
	case ReadyExec:
		attempt = m.execAttempt(r)
	}
	if attempt != nil {
		res := probe.Loop(ctx, rd.Interval, rd.AttemptTimeout, attempt, func(res probe.Result) {
			r.mu.Lock()
			r.rd.tries, r.rd.err = res.Attempts, res.Err.Error()
			r.mu.Unlock()
		})
		if res.Err == nil {
			m.markReady(r, res.Attempts, probeDetail(rd))
			return
		}
	} else {
		<-ctx.Done()
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		m.startupTimedOut(r)
	}
}

func probeDetail(rd Readiness) string {
	switch rd.Kind {
	case ReadyTCP:
		return "tcp " + rd.Addr + " accepted a connection"
	case ReadyHTTP:
		return "GET " + rd.URL + " answered 2xx"
	case ReadyExec:
		return "exec probe " + strings.Join(rd.Command, " ") + " exited 0"
	}
	return rd.Kind.String()
}

// markReady makes a Starting process Running, starts its hang watchdog's
// idle clock and publishes READY. It does nothing for a process no longer
// starting (stopping, exited, or ready already).
func (m *Manager) markReady(r *record, attempts int, detail string) {
	r.mu.Lock()
	if r.state != Starting {
		r.mu.Unlock()
		return
	}
	r.state = Running
	r.rd.at = time.Now()
	if attempts > 0 {
		r.rd.tries, r.rd.err = attempts, ""
	}
	r.stopProbing()
	close(r.rd.ch)
	// Under r.mu, so that finish (which sets Exited under it before
	// unwatching) cannot unwatch before this watch.
	r.act.Restart(m.clock.Now())
	m.watchLocked(r)
	took := r.rd.at.Sub(r.startedAt)
	r.mu.Unlock()
	m.persist(r)
	m.publish(r, events.Ready, func(e *events.Event) {
		e.Detail = fmt.Sprintf("ready after %v: %s", took.Round(time.Millisecond), detail)
	})
	if ce := m.log.Check(zap.DebugLevel, "process ready"); ce != nil {
		ce.Write(zap.String("process-id", r.id), zap.Duration("took", took), zap.String("check", r.spec.Ready.Kind.String()))
	}
}

// startupTimedOut stops a process that is still starting when its start-up
// time is up.
func (m *Manager) startupTimedOut(r *record) {
	r.mu.Lock()
	starting := r.state == Starting
	lastErr := r.rd.err
	r.mu.Unlock()
	if !starting {
		return
	}
	t := *r.spec.Ready.StartupTimeout
	m.log.Info("stopping process not ready within its startup timeout", zap.String("process-id", r.id),
		zap.Duration("startup-timeout", t), zap.String("last-probe-error", lastErr))
	m.escalate(r, ReasonStartupTimeout, r.spec.StopSignal, r.spec.Grace,
		fmt.Sprintf("not ready within the startup timeout %v", t))
}

// execAttempt runs the exec probe once per attempt: as the leader of its
// own group, output to /dev/null; when the attempt's context ends first, the
// group is killed. The probe's leftovers are killed with its group before
// the leader is reaped.
func (m *Manager) execAttempt(r *record) probe.Attempt {
	return func(ctx context.Context) error {
		attr := &proc.Attr{Path: r.rd.exe, Args: r.spec.Ready.Command, Env: r.rd.env, Dir: r.spec.Dir, Credential: r.rd.cred}
		p, err := m.rt.Start(attr, nil, nil)
		if err != nil {
			return startError(r.rd.exe, r.spec.Dir, err)
		}
		exited := make(chan struct{})
		if err := m.rt.Watch(p, func() { close(exited) }); err != nil {
			p.SignalGroup(syscall.SIGKILL)
			close(exited)
		}
		timedOut := false
		select {
		case <-exited:
		case <-ctx.Done():
			timedOut = true
			p.SignalGroup(syscall.SIGKILL)
			<-exited
		}
		p.SignalGroup(syscall.SIGKILL) // whatever the probe left in its group
		st, err := p.Reap()
		p.Release()
		switch {
		case err != nil:
			return err
		case timedOut:
			return fmt.Errorf("exec probe did not finish within %v", r.spec.Ready.AttemptTimeout)
		case st.Signal != 0:
			return fmt.Errorf("exec probe killed by %s", signalName(st.Signal))
		case st.Code != 0:
			return fmt.Errorf("exec probe exited with code %d", st.Code)
		}
		return nil
	}
}

// watchLocked registers r with the watchdog: the deadline from the start,
// and hang detection only once the process is ready. r.mu is held.
func (m *Manager) watchLocked(r *record) {
	if r.state == Starting {
		if r.wdConfig.Deadline > 0 {
			s := r.wdConfig
			s.Timeout = 0
			m.wd.Watch(r.id, s, r.act, r.startMono)
		}
		return
	}
	m.watchHang(r)
}

// WaitReady returns once the process is ready (its record then says since
// when) or has ended, whichever comes first. With timeout > 0 it returns
// the live record and timedOut = true after that long.
func (m *Manager) WaitReady(ctx context.Context, ref Ref, timeout time.Duration) (info Info, timedOut bool, err error) {
	r, expire, stop, err := m.waitFor(ref, timeout)
	if err != nil {
		return Info{}, false, err
	}
	defer stop()
	for {
		run, next := m.currentRun(r)
		select {
		case <-run.rd.ch:
			return m.info(run), false, nil
		case <-run.done:
			return m.info(m.latest(run)), false, nil
		case <-next:
			// The run ended and its restart policy started another: wait
			// for that one to be ready.
		case <-expire:
			return m.info(run), true, nil
		case <-ctx.Done():
			return Info{}, false, ctx.Err()
		}
	}
}

// currentRun is the newest run of r's lineage and a channel closed when a
// newer one starts (nil, never closed, for a record without a lineage).
func (m *Manager) currentRun(r *record) (*record, <-chan struct{}) {
	if r.lin == nil {
		return r, nil
	}
	r.lin.mu.Lock()
	defer r.lin.mu.Unlock()
	if r.lin.current == nil {
		return r, nil
	}
	return r.lin.current, r.lin.newRun
}

// readyInfo snapshots r's readiness; r.mu is held.
func (r *record) readyInfo() ReadyInfo {
	ri := ReadyInfo{Readiness: r.spec.Ready, ReadyAt: r.rd.at, Attempts: r.rd.tries, LastError: r.rd.err}
	if !ri.ReadyAt.IsZero() {
		ri.Took = ri.ReadyAt.Sub(r.startedAt)
	}
	return ri
}

// readyOnNotify takes READY=1 for a process whose check is notify.
func (m *Manager) readyOnNotify(r *record) {
	if r.spec.Ready.Kind == ReadyNotify {
		m.markReady(r, 0, "READY=1")
	}
}

// feedReady gives a log check the output of a starting process; it runs on
// the poll loop.
func (s *streamSink) feedReady(p []byte) {
	if s.lines == nil || isClosed(s.r.rd.ch) {
		return
	}
	if s.lines.Feed(p) {
		s.lines = nil
		s.m.markReady(s.r, 0, fmt.Sprintf("%s line matched %q", s.stream, s.r.spec.Ready.Pattern))
	}
}
