//go:build linux

package integration

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/procd/procd/internal/testutil"
)

type batchSummary struct {
	BatchID string `json:"batchId"`
	Jobs    []struct {
		Index    int    `json:"index"`
		Outcome  string `json:"outcome"`
		Attempts int    `json:"attempts"`
		Exit     struct {
			ExitCode *int   `json:"exitCode"`
			Reason   string `json:"reason"`
		} `json:"exit"`
	} `json:"jobs"`
	Results []int `json:"results"`
	Errors  []int `json:"errors"`
	Retries int   `json:"retries"`
}

// Issue 4, must-show 1.
func TestBatchOutcomesByIndex(t *testing.T) {
	d := startDaemon(t)
	t0 := time.Now()
	r := d.ctlIn([]byte("true\nfalse\nsleep 30\n"), "batch", "--max-concurrency", "2", "--timeout", "1s", "--json")
	took := time.Since(t0)
	if r.code != 1 || !onTime(took, time.Second, 3*time.Second) {
		t.Fatalf("batch: %v after %v", r, took)
	}
	var s batchSummary
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatal(err)
	}
	want := []string{"JOB_OUTCOME_SUCCEEDED", "JOB_OUTCOME_EXIT_CODE", "JOB_OUTCOME_TIMEOUT"}
	for i, j := range s.Jobs {
		if j.Index != i || j.Outcome != want[i] {
			t.Fatalf("job %d: %+v, want %s", i, j, want[i])
		}
	}
	if c := s.Jobs[1].Exit.ExitCode; c == nil || *c != 1 || s.Jobs[2].Exit.Reason != "EXIT_REASON_DEADLINE" {
		t.Fatalf("exits %+v", s.Jobs)
	}
	if len(s.Results) != 1 || s.Results[0] != 0 || len(s.Errors) != 2 || s.Errors[0] != 1 || s.Errors[1] != 2 {
		t.Fatalf("results %v errors %v", s.Results, s.Errors)
	}
}

// Issue 4, must-show 2: the event stream shows at most 4 jobs at once.
func TestBatchConcurrencyFromEvents(t *testing.T) {
	d := startDaemon(t)
	w := startWatch(t, d, "--type", "started", "--type", "exited")
	t0 := time.Now()
	if r := d.ctlIn([]byte(strings.Repeat("sleep 0.5\n", 8)), "batch", "--max-concurrency", "4"); r.code != 0 {
		t.Fatalf("batch: %v", r)
	}
	took := time.Since(t0)
	evs := w.next(t, 16)
	w.stop()
	running, peak := 0, 0
	for _, e := range evs {
		if e.Type == "EVENT_TYPE_STARTED" {
			running++
		} else {
			running--
		}
		peak = max(peak, running)
	}
	if peak != 4 || !onTime(took, time.Second, 2*time.Second) {
		t.Fatalf("peak %d running, took %v", peak, took)
	}
}

// Issue 4, must-show 3.
func TestBatchRetriesVisibleInStream(t *testing.T) {
	d := startDaemon(t)
	counter := filepath.Join(d.dir, "n")
	job := "n=$(cat " + counter + " 2>/dev/null || echo 0); n=$((n+1)); echo $n > " + counter + "; [ $n -ge 3 ]\n"
	r := d.ctlIn([]byte(job), "batch", "-v", "--retries", "3", "--retry-delay", "100ms")
	if r.code != 0 {
		t.Fatalf("batch: %v", r)
	}
	// 100 ms then 200 ms, each ±10 % jitter.
	delays := regexp.MustCompile(`job 0 attempt (\d): exit 1; retrying in (\S+)`).FindAllStringSubmatch(r.stderr, -1)
	if len(delays) != 2 || !strings.Contains(r.stderr, "job 0 attempt 3: exit 0") {
		t.Fatalf("attempt lines:\n%s", r.stderr)
	}
	for i, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
		d, err := time.ParseDuration(delays[i][2])
		if err != nil || d < want*9/10 || d > want*11/10 {
			t.Fatalf("retry delay %d is %s, want %v ±10%%", i+1, delays[i][2], want)
		}
	}
	if !strings.Contains(r.stdout, "1 succeeded") || !strings.Contains(r.stdout, "2 retries") {
		t.Fatalf("summary %q", r.stdout)
	}
}

// Issue 4, must-show 4: Ctrl-C leaves no job alive and starts nothing more.
func TestBatchInterruptStopsEverything(t *testing.T) {
	d := startDaemon(t)
	cmd := exec.Command(filepath.Join(binDir, "procctl"), "--socket", d.socket, "batch", "--max-concurrency", "2")
	cmd.Stdin = strings.NewReader(strings.Repeat("sleep 30\n", 6))
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "two jobs running", func() bool {
		return strings.Count(d.mustCtl("ps"), "sleep 30") == 2
	})
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 || !strings.Contains(errb.String(), "interrupted") {
		t.Fatalf("procctl batch after SIGINT: %v, %s", err, errb.String())
	}
	// Once the batch has ended in the daemon, no queued job can start.
	testutil.WaitFor(t, "the batch to end", func() bool {
		var st struct {
			Batches struct {
				BatchesRunning string `json:"batchesRunning"`
			} `json:"batches"`
		}
		json.Unmarshal([]byte(d.mustCtl("--json", "stats")), &st)
		return st.Batches.BatchesRunning == "" // 0 is omitted
	})
	testutil.WaitFor(t, "no job left running", func() bool { return strings.Count(d.mustCtl("ps"), "sleep") == 0 })
	out := d.mustCtl("ps", "--all")
	if n := strings.Count(out, "sleep 30"); n != 2 {
		t.Fatalf("%d job processes exist; want the 2 that ran:\n%s", n, out)
	}
	var pids []int
	for _, line := range strings.Split(out, "\n")[1:] {
		if f := strings.Fields(line); len(f) > 1 {
			pid, _ := strconv.Atoi(f[1])
			pids = append(pids, pid)
		}
	}
	for _, p := range pids {
		if alive(p) {
			t.Fatalf("job process %d alive after the interrupt", p)
		}
	}
}
