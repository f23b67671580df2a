//go:build linux

package integration

import (
	"encoding/json"
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
		if gap < delay || gap > delay+time.Second {
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
	id := strings.TrimSpace(d.mustCtl("start", "-q", "--restart", "always", "--restart-delay", "1s",
		"--restart-jitter", "0", "--", "sh", "-c", "exit 1"))
	var next time.Time
	testutil.WaitFor(t, "BACKOFF", func() bool {
		st := d.statusJSON(id)
		if st["state"] != "PROCESS_STATE_BACKOFF" {
			return false
		}
		next, _ = time.Parse(time.RFC3339Nano, st["restart"].(map[string]any)["nextRestartAt"].(string))
		return true
	})
	if !strings.Contains(d.mustCtl("status", id), "next restart:") {
		t.Fatal("status does not show the pending restart")
	}
	start := time.Now()
	d.mustCtl("stop", id)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("stop took %v", took)
	}
	st := d.statusJSON(id)
	if st["state"] != "PROCESS_STATE_EXITED" || st["exit"].(map[string]any)["reason"] != "EXIT_REASON_STOPPED" {
		t.Fatalf("after stop: %v %v", st["state"], st["exit"])
	}
	// Past the cancelled restart's time, still one run and no new start.
	time.Sleep(time.Until(next.Add(500 * time.Millisecond)))
	st = d.statusJSON(id)
	if runs := runsOf(t, st); len(runs) != 1 || st["state"] != "PROCESS_STATE_EXITED" {
		t.Fatalf("after the restart's time: %v, runs %+v", st["state"], runs)
	}
	var stats struct {
		Processes struct {
			StartedTotal string `json:"startedTotal"`
		} `json:"processes"`
	}
	if err := json.Unmarshal([]byte(d.mustCtl("--json", "stats")), &stats); err != nil || stats.Processes.StartedTotal != "1" {
		t.Fatalf("stats: %+v, %v", stats, err)
	}
}
