//go:build linux

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/procd/procd/internal/testutil"
)

// binDir holds procd and procctl built once for the whole run.
var binDir string

// daemonGORACE is the race detector's options for procd (the test's own
// GORACE); every other program the tier runs exits without its pause.
var daemonGORACE string

// built says how binDir's programs were built: the bounds that measure
// procd's time or memory widen by its factors (testutil.Build) when the
// race detector is in, which the test binary's own build cannot tell.
var built testutil.Build

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "procd-it-bin")
	if err != nil {
		panic(err)
	}
	binDir = dir
	// The fault-injection tier needs the injector, which only builds
	// with the tag (release builds leave it out: TestReleaseBinaryHasNoFaults).
	//
	// procd is built with the race detector: every test then also checks
	// the daemon for data races (checkRaces), and the bounds on its time
	// and memory widen by the detector's factors (built). The clients
	// (procctl, procd-bench) are built plainly unless PROCD_IT_RACE=all:
	// their own concurrency is checked by their packages' tests under
	// -race, and a race-built procctl starts about 3× slower (0.37 s
	// against 0.13 s at load 13), which the tier pays hundreds of times
	// and which made the heartbeat tests, whose pings are procctl runs,
	// miss their windows. PROCD_IT_RACE=0 builds everything plainly.
	mode := os.Getenv("PROCD_IT_RACE")
	procdBuild := []string{"build", "-tags", "faults"}
	clientBuild := []string{"build"}
	switch mode {
	case "0":
	case "all":
		clientBuild = append(clientBuild, "-race")
		fallthrough
	default:
		procdBuild = append(procdBuild, "-race")
		built.Race = true
		// A race-built program sleeps GORACE's atexit_sleep_ms (1 s by
		// default) as it exits, for other goroutines' reports to finish:
		// a second of idle wall time per race-built procctl, and the tier
		// runs hundreds. The clients exit at once; the daemon keeps the
		// default (startDaemon), since its exit is where checkRaces looks.
		daemonGORACE = os.Getenv("GORACE")
		os.Setenv("GORACE", strings.TrimSpace("atexit_sleep_ms=0 "+daemonGORACE))
	}
	// The test programs (testdata) are the tests' own instruments, not
	// procd: they are built plainly, so what they measure (a peak of
	// memory, a rate of pings) is not the race detector's.
	for _, b := range [][]string{
		append(procdBuild, "-o", dir+"/", "../../cmd/procd"),
		append(clientBuild, "-o", dir+"/", "../../cmd/procctl", "../../cmd/procd-bench"),
		{"build", "-o", dir + "/", "./testdata/notifier", "./testdata/alloc", "./testdata/echo", "./testdata/pipepeer"},
	} {
		build := exec.Command("go", b...)
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building procd, procctl and the test programs:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is a procd running on a temporary socket.
type daemon struct {
	t      testing.TB
	env    []string            // extra environment for procd
	cred   *syscall.Credential // run procd as this user (nil: the test's)
	join   []string            // cgroup.procs files procd's process joins before procd runs (nil: the test's cgroups)
	dir    string
	socket string
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{}
	err    error
}

// syncBuffer collects the daemon's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDaemon runs procd on a short temporary socket path (sun_path holds
// 108 bytes) and stops it at the end of the test, failing the test on an
// unclean exit.
func startDaemon(t testing.TB, args ...string) *daemon {
	t.Helper()
	return startDaemonEnv(t, nil, args...)
}

// startDaemonEnv is startDaemon with extra environment variables.
func startDaemonEnv(t testing.TB, env []string, args ...string) *daemon {
	t.Helper()
	return launch(t, &daemon{env: env}, args...)
}

// launch starts d (its env, cred and join set) as startDaemon does.
func launch(t testing.TB, d *daemon, args ...string) *daemon {
	t.Helper()
	dir, err := os.MkdirTemp("", "pdi")
	if err != nil {
		t.Fatal(err)
	}
	d.t, d.dir, d.socket = t, dir, filepath.Join(dir, "procd.sock")
	d.start(args...)
	t.Cleanup(func() {
		d.stop()
		os.RemoveAll(dir)
	})
	return d
}

func (d *daemon) start(args ...string) {
	d.t.Helper()
	d.logs = newSyncBuffer()
	argv := append([]string{filepath.Join(binDir, "procd"), "--socket", d.socket, "--log-level", "debug"}, args...)
	if len(d.join) > 0 {
		// A shell joins the cgroups, then execs procd in its place (the
		// same pid): procd starts in them.
		const script = `n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 1; shift; n=$((n-1)); done; exec "$@"`
		argv = append(append([]string{"/bin/sh", "-c", script, "sh", strconv.Itoa(len(d.join))}, d.join...), argv...)
	}
	d.cmd = exec.Command(argv[0], argv[1:]...)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	d.cmd.Env = os.Environ()
	if built.Race {
		d.cmd.Env = append(d.cmd.Env, "GORACE="+daemonGORACE)
	}
	d.cmd.Env = append(d.cmd.Env, d.env...)
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: d.cred} // own group: keep terminal signals away
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.exited = make(chan struct{})
	go func() {
		d.err = d.cmd.Wait()
		close(d.exited)
	}()
	d.waitServing()
}

// waitServing polls the health service until the daemon answers.
func (d *daemon) waitServing() {
	d.t.Helper()
	cc, err := grpc.NewClient("unix://"+d.socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		d.t.Fatal(err)
	}
	defer cc.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		select {
		case <-d.exited:
			d.t.Fatalf("procd exited during start: %v\n%s", d.err, d.logs)
		default:
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("procd not serving after 15s: %v\n%s", err, d.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and requires a clean exit within the shutdown bound.
func (d *daemon) stop() {
	d.t.Helper()
	defer d.checkRaces()
	select {
	case <-d.exited:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
		d.t.Errorf("procd did not exit within 30s of SIGTERM\n%s", d.logs)
		return
	}
	if d.err != nil {
		d.t.Errorf("procd exited uncleanly: %v\n%s", d.err, d.logs)
	}
	if strings.Contains(d.logs.String(), "panic") {
		d.t.Errorf("procd logged a panic:\n%s", d.logs)
	}
}

// checkRaces fails the test if the race detector reported a data race in
// procd (the binaries are built with -race), whether the daemon exited on
// its own, was killed by the test, or was stopped.
func (d *daemon) checkRaces() {
	d.t.Helper()
	if strings.Contains(d.logs.String(), "WARNING: DATA RACE") {
		d.t.Errorf("the race detector reported a data race in procd:\n%s", d.logs)
	}
}

// onTime reports whether took, the time something procd does took, is
// within least (what the behaviour itself needs) plus slack (scheduling
// on a loaded machine), the slack widened for the binaries' build.
// Something that never happens still fails any such bound.
func onTime(took, least, slack time.Duration) bool {
	return took >= least && took <= least+built.Time(slack)
}

// result is one procctl invocation.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %q\nstderr: %q", r.code, r.stdout, r.stderr)
}

// ctl runs procctl against the daemon.
func (d *daemon) ctl(args ...string) result {
	d.t.Helper()
	return d.ctlIn(nil, args...)
}

// ctlLimit bounds one procctl run (widened when procd is race-built):
// reached only when something hangs.
const ctlLimit = 60 * time.Second

func (d *daemon) ctlIn(stdin []byte, args ...string) result {
	d.t.Helper()
	limit := built.Time(ctlLimit)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "procctl"), append([]string{"--socket", d.socket}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	if strings.Contains(errb.String(), "WARNING: DATA RACE") {
		d.t.Errorf("the race detector reported a data race in procctl %v:\n%s", args, errb.String())
	}
	if err != nil && ctx.Err() != nil {
		// Killed: its output is cut wherever it was, with nothing on
		// stderr, which a caller checking only the output would take
		// for procd's answer.
		d.t.Fatalf("procctl %v: still running after %v, killed (stdout %d bytes so far, stderr %q)", args, limit, out.Len(), errb.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		d.t.Fatalf("procctl %v: %v", args, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// mustCtl runs procctl and requires exit 0.
func (d *daemon) mustCtl(args ...string) string {
	d.t.Helper()
	r := d.ctl(args...)
	if r.code != 0 {
		d.t.Fatalf("procctl %v: %v", args, r)
	}
	return r.stdout
}

// statusJSON returns procctl --json status ID decoded.
func (d *daemon) statusJSON(id string) map[string]any {
	d.t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(d.mustCtl("--json", "status", id)), &m); err != nil {
		d.t.Fatal(err)
	}
	return m
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z'
}

// zombieChildren lists zombie children of pid.
func zombieChildren(pid int) []int {
	var out []int
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		for _, f := range strings.Fields(string(b)) {
			st, _ := os.ReadFile("/proc/" + f + "/stat")
			if i := bytes.LastIndexByte(st, ')'); i > 0 && len(st) > i+2 && st[i+2] == 'Z' {
				n, _ := strconv.Atoi(f)
				out = append(out, n)
			}
		}
	}
	return out
}

// toolPath finds a pinned tool installed by `make tools` in the repository's .bin.
func toolPath(t *testing.T, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", ".bin", name)
	if _, err := os.Stat(p); err != nil {
		if lp, err := exec.LookPath(name); err == nil {
			return lp
		}
		t.Skipf("%s not installed (run make tools; make test does)", name)
	}
	return p
}
