//go:build linux

package integration

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/procd/procd/internal/testutil"
)

// runRecord is one run of a status's runs.
type runRecord struct {
	attempt           float64
	pid               float64
	started, finished time.Time
	code              float64
	reason            string
}

// runsOf returns a status's runs.
func runsOf(t *testing.T, st map[string]any) []runRecord {
	t.Helper()
	var out []runRecord
	runs, _ := st["runs"].([]any)
	for _, r := range runs {
		m := r.(map[string]any)
		rr := runRecord{attempt: m["attempt"].(float64), pid: m["pid"].(float64)}
		rr.started, _ = time.Parse(time.RFC3339Nano, m["startedAt"].(string))
		if f, ok := m["finishedAt"].(string); ok {
			rr.finished, _ = time.Parse(time.RFC3339Nano, f)
			exit := m["exit"].(map[string]any)
			rr.code, _ = exit["exitCode"].(float64)
			rr.reason = exit["reason"].(string)
		}
		out = append(out, rr)
	}
	return out
}

// Issue 17, must show 1: a server crashing every 0.5 s under
// --restart on-failure with a backoff of 100 ms ×2 capped at 1 s. The
// delays between runs follow the policy (within scheduling noise), the run
// history holds every exit, and after the limit the process is
// FAILED/CRASH_LOOP under its one id; procctl wait returns then.
func TestRestartBackoffAndCrashLoop(t *testing.T) {
	d := startDaemon(t)
	id := strings.TrimSpace(d.mustCtl("start", "-q", "--restart", "on-failure", "--restart-delay", "100ms",
		"--restart-multiplier", "2", "--restart-max-delay", "1s", "--restart-jitter", "0", "--restart-max", "5/1m",
		"--", "sh", "-c", "sleep 0.5; exit 3"))
	if r := d.ctl("wait", id); r.code != 3 {
		t.Fatalf("wait: %v", r)
	}
	st := d.statusJSON(id)
	if st["state"] != "PROCESS_STATE_FAILED" || st["exit"].(map[string]any)["reason"] != "EXIT_REASON_CRASH_LOOP" {
		t.Fatalf("final state %v exit %v", st["state"], st["exit"])
	}
	runs := runsOf(t, st)
	if len(runs) != 6 || st["attempt"].(float64) != 6 {
		t.Fatalf("%d runs, attempt %v: %+v", len(runs), st["attempt"], runs)
	}
	want := []time.Duration{100, 200, 400, 800, 1000}
	pids := map[float64]bool{}
	for i, r := range runs {
		if r.attempt != float64(i+1) || r.code != 3 || r.reason != "EXIT_REASON_EXITED" || pids[r.pid] {
			t.Fatalf("run %d: %+v", i+1, r)
		}
		pids[r.pid] = true
		if ran := r.finished.Sub(r.started); ran < 500*time.Millisecond {
			t.Errorf("run %d ran %v, less than its sleep", i+1, ran)
		}
		if i == 0 {
			continue
		}
		delay := want[i-1] * time.Millisecond
		gap := r.started.Sub(runs[i-1].finished)
		t.Logf("run %d started %v after run %d ended (policy: %v)", i+1, gap.Round(time.Millisecond), i, delay)
		if !onTime(gap, delay, time.Second) {
			t.Errorf("run %d started %v after the last ended; the policy says %v", i+1, gap, delay)
		}
	}
	out := d.mustCtl("status", id)
	for _, s := range []string{"state:", "FAILED", "CRASH_LOOP", "at most 5 restarts per 1m0s", "#6 pid", "(+1"} {
		if !strings.Contains(out, s) {
			t.Errorf("status lacks %q:\n%s", s, out)
		}
	}
}

// Issue 17, must show 1 (continued): procctl stop during a backoff cancels
// the pending restart, and the process stays stopped.
func TestStopDuringBackoffCancelsTheRestart(t *testing.T) {
	d := startDaemon(t)
	// A long backoff beside a run of a few milliseconds: a stop lands in
	// a backoff, even one that comes late (below).
	delay := built.Time(2 * time.Second)
	id := strings.TrimSpace(d.mustCtl("start", "-q", "--restart", "always", "--restart-delay", delay.String(),
		"--restart-jitter", "0", "--", "sh", "-c", "exit 1"))
	testutil.WaitFor(t, "BACKOFF", func() bool {
		st := d.statusJSON(id)
		restart, _ := st["restart"].(map[string]any)
		_, next := restart["nextRestartAt"].(string)
		return st["state"] == "PROCESS_STATE_BACKOFF" && next
	})
	if !strings.Contains(d.mustCtl("status", id), "next restart:") {
		t.Fatal("status does not show the pending restart")
	}
	start := time.Now()
	d.mustCtl("stop", id)
	if took := time.Since(start); took > built.Time(5*time.Second) {
		t.Fatalf("stop took %v", took)
	}
	st := d.statusJSON(id)
	if st["state"] != "PROCESS_STATE_EXITED" || st["exit"].(map[string]any)["reason"] != "EXIT_REASON_STOPPED" {
		t.Fatalf("after stop: %v %v", st["state"], st["exit"])
	}
	// On a loaded machine a restart or two may come before the stop does
	// (procctl takes seconds there): which backoff the stop cancelled is
	// the one after the last run. That run ended by itself (the stop found
	// no process running, only the pending restart); past the time it
	// would have restarted, there is no new run and no new start.
	runs := runsOf(t, st)
	last := runs[len(runs)-1]
	if last.reason != "EXIT_REASON_EXITED" {
		t.Fatalf("the stop did not come during a backoff: the last run %+v", last)
	}
	time.Sleep(time.Until(last.finished.Add(delay + 500*time.Millisecond))) // an absence: only waiting past the cancelled restart shows it
	st = d.statusJSON(id)
	if after := runsOf(t, st); len(after) != len(runs) || st["state"] != "PROCESS_STATE_EXITED" {
		t.Fatalf("after the restart's time: %v, runs %+v (%d at the stop)", st["state"], after, len(runs))
	}
	var stats struct {
		Processes struct {
			StartedTotal string `json:"startedTotal"`
		} `json:"processes"`
	}
	if err := json.Unmarshal([]byte(d.mustCtl("--json", "stats")), &stats); err != nil || stats.Processes.StartedTotal != strconv.Itoa(len(runs)) {
		t.Fatalf("stats: %+v, %v; want %d started", stats, err, len(runs))
	}
}
