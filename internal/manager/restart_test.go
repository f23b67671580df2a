//go:build linux

package manager

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/testutil"
)

func ptr[T any](v T) *T { return &v }

func TestBackoffIsCappedExponentialWithJitter(t *testing.T) {
	p := RestartPolicy{Mode: RestartOnFailure, Delay: 100 * time.Millisecond, Multiplier: 2,
		MaxDelay: time.Second, Jitter: ptr(0.0)}
	var got []time.Duration
	for step := range 7 {
		got = append(got, p.backoff(step, 0.9))
	}
	ms := time.Millisecond
	if want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second, time.Second}; !slices.Equal(got, want) {
		t.Fatalf("delays %v, want %v", got, want)
	}
	p.Jitter = ptr(0.5)
	for _, c := range []struct {
		step int
		u    float64
		want time.Duration
	}{
		{0, 0, 50 * ms}, {0, 0.5, 100 * ms}, {0, 0.75, 125 * ms},
		{1, 0, 100 * ms}, {4, 0, 500 * ms},
		{4, 0.99, time.Second}, // never past the cap
	} {
		if got := p.backoff(c.step, c.u); got != c.want {
			t.Errorf("backoff(step %d, u %v) = %v, want %v", c.step, c.u, got, c.want)
		}
	}
}

func TestRestartClassifiesEachEnd(t *testing.T) {
	onFailure := RestartPolicy{Mode: RestartOnFailure}.resolve(DefaultRestart())
	onlySignal := RestartPolicy{Mode: RestartOnFailure, On: FailSignal}.resolve(DefaultRestart())
	always := RestartPolicy{Mode: RestartAlways}.resolve(DefaultRestart())
	never := RestartPolicy{}.resolve(DefaultRestart())
	for _, c := range []struct {
		name                          string
		exit                          Exit
		onFailure, onlySignal, always bool
	}{
		{"exit 0", Exit{Reason: ReasonExited}, false, false, true},
		{"exit 3", Exit{Reason: ReasonExited, Code: 3}, true, false, true},
		{"crash", Exit{Reason: ReasonExited, Code: -1, Signal: 11}, true, true, true},
		{"hung", Exit{Reason: ReasonHung, Code: -1, Signal: 15}, true, false, true},
		{"deadline", Exit{Reason: ReasonDeadline, Code: -1, Signal: 15}, true, false, true},
		{"startup timeout", Exit{Reason: ReasonStartupTimeout, Code: -1, Signal: 15}, true, false, true},
		{"stopped", Exit{Reason: ReasonStopped, Code: -1, Signal: 15}, false, false, false},
		{"shutdown", Exit{Reason: ReasonShutdown, Code: -1, Signal: 15}, false, false, false},
		{"client gone", Exit{Reason: ReasonClientGone, Code: -1, Signal: 15}, false, false, false},
	} {
		for _, pc := range []struct {
			p    RestartPolicy
			want bool
		}{{onFailure, c.onFailure}, {onlySignal, c.onlySignal}, {always, c.always}, {never, false}} {
			if got, _ := pc.p.restarts(&c.exit); got != pc.want {
				t.Errorf("%s under %s/%s: restart %v, want %v", c.name, pc.p.Mode, pc.p.On, got, pc.want)
			}
		}
	}
}

func TestRestartPolicyValidation(t *testing.T) {
	for _, c := range []struct {
		p    RestartPolicy
		want string
	}{
		{RestartPolicy{Delay: time.Second}, "the mode is never"},
		{RestartPolicy{Mode: RestartAlways, On: FailHung}, "only apply to mode on-failure"},
		{RestartPolicy{Mode: RestartOnFailure, Multiplier: 0.5}, "below 1"},
		{RestartPolicy{Mode: RestartOnFailure, Delay: 2 * time.Second, MaxDelay: time.Second}, "above the max delay"},
		{RestartPolicy{Mode: RestartOnFailure, Jitter: ptr(1.5)}, "not between 0 and 1"},
		{RestartPolicy{Mode: RestartOnFailure, Limit: ptr(-1)}, "negative"},
		{RestartPolicy{Mode: 7}, "unknown mode"},
	} {
		s := sh("true")
		s.Restart = c.p
		err := s.Validate()
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want INVALID_ARGUMENT saying %q", c.p, err, c.want)
		}
	}
	s := sh("true")
	s.Restart.Mode, s.BindToSession = RestartAlways, true
	if err := s.Validate(); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("restart with bind_to_session: %v", err)
	}
	if f, err := ParseFailures("nonzero, hung"); err != nil || f != FailNonZero|FailHung {
		t.Errorf("ParseFailures: %v %v", f, err)
	}
	if _, err := ParseFailures("segv"); err == nil || !strings.Contains(err.Error(), `"segv"`) {
		t.Errorf("ParseFailures(segv): %v", err)
	}
}

// restarting returns spec s under policy on-failure with a backoff of
// delay ×2 capped at maxDelay, no jitter and at most limit restarts a
// minute.
func restarting(s Spec, delay, maxDelay time.Duration, limit int) Spec {
	s.Restart = RestartPolicy{Mode: RestartOnFailure, Delay: delay, Multiplier: 2, MaxDelay: maxDelay,
		Jitter: ptr(0.0), Limit: ptr(limit), Window: time.Minute}
	return s
}

// nextEvent returns the next event of sub of one of the types.
func nextEvent(t *testing.T, sub *events.Subscription, types ...events.Type) events.Event {
	t.Helper()
	for {
		evs, err := sub.Next(testutil.Context(t), make([]events.Event, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(types, evs[0].Type) {
			return evs[0]
		}
	}
}

// Issue 17, must show 1 (in the manager): a process failing again and
// again is restarted after delays that follow its policy, each run is
// listed with its exit, and once the limit is reached it is FAILED with
// reason CRASH_LOOP; EXITED is published once.
func TestCrashLoopFollowsBackoffAndEndsFailed(t *testing.T) {
	m, bus := newManager(t, Config{})
	sub, _ := bus.Subscribe(events.Filter{}, nil)
	defer sub.Close()
	ms := time.Millisecond
	info := mustStart(t, m, restarting(sh("sleep 0.1; exit 3"), 50*ms, 200*ms, 4))
	if info.Attempt != 1 || info.Restart == nil || len(info.Runs) != 1 {
		t.Fatalf("start info: attempt %d, restart %+v, runs %+v", info.Attempt, info.Restart, info.Runs)
	}
	fin := wait(t, m, info.ID)
	if fin.State != Failed || fin.Exit == nil || fin.Exit.Reason != ReasonCrashLoop || fin.Exit.Code != 3 {
		t.Fatalf("final state %v exit %+v", fin.State, fin.Exit)
	}
	if fin.ID != info.ID || fin.Attempt != 5 || len(fin.Runs) != 5 || fin.Restart.Attempt != 5 {
		t.Fatalf("final id %s attempt %d runs %d", fin.ID, fin.Attempt, len(fin.Runs))
	}
	wantDelays := []time.Duration{50 * ms, 100 * ms, 200 * ms, 200 * ms}
	pids := map[int]bool{}
	for i, run := range fin.Runs {
		if run.Attempt != i+1 || run.Exit == nil || run.Exit.Code != 3 || run.Exit.Reason != ReasonExited || pids[run.PID] {
			t.Fatalf("run %d: %+v exit %+v", i, run, run.Exit)
		}
		pids[run.PID] = true
		if i == 0 {
			continue
		}
		// The gap is the delay plus a fork; generous above (a loaded machine).
		if gap := run.StartedAt.Sub(fin.Runs[i-1].FinishedAt); gap < wantDelays[i-1] || gap > wantDelays[i-1]+2*time.Second {
			t.Errorf("gap before run %d: %v, want %v", i+1, gap, wantDelays[i-1])
		}
	}
	var delays []time.Duration
	for {
		e := nextEvent(t, sub, events.Restarting, events.Exited, events.Started)
		if e.Type == events.Started && e.Attempt != len(delays)+1 {
			t.Fatalf("started event attempt %d after %d restarts", e.Attempt, len(delays))
		}
		if e.Type == events.Restarting {
			if e.ProcessID != info.ID || e.Attempt != len(delays)+2 || e.Data.(Info).State != Backoff {
				t.Fatalf("restarting event %+v", e)
			}
			delays = append(delays, e.Delay)
		}
		if e.Type == events.Exited {
			if !strings.Contains(e.Detail, "crash loop") || e.Data.(Info).State != Failed {
				t.Fatalf("exited event %+v", e)
			}
			break
		}
	}
	if !slices.Equal(delays, wantDelays) {
		t.Fatalf("restarting delays %v, want %v", delays, wantDelays)
	}
	st := m.Stats()
	if st.RestartsByReason[ReasonExited] != 4 || st.CrashLoopsTotal != 1 || st.Failed != 1 || st.StartedTotal != 5 {
		t.Fatalf("stats: restarts %v, crash loops %d, failed %d, started %d",
			st.RestartsByReason, st.CrashLoopsTotal, st.Failed, st.StartedTotal)
	}
	if _, err := m.Remove(Ref{ID: info.ID}); err != nil {
		t.Fatalf("remove a FAILED record: %v", err)
	}
}

// A stop during the backoff cancels the pending restart: the process is
// final at once, stopped, and no run starts afterwards.
func TestStopDuringBackoffCancelsTheRestart(t *testing.T) {
	m, bus := newManager(t, Config{})
	sub, _ := bus.Subscribe(events.Filter{Types: []events.Type{events.Restarting, events.Started}}, nil)
	defer sub.Close()
	info := mustStart(t, m, restarting(sh("exit 1"), 300*time.Millisecond, time.Second, 5))
	nextEvent(t, sub, events.Started)
	if e := nextEvent(t, sub, events.Restarting); e.Delay != 300*time.Millisecond {
		t.Fatalf("restarting %+v", e)
	}
	if got, _ := m.Get(Ref{ID: info.ID}); got.State != Backoff || got.Restart.NextAt.IsZero() {
		t.Fatalf("during backoff: state %v, next at %v", got.State, got.Restart.NextAt)
	}
	res, err := m.Stop(testutil.Context(t), Ref{ID: info.ID}, nil, StopOptions{})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	fin := res[0].Info
	if fin.State != Exited || fin.Exit.Reason != ReasonStopped || len(fin.Runs) != 1 || fin.Runs[0].Exit.Code != 1 ||
		!fin.Restart.NextAt.IsZero() {
		t.Fatalf("after stop: %v %+v runs %+v restart %+v", fin.State, fin.Exit, fin.Runs, fin.Restart)
	}
	// Well past the cancelled delay, nothing started.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if evs, err := sub.Next(ctx, nil); err == nil {
		t.Fatalf("after the stop: %+v", evs)
	}
	if st := m.Stats(); st.StartedTotal != 1 {
		t.Fatalf("started %d runs", st.StartedTotal)
	}
}

// A stop of a running process under policy always ends it for good.
func TestStopOfARunningProcessIsNotRestarted(t *testing.T) {
	m, _ := newManager(t, Config{})
	s := sh("sleep 30")
	s.Restart = RestartPolicy{Mode: RestartAlways, Delay: 10 * time.Millisecond}
	info := mustStart(t, m, s)
	res, err := m.Stop(testutil.Context(t), Ref{ID: info.ID}, nil, StopOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fin := res[0].Info; fin.State != Exited || fin.Exit.Reason != ReasonStopped || fin.Attempt != 1 {
		t.Fatalf("after stop: %v %+v attempt %d", fin.State, fin.Exit, fin.Attempt)
	}
	if fin := wait(t, m, info.ID); fin.Attempt != 1 || len(fin.Runs) != 1 {
		t.Fatalf("waited: attempt %d runs %d", fin.Attempt, len(fin.Runs))
	}
}

func TestOnFailureLeavesASuccessAloneAndAlwaysDoesNot(t *testing.T) {
	m, _ := newManager(t, Config{})
	fin := wait(t, m, mustStart(t, m, restarting(sh("exit 0"), time.Millisecond, time.Millisecond, 5)).ID)
	if fin.State != Exited || fin.Exit.Reason != ReasonExited || len(fin.Runs) != 1 {
		t.Fatalf("on-failure, exit 0: %v %+v runs %d", fin.State, fin.Exit, len(fin.Runs))
	}
	s := sh("exit 0")
	s.Restart = RestartPolicy{Mode: RestartAlways, Delay: time.Millisecond, Limit: ptr(2)}
	fin = wait(t, m, mustStart(t, m, s).ID)
	if fin.State != Failed || fin.Exit.Reason != ReasonCrashLoop || len(fin.Runs) != 3 {
		t.Fatalf("always, exit 0: %v %+v runs %d", fin.State, fin.Exit, len(fin.Runs))
	}
	s = restarting(sh("exit 2"), time.Millisecond, time.Millisecond, 5)
	s.Restart.On = FailSignal | FailHung
	fin = wait(t, m, mustStart(t, m, s).ID)
	if fin.State != Exited || fin.Exit.Code != 2 || len(fin.Runs) != 1 {
		t.Fatalf("on signal and hung only, exit 2: %v %+v runs %d", fin.State, fin.Exit, len(fin.Runs))
	}
}

// The watchdog's kills are failures: a hung process is restarted.
func TestWatchdogKillsAreRestarted(t *testing.T) {
	m, _ := newManager(t, Config{})
	s := restarting(sh("exec sleep 30"), 10*time.Millisecond, 10*time.Millisecond, 1)
	s.Restart.On = FailHung
	s.Grace = 100 * time.Millisecond
	s.Watchdog = WatchdogSpec{Timeout: ptr(200 * time.Millisecond), ExtraBuffer: ptr(time.Duration(0))}
	fin := wait(t, m, mustStart(t, m, s).ID)
	if fin.State != Failed || fin.Exit.Reason != ReasonCrashLoop || len(fin.Runs) != 2 {
		t.Fatalf("final %v %+v runs %d", fin.State, fin.Exit, len(fin.Runs))
	}
	for _, run := range fin.Runs {
		if run.Exit.Reason != ReasonHung {
			t.Fatalf("run %+v exit %+v", run, run.Exit)
		}
	}
	if st := m.Stats(); st.RestartsByReason[ReasonHung] != 1 {
		t.Fatalf("restarts by reason %v", st.RestartsByReason)
	}
}

// A run that lasted ResetAfter resets the delay to the first one. (The
// short runs must stay under ResetAfter on a loaded machine: it is long.)
func TestStableRunResetsTheBackoff(t *testing.T) {
	m, bus := newManager(t, Config{})
	sub, _ := bus.Subscribe(events.Filter{Types: []events.Type{events.Restarting}}, nil)
	defer sub.Close()
	n := filepath.Join(t.TempDir(), "n")
	// The third run lasts 2 s, past ResetAfter; the others end at once.
	s := restarting(sh(`n=$(cat `+n+` 2>/dev/null || echo 0); echo $((n+1)) >`+n+`; [ "$n" = 2 ] && sleep 2; exit 1`),
		50*time.Millisecond, time.Second, 3)
	s.Restart.ResetAfter = ptr(1500 * time.Millisecond)
	fin := wait(t, m, mustStart(t, m, s).ID)
	if fin.State != Failed || len(fin.Runs) != 4 {
		t.Fatalf("final %v runs %d", fin.State, len(fin.Runs))
	}
	var delays []time.Duration
	for range 3 {
		delays = append(delays, nextEvent(t, sub, events.Restarting).Delay)
	}
	ms := time.Millisecond
	if want := []time.Duration{50 * ms, 100 * ms, 50 * ms}; !slices.Equal(delays, want) {
		t.Fatalf("delays %v, want %v", delays, want)
	}
}

// The restart window slides: restarts older than it no longer count.
func TestRestartLimitCountsOnlyTheWindow(t *testing.T) {
	m, _ := newManager(t, Config{})
	s := restarting(sh("sleep 0.15; exit 1"), 10*time.Millisecond, 10*time.Millisecond, 1)
	s.Restart.Window = 100 * time.Millisecond // shorter than a run: never two restarts in it
	s.Restart.Mode = RestartAlways
	info := mustStart(t, m, s)
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ := m.Get(Ref{ID: info.ID})
		if got.State.Final() {
			t.Fatalf("ended %v %+v after %d runs", got.State, got.Exit, got.Attempt)
		}
		if got.Attempt >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d runs", got.Attempt)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestShutdownCancelsPendingRestarts(t *testing.T) {
	m, bus := newManager(t, Config{})
	sub, _ := bus.Subscribe(events.Filter{Types: []events.Type{events.Restarting}}, nil)
	defer sub.Close()
	info := mustStart(t, m, restarting(sh("exit 1"), 10*time.Second, 10*time.Second, 5))
	nextEvent(t, sub, events.Restarting)
	start := time.Now()
	m.Shutdown(testutil.Context(t))
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	if got, _ := m.Get(Ref{ID: info.ID}); got.State != Exited || got.Exit.Reason != ReasonShutdown {
		t.Fatalf("after shutdown %v %+v", got.State, got.Exit)
	}
}

func TestRunHistoryIsBounded(t *testing.T) {
	m, _ := newManager(t, Config{Restart: RestartDefaults{History: 3, Jitter: -1}})
	if d := m.Config().Restart; d.Jitter != 0 || d.Limit != 5 || d.ResetAfter != time.Minute || d.Delay != time.Second {
		t.Fatalf("defaults %+v", d)
	}
	fin := wait(t, m, mustStart(t, m, restarting(sh("exit 1"), time.Millisecond, time.Millisecond, 5)).ID)
	if fin.Attempt != 6 || len(fin.Runs) != 3 || fin.Runs[0].Attempt != 4 || fin.Runs[2].Attempt != 6 {
		t.Fatalf("attempt %d runs %+v", fin.Attempt, fin.Runs)
	}
}

func TestRestartKeepsTheLogDirectoryOfTheCurrentRunOnly(t *testing.T) {
	dir := t.TempDir()
	m, _ := newManager(t, Config{StateDir: dir, LogFiles: true})
	fin := wait(t, m, mustStart(t, m, restarting(sh("echo run; exit 1"), time.Millisecond, time.Millisecond, 2)).ID)
	ents, _ := os.ReadDir(filepath.Join(dir, "logs"))
	if len(ents) != 1 || ents[0].Name() != fin.ID+".run3" || fin.LogDir != filepath.Join(dir, "logs", fin.ID+".run3") {
		t.Fatalf("log dirs %v, record's %s", ents, fin.LogDir)
	}
	if got := stdout(t, m, fin.ID); got != "run\n" {
		t.Fatalf("stdout %q", got)
	}
}

// Resume starts a logical process under its old id and history, and new
// ids come after it.
func TestResumeContinuesALineage(t *testing.T) {
	m, _ := newManager(t, Config{})
	prior := RestartState{Attempt: 3, Step: 2, Runs: []Run{{Attempt: 3, PID: 1, Exit: &Exit{Reason: ReasonExited, Code: 1}}}}
	s := restarting(sh("sleep 30"), time.Second, time.Second, 5)
	info, err := m.Resume("p-77", s, prior)
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != "p-77" || info.Attempt != 4 || len(info.Runs) != 2 || info.Restart.Step != 2 || info.State != Running {
		t.Fatalf("resumed %+v", info)
	}
	if _, err := m.Resume("p-77", s, prior); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("resume twice: %v", err)
	}
	if _, err := m.Resume("77", s, prior); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("resume a bad id: %v", err)
	}
	if next := mustStart(t, m, sh("true")); next.ID != "p-78" {
		t.Fatalf("next id %s", next.ID)
	}
}

// A crash loop's FAILED record is final: read back from the state store it
// stays FAILED with its runs (not LOST), and Stop and Wait on it return at
// once.
func TestFailedRecordSurvivesRecover(t *testing.T) {
	st := newMemStore()
	bus1 := events.NewBus(64, nil)
	m1 := New(Config{Store: st}, rt, bus1, nil)
	fin := wait(t, m1, mustStart(t, m1, restarting(sh("exit 4"), time.Millisecond, time.Millisecond, 1)).ID)
	m1.Shutdown(ctxFor(t))
	bus1.Close()
	vals := st.commit()

	m2, _ := newManager(t, Config{Store: st})
	if _, err := m2.Recover(valuesOf(vals), m1.LastID(), st.ceilings[IDCounter]); err != nil {
		t.Fatal(err)
	}
	got := wait(t, m2, fin.ID)
	if got.State != Failed || got.Exit.Reason != ReasonCrashLoop || len(got.Runs) != 2 || got.Runs[1].Exit.Code != 4 ||
		got.Restart == nil || got.Restart.Attempt != 2 {
		t.Fatalf("read back: %v %+v runs %+v restart %+v", got.State, got.Exit, got.Runs, got.Restart)
	}
	res, err := m2.Stop(ctxFor(t), Ref{ID: fin.ID}, nil, StopOptions{})
	if err != nil || res[0].Info.State != Failed {
		t.Fatalf("stop of a restored record: %v %+v", err, res)
	}
}
