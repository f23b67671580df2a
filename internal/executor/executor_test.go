//go:build linux

package executor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/proc"
)

var rt *proc.Runtime

func TestMain(m *testing.M) {
	var err error
	if rt, err = proc.NewRuntime(nil); err != nil {
		panic(err)
	}
	code := m.Run()
	rt.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

type env struct {
	m   *manager.Manager
	bus *events.Bus
	x   *Executor
}

func setup(t *testing.T, maxRunning int) *env {
	t.Helper()
	bus := events.NewBus(1<<14, nil)
	m := manager.New(manager.Config{}, rt, bus, zaptest.NewLogger(t))
	x := New(m, bus, maxRunning)
	t.Cleanup(func() {
		x.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Shutdown(ctx)
		bus.Close()
	})
	return &env{m: m, bus: bus, x: x}
}

func shJobs(lines ...string) []manager.Spec {
	var out []manager.Spec
	for _, l := range lines {
		out = append(out, manager.Spec{Command: []string{"/bin/sh", "-c", l}})
	}
	return out
}

// recorder collects progress and tracks how many attempts run at once.
type recorder struct {
	mu       sync.Mutex
	attempts []Attempt
	running  int
	peak     int
	starts   int
}

func (r *recorder) progress(a Attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, a)
	if a.Started {
		r.running++
		r.starts++
		r.peak = max(r.peak, r.running)
	} else if a.Err == nil {
		r.running--
	}
}

func (e *env) run(t *testing.T, ctx context.Context, jobs []manager.Spec, o Options) (Summary, *recorder) {
	t.Helper()
	rec := &recorder{}
	sum, err := e.x.Run(ctx, jobs, o, func(string) {}, rec.progress)
	if err != nil {
		t.Fatal(err)
	}
	return sum, rec
}

// Issue 4, must-show 1: results by index, a timeout ends the hung job.
func TestOutcomesByIndex(t *testing.T) {
	e := setup(t, 64)
	t0 := time.Now()
	sum, _ := e.run(t, context.Background(), shJobs("true", "false", "sleep 30"), Options{MaxConcurrency: 2, Timeout: time.Second})
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("batch took %v", d)
	}
	want := []Outcome{Succeeded, ExitCode, Timeout}
	for i, r := range sum.Jobs {
		if r.Index != i || r.Outcome != want[i] || r.Attempts != 1 {
			t.Fatalf("job %d: %+v, want %v", i, r, want[i])
		}
	}
	if sum.Jobs[1].Info.Exit.Code != 1 || sum.Jobs[2].Info.Exit.Reason != manager.ReasonDeadline {
		t.Fatalf("exits %+v %+v", sum.Jobs[1].Info.Exit, sum.Jobs[2].Info.Exit)
	}
	if res, errs := sum.Results(), sum.Errors(); len(res) != 1 || res[0] != 0 || len(errs) != 2 || errs[0] != 1 || errs[1] != 2 {
		t.Fatalf("results %v errors %v", res, errs)
	}
	if sum.Succeeded != 1 || sum.Failed != 2 || sum.Cancelled != 0 {
		t.Fatalf("counts %+v", sum)
	}
}

// Issue 4, must-show 2: never more than max_concurrency at once.
func TestConcurrencyLimit(t *testing.T) {
	e := setup(t, 64)
	var jobs []manager.Spec
	for range 8 {
		jobs = append(jobs, shJobs("sleep 0.5")...)
	}
	t0 := time.Now()
	sum, rec := e.run(t, context.Background(), jobs, Options{MaxConcurrency: 4})
	d := time.Since(t0)
	if sum.Succeeded != 8 || rec.peak != 4 || d < time.Second || d > 4*time.Second {
		t.Fatalf("succeeded %d, peak %d, took %v", sum.Succeeded, rec.peak, d)
	}
	// The processes are ordinary, labelled ones.
	l := e.m.List(manager.ListFilter{Labels: map[string]string{LabelBatch: sum.BatchID}})
	seen := map[string]bool{}
	for _, p := range l {
		seen[p.Labels[LabelJob]] = true
	}
	if len(l) != 8 || len(seen) != 8 || !seen["0"] || !seen["7"] {
		t.Fatalf("batch processes: %d, job labels %v", len(l), seen)
	}
}

// The daemon-wide cap holds across batches.
func TestDaemonWideCap(t *testing.T) {
	e := setup(t, 2)
	var wg sync.WaitGroup
	var mu sync.Mutex
	running, peak := 0, 0
	for range 2 {
		wg.Go(func() {
			var jobs []manager.Spec
			for range 4 {
				jobs = append(jobs, shJobs("sleep 0.2")...)
			}
			sum, err := e.x.Run(context.Background(), jobs, Options{MaxConcurrency: 4}, func(string) {}, func(a Attempt) {
				mu.Lock()
				defer mu.Unlock()
				if a.Started {
					running++
					peak = max(peak, running)
				} else {
					running--
				}
			})
			if err != nil || sum.Succeeded != 4 {
				t.Errorf("batch: %v, %d of 4 succeeded", err, sum.Succeeded)
			}
		})
	}
	wg.Wait()
	if peak != 2 {
		t.Fatalf("%d batch jobs ran at once with a daemon-wide cap of 2 and 8 wanting to", peak)
	}
}

// Issue 4, must-show 3: fails twice, succeeds on attempt 3, with backoff.
func TestRetriesWithBackoff(t *testing.T) {
	e := setup(t, 64)
	counter := filepath.Join(t.TempDir(), "n")
	job := `n=$(cat ` + counter + ` 2>/dev/null || echo 0); n=$((n+1)); echo $n > ` + counter + `; [ $n -ge 3 ]`
	sum, rec := e.run(t, context.Background(), shJobs(job), Options{Retry: Retry{MaxAttempts: 4, Initial: 100 * time.Millisecond, Jitter: 0.1}})
	r := sum.Jobs[0]
	if r.Outcome != Succeeded || r.Attempts != 3 || sum.Retries != 2 {
		t.Fatalf("result %+v, retries %d", r, sum.Retries)
	}
	var finished []Attempt
	for _, a := range rec.attempts {
		if !a.Started {
			finished = append(finished, a)
		}
	}
	if len(finished) != 3 || !finished[0].Retry || !finished[1].Retry || finished[2].Retry {
		t.Fatalf("attempts %+v", finished)
	}
	// 100 ms then 200 ms, ±10 %.
	for i, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
		if d := finished[i].Delay; d < want*9/10 || d > want*11/10 {
			t.Fatalf("delay %d = %v, want %v ±10%%", i, d, want)
		}
	}
}

func TestNeverRetryCodesAndRetryOn(t *testing.T) {
	e := setup(t, 64)
	sum, _ := e.run(t, context.Background(), shJobs("exit 3", "exit 4", "kill -9 $$"), Options{Retry: Retry{
		MaxAttempts: 3, Initial: time.Millisecond, NeverCodes: []int{3}, On: []Outcome{ExitCode},
	}})
	if a := []int{sum.Jobs[0].Attempts, sum.Jobs[1].Attempts, sum.Jobs[2].Attempts}; a[0] != 1 || a[1] != 3 || a[2] != 1 {
		t.Fatalf("attempts %v (exit 3 never retried, exit 4 retried, a signal not retried)", a)
	}
	if sum.Jobs[2].Outcome != Signal {
		t.Fatalf("job 2 %+v", sum.Jobs[2])
	}
}

func TestStartFailureIsAnOutcome(t *testing.T) {
	e := setup(t, 64)
	jobs := []manager.Spec{{Command: []string{"no-such-binary"}}, {Command: []string{"true"}}}
	sum, _ := e.run(t, context.Background(), jobs, Options{Retry: Retry{MaxAttempts: 2, Initial: time.Millisecond}})
	r := sum.Jobs[0]
	if r.Outcome != StartFailed || r.Attempts != 2 || !strings.Contains(r.Err, "not found in PATH") || sum.Jobs[1].Outcome != Succeeded {
		t.Fatalf("jobs %+v", sum.Jobs)
	}
}

// Issue 4, must-show 4 (in-process): cancelling stops running jobs and
// starts no queued one.
func TestCancelStopsRunningAndStartsNothingMore(t *testing.T) {
	e := setup(t, 64)
	ctx, cancel := context.WithCancel(context.Background())
	var jobs []manager.Spec
	for range 10 {
		jobs = append(jobs, shJobs(`trap "" TERM; sleep 30`)...)
	}
	rec := &recorder{}
	done := make(chan Summary)
	go func() {
		sum, _ := e.x.Run(ctx, jobs, Options{MaxConcurrency: 3}, func(string) {}, func(a Attempt) {
			rec.progress(a)
			rec.mu.Lock()
			if rec.starts == 3 {
				cancel()
			}
			rec.mu.Unlock()
		})
		done <- sum
	}()
	var sum Summary
	select {
	case sum = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("cancelled batch did not end")
	}
	if rec.starts != 3 || sum.Cancelled != 10 || sum.Stopped != "cancelled" {
		t.Fatalf("starts %d, summary %+v", rec.starts, sum)
	}
	for _, p := range e.m.List(manager.ListFilter{}) {
		if p.State != manager.Exited {
			t.Fatalf("job process %s still %v after the batch ended", p.ID, p.State)
		}
	}
	if st := e.x.Stats(); st.JobsQueued != 0 || st.JobsRunning != 0 || st.BatchesRunning != 0 {
		t.Fatalf("stats after cancel %+v", st)
	}
}

func TestFailFast(t *testing.T) {
	e := setup(t, 64)
	jobs := shJobs("sleep 30", "false", "sleep 30", "true", "true")
	sum, _ := e.run(t, context.Background(), jobs, Options{MaxConcurrency: 3, FailFast: true})
	if sum.Stopped != "fail_fast" || sum.Jobs[1].Outcome != ExitCode || sum.Jobs[0].Outcome != Cancelled || sum.Jobs[3].Outcome != Cancelled {
		t.Fatalf("summary %+v", sum)
	}
	if sum.Jobs[3].Attempts != 0 || !strings.Contains(sum.Jobs[3].Err, "fail_fast") {
		t.Fatalf("job 3 %+v", sum.Jobs[3])
	}
}

func TestBatchDeadlineOverridesRetries(t *testing.T) {
	e := setup(t, 64)
	t0 := time.Now()
	sum, _ := e.run(t, context.Background(), shJobs("false", "sleep 30"), Options{
		Deadline: 500 * time.Millisecond, Retry: Retry{MaxAttempts: 100, Initial: 200 * time.Millisecond, Jitter: 0},
	})
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
	if sum.Stopped != "deadline" || sum.Jobs[1].Outcome != Timeout || sum.Jobs[0].Attempts > 3 {
		t.Fatalf("summary %+v", sum)
	}
}

func TestValidation(t *testing.T) {
	e := setup(t, 64)
	for _, tc := range []struct {
		jobs []manager.Spec
		o    Options
		msg  string
	}{
		{nil, Options{}, "no jobs"},
		{[]manager.Spec{{Command: []string{"true"}}, {}}, Options{}, "job 1: empty command"},
		{shJobs("true"), Options{MaxConcurrency: -1}, "max_concurrency"},
		{shJobs("true"), Options{Retry: Retry{Jitter: 2}}, "jitter"},
		{shJobs("true"), Options{Retry: Retry{On: []Outcome{Succeeded}}}, "not a retryable outcome"},
		{shJobs("true"), Options{Retry: Retry{MaxAttempts: 101}}, "retry.max_attempts 101 is above the cap of 100"},
	} {
		_, err := e.x.Run(context.Background(), tc.jobs, tc.o, func(string) {}, func(Attempt) {})
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.msg)
		}
	}
}

// Issue 15: progress is emitted without the batch lock, so a callback
// that takes its time (here: job 0's start waits for job 1's end) holds up
// no other job. Under the lock, job 1 could never report its end.
func TestProgressIsNotEmittedUnderTheBatchLock(t *testing.T) {
	e := setup(t, 64)
	oneFinished := make(chan struct{})
	var once sync.Once
	progress := func(a Attempt) {
		switch {
		case a.Index == 0 && a.Started:
			select {
			case <-oneFinished:
			case <-time.After(20 * time.Second):
				t.Error("job 1 could not report its end while job 0's progress call was running")
			}
		case a.Index == 1 && !a.Started:
			once.Do(func() { close(oneFinished) })
		}
	}
	sum, err := e.x.Run(context.Background(), shJobs("true", "true"), Options{MaxConcurrency: 2}, func(string) {}, progress)
	if err != nil || sum.Succeeded != 2 {
		t.Fatalf("batch: %+v, %v", sum, err)
	}
}

func TestDelay(t *testing.T) {
	r := Retry{Initial: 100 * time.Millisecond, Multiplier: 3, Max: time.Second}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 300 * time.Millisecond, 3: 900 * time.Millisecond, 4: time.Second, 40: time.Second} {
		if got := r.Delay(n, nil); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
}

// BenchmarkBatchTrue runs 2,000 `true` jobs at concurrency 8 in-process.
func BenchmarkBatchTrue(b *testing.B) {
	bus := events.NewBus(1<<14, nil)
	m := manager.New(manager.Config{RetainFinished: 100}, rt, bus, nil)
	x := New(m, bus, 64)
	defer func() {
		x.Close()
		m.Shutdown(context.Background())
		bus.Close()
	}()
	jobs := make([]manager.Spec, 2000)
	for i := range jobs {
		jobs[i] = manager.Spec{Command: []string{"/bin/sh", "-c", "true"}}
	}
	for b.Loop() {
		t0 := time.Now()
		sum, err := x.Run(context.Background(), jobs, Options{MaxConcurrency: 8}, func(string) {}, func(Attempt) {})
		if err != nil || sum.Succeeded != len(jobs) {
			b.Fatalf("%v %+v", err, sum.Failed)
		}
		b.ReportMetric(float64(len(jobs))/time.Since(t0).Seconds(), "jobs/s")
	}
}
