//go:build linux

package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/procd/procd/internal/testutil"
)

// Must-show 2: output and exit code pass through run.
func TestRunPassesOutputAndExitCode(t *testing.T) {
	d := startDaemon(t)
	r := d.ctl("run", "--", "sh", "-c", "echo hi; echo err >&2; exit 3")
	if r.code != 3 || r.stdout != "hi\n" || r.stderr != "err\n" {
		t.Fatalf("run: %v", r)
	}
	r = d.ctl("run", "sh", "-c", "exit 0") // flags after the command belong to it
	if r.code != 0 {
		t.Fatalf("run exit 0: %v", r)
	}
}

// Must-show 2: a signal is reported apart from any exit code.
func TestSignalExitIsReportedSeparately(t *testing.T) {
	d := startDaemon(t)
	if r := d.ctl("run", "--", "sh", "-c", "kill -SEGV $$"); r.code != 139 {
		t.Fatalf("run SEGV: %v", r)
	}
	id := strings.TrimSpace(d.mustCtl("start", "-q", "--", "sh", "-c", "kill -SEGV $$"))
	if r := d.ctl("wait", id); r.code != 139 {
		t.Fatalf("wait: %v", r)
	}
	exit := d.statusJSON(id)["exit"].(map[string]any)
	if exit["signal"] != "SIGSEGV" || exit["signalNumber"] != float64(11) {
		t.Fatalf("exit %v", exit)
	}
	if _, ok := exit["exitCode"]; ok {
		t.Fatalf("a signalled exit also carries an exit code: %v", exit)
	}
	id = strings.TrimSpace(d.mustCtl("start", "-q", "true"))
	d.ctl("wait", id)
	if exit := d.statusJSON(id)["exit"].(map[string]any); exit["exitCode"] != float64(0) {
		t.Fatalf("exit code 0 must be present, got %v", exit)
	}
}

func pidsFromLogs(t *testing.T, d *daemon, id string, want int) []int {
	t.Helper()
	var pids []int
	testutil.WaitFor(t, fmt.Sprintf("%d pids in the output of %s", want, id), func() bool {
		pids = pids[:0]
		for _, f := range strings.Fields(d.mustCtl("logs", id)) {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("not a pid: %q", f)
			}
			pids = append(pids, n)
		}
		return len(pids) == want
	})
	return pids
}

// Must-show 3: stop leaves nothing of a tree that ignores SIGTERM, and says
// so only afterwards; stopping again succeeds.
func TestStopEndsTreeIgnoringTerm(t *testing.T) {
	d := startDaemon(t)
	id := strings.TrimSpace(d.mustCtl("start", "-q", "--", "sh", "-c",
		`trap "" TERM; sleep 300 & echo $!; sh -c 'sleep 300 & echo $!; wait' & wait`))
	kids := pidsFromLogs(t, d, id, 2)
	st := d.statusJSON(id)
	leader := int(st["pid"].(float64))
	out := d.mustCtl("stop", "--grace", "300ms", id)
	if !strings.Contains(out, "SIGKILL") || !strings.Contains(out, "STOPPED") {
		t.Fatalf("stop output %q", out)
	}
	for _, p := range append(kids, leader) {
		if alive(p) {
			t.Fatalf("process %d of the tree alive after stop returned", p)
		}
	}
	if state := d.statusJSON(id)["state"]; state != "PROCESS_STATE_EXITED" {
		t.Fatalf("state %v", state)
	}
	if out := d.mustCtl("stop", id); !strings.Contains(out, "STOPPED") {
		t.Fatalf("second stop %q", out)
	}
}

// Must-show 4.
func TestWaitReturnsAtOnceForFinishedAndTimesOut(t *testing.T) {
	d := startDaemon(t)
	id := strings.TrimSpace(d.mustCtl("start", "-q", "--", "sh", "-c", "exit 5"))
	if r := d.ctl("wait", id); r.code != 5 {
		t.Fatalf("wait: %v", r)
	}
	t0 := time.Now()
	if r := d.ctl("wait", id); r.code != 5 || time.Since(t0) > built.Time(5*time.Second) {
		t.Fatalf("second wait: %v after %v", r, time.Since(t0))
	}
	run := strings.TrimSpace(d.mustCtl("start", "-q", "sleep", "300"))
	r := d.ctl("wait", "--timeout", "200ms", run)
	if r.code != 124 || !strings.Contains(r.stderr, "still RUNNING") {
		t.Fatalf("wait --timeout: %v", r)
	}
	var resp struct {
		TimedOut bool `json:"timedOut"`
		Process  struct {
			State string `json:"state"`
		} `json:"process"`
	}
	r = d.ctl("--json", "wait", "--timeout", "0.1", run)
	if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil || r.code != 124 || !resp.TimedOut || resp.Process.State != "PROCESS_STATE_RUNNING" {
		t.Fatalf("json wait: %v %+v %v", r, resp, err)
	}
}

// Must-show 5: precise errors, no record left behind, others undisturbed.
func TestErrorsAreExactAndLeaveNothingBehind(t *testing.T) {
	d := startDaemon(t)
	keep := strings.TrimSpace(d.mustCtl("start", "-q", "sleep", "300"))
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"start", "no-such-binary"}, 66, `executable "no-such-binary" not found in PATH (`},
		{[]string{"start", "-C", "/nonexistent/dir", "true"}, 66, `working directory "/nonexistent/dir" does not exist`},
		{[]string{"run", "-e", "PATH=/nowhere", "ls"}, 66, `not found in PATH (/nowhere)`},
		{[]string{"signal", keep, "SIGBOGUS"}, 64, `unknown signal "SIGBOGUS"`},
		{[]string{"stop", "--signal", "NOPE", keep}, 64, `unknown signal "NOPE"`},
		{[]string{"status", "p-999"}, 66, `no process with id "p-999"`},
		{[]string{"status", "999999"}, 66, `no process with pid 999999`},
		{[]string{"rm", keep}, 65, "stop it before removing it"},
		{[]string{"start"}, 64, "requires at least 1 arg"},
		{[]string{"watch", "--type", "bogus"}, 64, "unknown event type"},
		{[]string{"start", "--env", "NOEQUALS", "true"}, 64, "expected KEY=VALUE"},
	} {
		r := d.ctl(tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("procctl %v: %v; want exit %d and %q", tc.args, r, tc.code, tc.msg)
		}
	}
	var list struct {
		Processes []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"processes"`
	}
	if err := json.Unmarshal([]byte(d.mustCtl("--json", "ps", "--all")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Processes) != 1 || list.Processes[0].ID != keep || list.Processes[0].State != "PROCESS_STATE_RUNNING" {
		t.Fatalf("table after errors: %+v", list)
	}
}

// Must-show 6: 100 MB without newlines and 1 MiB lines neither block nor
// lose their last bytes; no zombie is left.
func TestHugeOutputAndNoZombies(t *testing.T) {
	d := startDaemon(t, "--ring-size", "1MiB")
	big := strings.TrimSpace(d.mustCtl("start", "-q", "--", "sh", "-c", `head -c 100000000 /dev/zero | tr '\0' x; printf END`))
	lines := strings.TrimSpace(d.mustCtl("start", "-q", "--", "sh", "-c",
		`i=0; while [ $i -lt 5 ]; do head -c 1048576 /dev/zero | tr '\0' a; echo; i=$((i+1)); done; printf LAST`))
	for _, id := range []string{big, lines} {
		if r := d.ctl("wait", id); r.code != 0 {
			t.Fatalf("wait %s: %v", id, r)
		}
	}
	out := d.statusJSON(big)["stdout"].(map[string]any)
	if out["totalBytes"] != "100000003" || out["droppedBytes"] != strconv.Itoa(100000003-(1<<20)) {
		t.Fatalf("stdout info %v", out)
	}
	if tail := d.mustCtl("logs", "--tail", "5", big); tail != "xxEND" {
		t.Fatalf("tail %q", tail)
	}
	r := d.ctl("logs", "--stream", "stdout", big)
	if len(r.stdout) != 1<<20 || !strings.Contains(r.stderr, "bytes of stdout were dropped") {
		t.Fatalf("logs of the big one: %d bytes, stderr %q", len(r.stdout), r.stderr)
	}
	if tail := d.mustCtl("logs", "--tail", "7", lines); tail != "aa\nLAST" {
		t.Fatalf("lines tail %q", tail)
	}
	if z := zombieChildren(d.cmd.Process.Pid); len(z) > 0 {
		t.Fatalf("zombie children of procd: %v", z)
	}
}

// Must-show 7: a watcher that reconnects with --after gets exactly what it
// missed, in order, without duplicates.
func TestWatchResumesWithoutGapOrDuplicate(t *testing.T) {
	d := startDaemon(t)
	w := startWatch(t, d)
	d.mustCtl("run", "true")
	first := w.next(t, 2) // started, exited
	w.stop()
	last := first[len(first)-1].Seq
	d.mustCtl("run", "true")
	d.ctl("run", "false")
	d.ctl("run", "sh", "-c", "exit 2")
	w = startWatch(t, d, "--after", strconv.FormatUint(last, 10))
	missed := w.next(t, 6)
	w.stop()
	for i, e := range missed {
		if e.Seq != last+uint64(i)+1 {
			t.Fatalf("event %d has seq %d, want %d (events %+v)", i, e.Seq, last+uint64(i)+1, missed)
		}
	}
	if missed[1].Type != "EVENT_TYPE_EXITED" || missed[5].Type != "EVENT_TYPE_EXITED" {
		t.Fatalf("events %+v", missed)
	}
	if r := d.ctl("watch", "--after", "100000"); r.code != 65 || !strings.Contains(r.stderr, "beyond the last event") {
		t.Fatalf("watch from the future: %v", r)
	}
}

type watchEvent struct {
	Seq  uint64 `json:"seq,string"`
	Type string `json:"type"`
}

type watcher struct {
	cmd  *exec.Cmd
	done chan struct{}
	evs  chan watchEvent
}

func startWatch(t *testing.T, d *daemon, args ...string) *watcher {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "procctl"), append([]string{"--socket", d.socket, "--json", "watch"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &watcher{cmd: cmd, evs: make(chan watchEvent, 100), done: make(chan struct{})}
	go func() {
		defer close(w.evs)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var e watchEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err == nil {
				w.evs <- e
			}
		}
		io.Copy(io.Discard, out)
	}()
	// The subscription is live once the daemon counts it.
	testutil.WaitFor(t, "the watcher to subscribe", func() bool {
		return strings.Contains(d.mustCtl("stats"), "1 subscriber(s)")
	})
	return w
}

func (w *watcher) next(t *testing.T, n int) []watchEvent {
	t.Helper()
	var out []watchEvent
	timeout := time.After(15 * time.Second)
	for len(out) < n {
		select {
		case e, ok := <-w.evs:
			if !ok {
				t.Fatalf("watch ended after %d events", len(out))
			}
			out = append(out, e)
		case <-timeout:
			t.Fatalf("only %d of %d events", len(out), n)
		}
	}
	return out
}

func (w *watcher) stop() {
	w.cmd.Process.Signal(syscall.SIGTERM)
	w.cmd.Wait()
}

// Must-show 8: grpcurl and grpc-health-probe work without the proto file.
func TestGrpcurlAndHealthProbe(t *testing.T) {
	d := startDaemon(t)
	grpcurl := toolPath(t, "grpcurl")
	out, err := exec.Command(grpcurl, "-plaintext", "-unix", d.socket, "list").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "procd.v1.ProcessService") || !strings.Contains(string(out), "grpc.health.v1.Health") {
		t.Fatalf("grpcurl list: %v\n%s", err, out)
	}
	out, err = exec.Command(grpcurl, "-plaintext", "-unix", "-d", `{"spec":{"command":["sh","-c","exit 4"]}}`,
		d.socket, "procd.v1.ProcessService/StartProcess").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"id": "p-1"`) {
		t.Fatalf("grpcurl StartProcess: %v\n%s", err, out)
	}
	probe := toolPath(t, "grpc-health-probe")
	out, err = exec.Command(probe, "-addr", "unix://"+d.socket).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SERVING") {
		t.Fatalf("grpc-health-probe: %v\n%s", err, out)
	}
}

func TestSocketPermissionsAndSecondDaemonRefused(t *testing.T) {
	d := startDaemon(t)
	fi, err := os.Stat(d.socket)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v %v", fi.Mode(), err)
	}
	second := exec.Command(filepath.Join(binDir, "procd"), "--socket", d.socket)
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another procd is already running") {
		t.Fatalf("second daemon: %v\n%s", err, out)
	}
	// The first one still serves.
	d.mustCtl("run", "true")
}

// A daemon killed with SIGKILL takes its processes with it (Pdeathsig), and
// the next daemon replaces the stale socket.
func TestKilledDaemonTakesItsChildrenAndSocketIsReplaced(t *testing.T) {
	d := startDaemon(t)
	id := strings.TrimSpace(d.mustCtl("start", "-q", "sleep", "300"))
	pid := int(d.statusJSON(id)["pid"].(float64))
	d.cmd.Process.Kill()
	<-d.exited
	testutil.WaitFor(t, "the child to die with the daemon", func() bool { return !alive(pid) })
	if _, err := os.Stat(d.socket); err != nil {
		t.Fatalf("expected a stale socket to be left: %v", err)
	}
	d.start()
	d.mustCtl("run", "true")
}

func TestShutdownStopsProcessesAndSecondSignalKills(t *testing.T) {
	d := startDaemon(t, "--grace", "1m", "--shutdown-timeout", "5m")
	id := strings.TrimSpace(d.mustCtl("start", "-q", "--", "sh", "-c", `trap "" TERM; sleep 300`))
	pid := int(d.statusJSON(id)["pid"].(float64))
	d.cmd.Process.Signal(syscall.SIGTERM)
	testutil.WaitFor(t, "the shutdown to begin", func() bool { return strings.Contains(d.logs.String(), "stopping processes for shutdown") })
	t0 := time.Now()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("daemon still running 20s after the second signal\n%s", d.logs)
	}
	if d.err != nil || time.Since(t0) > 15*time.Second {
		t.Fatalf("exit %v after %v\n%s", d.err, time.Since(t0), d.logs)
	}
	if alive(pid) {
		t.Fatalf("process %d survived the daemon", pid)
	}
}

func TestUnreachableDaemon(t *testing.T) {
	d := &daemon{t: t, socket: "/nonexistent/procd.sock"}
	r := d.ctl("ps")
	if r.code != 69 || !strings.Contains(r.stderr, "cannot reach procd at /nonexistent/procd.sock") {
		t.Fatalf("%v", r)
	}
}
