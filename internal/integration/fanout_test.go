//go:build linux

package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fanoutResult is procctl batch --json over several daemons.
type fanoutResult struct {
	Summary struct {
		BatchID string `json:"batchId"`
		Jobs    []struct {
			Index    int    `json:"index"`
			Outcome  string `json:"outcome"`
			Attempts int    `json:"attempts"`
			Error    string `json:"error"`
		} `json:"jobs"`
		Succeeded int `json:"succeeded"`
	} `json:"summary"`
	Daemons []struct {
		Addr     string `json:"addr"`
		Jobs     int    `json:"jobs"`
		Lost     string `json:"lost"`
		LostJobs int    `json:"lostJobs"`
	} `json:"daemons"`
	Placement []string `json:"placement"`
	Rerouted  int      `json:"rerouted"`
}

// fanoutDaemons starts three procd on loopback TCP with mTLS, each mapping
// the client certificate cn:fan to the control role, and returns them, their
// addresses and procctl's connection flags.
func fanoutDaemons(t *testing.T) ([]*daemon, []string, []string) {
	dir := t.TempDir()
	p := pki{t, dir}
	ca := p.ca("fan-ca")
	serverCert, serverKey := p.leaf(ca, "server", true, "procd")
	clientCert, clientKey := p.leaf(ca, "client", false, "fan")
	caFile := filepath.Join(dir, "fan-ca.pem")
	var ds []*daemon
	var addrs []string
	flags := []string{"--tls-ca", caFile, "--tls-cert", clientCert, "--tls-key", clientKey}
	for range 3 {
		d := startDaemon(t, "--listen", "127.0.0.1:0", "--tls-cert", serverCert, "--tls-key", serverKey,
			"--client-ca", caFile, "--control-client", "cn:fan")
		ds = append(ds, d)
		addrs = append(addrs, tcpAddr(t, d))
		flags = append(flags, "--addr", addrs[len(addrs)-1])
	}
	return ds, addrs, flags
}

// fanoutJobs is n short jobs; each prints nothing and succeeds. They sleep
// long enough for the spread to measure the scheduler, not how fast each
// daemon spawns on a loaded machine.
func fanoutJobs(n int) []byte {
	var b bytes.Buffer
	for range n {
		b.WriteString("sleep 0.05\n")
	}
	return b.Bytes()
}

// checkKeyed fails unless every index has one successful result, in order,
// placed on a daemon of addrs.
func checkKeyed(t *testing.T, r fanoutResult, n int, addrs []string) {
	t.Helper()
	if len(r.Summary.Jobs) != n || r.Summary.Succeeded != n || len(r.Placement) != n {
		t.Fatalf("%d results, %d succeeded, %d placements; want %d of each", len(r.Summary.Jobs), r.Summary.Succeeded, len(r.Placement), n)
	}
	for i, j := range r.Summary.Jobs {
		if j.Index != i || j.Outcome != "JOB_OUTCOME_SUCCEEDED" {
			t.Fatalf("result %d: %+v", i, j)
		}
		if !strings.Contains(strings.Join(addrs, " "), r.Placement[i]) || r.Placement[i] == "" {
			t.Fatalf("job %d placed on %q, not one of %v", i, r.Placement[i], addrs)
		}
	}
}

// Issue 19, must-show 2: 3,000 jobs over three daemons at -P 4 each: every
// index gets one result and the spread is within 10 % of even.
func TestFanoutSpreadsAndKeysByIndex(t *testing.T) {
	_, addrs, flags := fanoutDaemons(t)
	const n = 3000
	res := runFanoutBatch(t, flags, n, nil)
	if res.code != 0 {
		t.Fatalf("batch: exit %d\n%s", res.code, res.stderr)
	}
	r := res.parse(t)
	checkKeyed(t, r, n, addrs)
	t.Logf("spread: %+v", r.Daemons)
	for _, d := range r.Daemons {
		if d.Jobs < n/3*9/10 || d.Jobs > n/3*11/10 {
			t.Errorf("daemon %s ran %d jobs; even is %d (±10%%): %+v", d.Addr, d.Jobs, n/3, r.Daemons)
		}
	}
}

// Issue 19, must-show 2: killing one daemon halfway loses no job; its jobs
// are retried on the others and the summary says so.
func TestFanoutSurvivesALostDaemon(t *testing.T) {
	ds, addrs, flags := fanoutDaemons(t)
	const n = 3000
	victim := ds[2]
	res := runFanoutBatch(t, append(flags, "--retries", "2", "-v"), n, func(finished int) {
		if finished == n/2 {
			victim.cmd.Process.Kill() // SIGKILL: no goodbye to the client
		}
	})
	if res.code != 0 {
		t.Fatalf("batch: exit %d\n%s", res.code, tail(res.stderr, 40))
	}
	r := res.parse(t)
	checkKeyed(t, r, n, addrs)
	lost := r.Daemons[2]
	if lost.Addr != addrs[2] || !strings.Contains(lost.Lost, "went away") || lost.LostJobs < 1 || r.Rerouted < lost.LostJobs {
		t.Fatalf("lost daemon's tally %+v, rerouted %d", lost, r.Rerouted)
	}
	if !strings.Contains(res.stderr, "procctl: dropping a daemon: procd at "+addrs[2]+" went away") || !strings.Contains(res.stderr, "lost with "+addrs[2]+"; retried on another daemon") {
		t.Fatalf("no loss reported on stderr:\n%s", tail(res.stderr, 40))
	}
	if r.Daemons[0].Lost != "" || r.Daemons[1].Lost != "" || r.Daemons[2].Jobs >= n/3 {
		t.Fatalf("tallies %+v", r.Daemons)
	}
	// Each job the lost daemon took is named on stderr, with the attempt
	// that was running there (0: none had started), and ran again elsewhere
	// as the next attempt.
	re := regexp.MustCompile(`(?m)^job (\d+) attempt (\d+): lost with ` + regexp.QuoteMeta(addrs[2]) + `; retried on another daemon$`)
	matches := re.FindAllStringSubmatch(res.stderr, -1)
	if len(matches) != lost.LostJobs || r.Rerouted != lost.LostJobs {
		t.Fatalf("%d loss lines, %d lost jobs, %d rerouted:\n%s", len(matches), lost.LostJobs, r.Rerouted, tail(res.stderr, 40))
	}
	for _, m := range matches {
		i, _ := strconv.Atoi(m[1])
		attempt, _ := strconv.Atoi(m[2])
		if j := r.Summary.Jobs[i]; j.Attempts != attempt+1 || r.Placement[i] == addrs[2] {
			t.Fatalf("job %d lost at attempt %d: %+v on %s", i, attempt, j, r.Placement[i])
		}
	}
}

type fanoutRun struct {
	stdout, stderr string
	code           int
}

func (f fanoutRun) parse(t *testing.T) fanoutResult {
	t.Helper()
	var r fanoutResult
	if err := json.Unmarshal([]byte(f.stdout), &r); err != nil {
		t.Fatalf("%v\n%s", err, tail(f.stdout, 20))
	}
	return r
}

// runFanoutBatch runs procctl batch --json over flags' daemons with n jobs
// at 4 per daemon; with verbose flags, onFinished sees the count of
// finished attempts as they are reported.
func runFanoutBatch(t *testing.T, flags []string, n int, onFinished func(int)) fanoutRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append([]string{"batch", "--json", "--max-concurrency-per-daemon", "4"}, flags...)
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "procctl"), args...)
	cmd.Stdin = bytes.NewReader(fanoutJobs(n))
	var out bytes.Buffer
	cmd.Stdout = &out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var errText strings.Builder
	sc := bufio.NewScanner(stderr)
	finished := 0
	for sc.Scan() {
		line := sc.Text()
		errText.WriteString(line + "\n")
		if strings.HasPrefix(line, "job ") && !strings.Contains(line, ": started ") && !strings.Contains(line, ": lost with ") {
			finished++
			if onFinished != nil {
				onFinished(finished)
			}
		}
	}
	err = cmd.Wait()
	code := 0
	if err != nil {
		code = cmd.ProcessState.ExitCode()
	}
	return fanoutRun{stdout: out.String(), stderr: errText.String(), code: code}
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}
