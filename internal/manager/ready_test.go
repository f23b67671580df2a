//go:build linux

package manager

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/testutil"
)

func waitReady(t *testing.T, m *Manager, id string) Info {
	t.Helper()
	info, timedOut, err := m.WaitReady(testutil.Context(t), Ref{ID: id}, 20*time.Second)
	if err != nil || timedOut {
		t.Fatalf("wait ready %s: %v (timed out %v)", id, err, timedOut)
	}
	return info
}

// nextOf returns the next event of type typ for id.
func nextOf(t *testing.T, sub *events.Subscription, id string, typ events.Type) events.Event {
	t.Helper()
	for {
		evs, err := sub.Next(testutil.Context(t), nil)
		if err != nil {
			t.Fatalf("waiting for %v: %v", typ, err)
		}
		for _, e := range evs {
			if e.ProcessID == id && e.Type == typ {
				return e
			}
		}
	}
}

// A TCP check: STARTING until the port accepts, then RUNNING with READY.
func TestReadyTCPStartingUntilThePortAccepts(t *testing.T) {
	m, bus := newManager(t, Config{})
	sub, _ := bus.Subscribe(events.Filter{}, nil)
	defer sub.Close()
	port := testutil.FreePort(t)
	s := Spec{Command: []string{"sleep", "100"}, Ready: Readiness{Kind: ReadyTCP, Addr: port, Interval: 20 * time.Millisecond}}
	info := mustStart(t, m, s)
	if info.State != Starting || !info.Ready.ReadyAt.IsZero() {
		t.Fatalf("state %v, ready at %v; want STARTING, not ready", info.State, info.Ready.ReadyAt)
	}
	if info.Ready.Readiness.Addr != "127.0.0.1:"+port {
		t.Fatalf("addr %q, want the bare port on 127.0.0.1", info.Ready.Readiness.Addr)
	}
	// Still starting while nothing listens, with the failures counted.
	testutil.WaitFor(t, "failed probe attempts", func() bool { return mustGet(t, m, info.ID).Ready.Attempts >= 2 })
	if got := mustGet(t, m, info.ID); got.State != Starting || got.Ready.LastError == "" {
		t.Fatalf("state %v, last error %q; want STARTING with the refusal", got.State, got.Ready.LastError)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := waitReady(t, m, info.ID)
	if got.State != Running || got.Ready.ReadyAt.IsZero() || got.Ready.LastError != "" {
		t.Fatalf("after listening: state %v, ready %+v", got.State, got.Ready)
	}
	if e := nextOf(t, sub, info.ID, events.Ready); !strings.Contains(e.Detail, "accepted a connection") {
		t.Fatalf("READY detail %q", e.Detail)
	}
	m.Stop(testutil.Context(t), Ref{ID: info.ID}, nil, StopOptions{})
}

func mustGet(t *testing.T, m *Manager, id string) Info {
	t.Helper()
	info, err := m.Get(Ref{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// An HTTP check wants a 2xx: 503s keep the process starting.
func TestReadyHTTPWants2xx(t *testing.T) {
	m, _ := newManager(t, Config{})
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 3 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	s := Spec{Command: []string{"sleep", "100"}, Ready: Readiness{Kind: ReadyHTTP, URL: srv.URL + "/health", Interval: 20 * time.Millisecond}}
	info := mustStart(t, m, s)
	got := waitReady(t, m, info.ID)
	if got.State != Running || got.Ready.Attempts != 4 {
		t.Fatalf("state %v after %d attempts; want RUNNING after 4 (three 503s)", got.State, got.Ready.Attempts)
	}
	m.Stop(testutil.Context(t), Ref{ID: info.ID}, nil, StopOptions{})
}

// An exec check runs until it exits 0; a log check matches a line.
func TestReadyExecAndLog(t *testing.T) {
	m, _ := newManager(t, Config{})
	flag := filepath.Join(t.TempDir(), "up")
	ex := mustStart(t, m, Spec{Command: []string{"sleep", "100"},
		Ready: Readiness{Kind: ReadyExec, Command: []string{"test", "-e", flag}, Interval: 20 * time.Millisecond}})
	testutil.WaitFor(t, "failed exec probes", func() bool { return mustGet(t, m, ex.ID).Ready.Attempts >= 2 })
	if got := mustGet(t, m, ex.ID); got.State != Starting || !strings.Contains(got.Ready.LastError, "exit") {
		t.Fatalf("state %v, last error %q; want STARTING, the probe's exit", got.State, got.Ready.LastError)
	}
	os.WriteFile(flag, nil, 0o600)
	if got := waitReady(t, m, ex.ID); got.State != Running {
		t.Fatalf("exec: state %v", got.State)
	}

	lg := mustStart(t, m, Spec{Command: []string{"sh", "-c", "echo booting; sleep 0.3; printf 'listening on 8080\\n' >&2; sleep 100"},
		Ready: Readiness{Kind: ReadyLog, Pattern: `listening on \d+`}})
	got := waitReady(t, m, lg.ID)
	if got.State != Running || got.Ready.Took < 300*time.Millisecond {
		t.Fatalf("log: state %v after %v; want RUNNING after the stderr line", got.State, got.Ready.Took)
	}
	m.Stop(testutil.Context(t), Ref{}, &Selector{All: true}, StopOptions{})
}

// A process never ready is stopped at its start-up timeout, with the stop
// escalation, and the reason STARTUP_TIMEOUT.
func TestStartupTimeoutStopsTheProcess(t *testing.T) {
	m, _ := newManager(t, Config{})
	s := Spec{Command: []string{"sh", "-c", "trap '' TERM; sleep 100 & wait"}, Grace: 200 * time.Millisecond,
		Ready: Readiness{Kind: ReadyTCP, Addr: testutil.FreePort(t), Interval: 50 * time.Millisecond, StartupTimeout: dur(500 * time.Millisecond)}}
	info := mustStart(t, m, s)
	fin := wait(t, m, info.ID)
	checkEnded(t, fin, ReasonStartupTimeout, 700*time.Millisecond) // timeout + grace, then SIGKILL
	if !fin.Ready.ReadyAt.IsZero() || fin.Ready.Attempts < 2 {
		t.Fatalf("ready %+v; want never ready after several attempts", fin.Ready)
	}
}

// The hang watchdog's idle clock starts at readiness: a start-up silent
// for far longer than timeout + buffer is not a hang; silence after it is.
func TestIdleClockStartsAtReadiness(t *testing.T) {
	m, _ := newManager(t, Config{})
	s := hangSpec([]string{"sh", "-c", "sleep 1.5; echo ready; sleep 100"}, 300*time.Millisecond, 200*time.Millisecond)
	s.Ready = Readiness{Kind: ReadyLog, Pattern: "^ready$"}
	info := mustStart(t, m, s)
	fin := wait(t, m, info.ID)
	if fin.Ready.ReadyAt.IsZero() {
		t.Fatalf("killed before ready: %+v", fin.Exit)
	}
	checkEnded(t, fin, ReasonHung, 2*time.Second) // 1.5 s start-up + 0.5 s idle
	if idle := fin.FinishedAt.Sub(fin.Ready.ReadyAt); idle < 500*time.Millisecond {
		t.Fatalf("hung %v after ready; want timeout + buffer (500ms) or more", idle)
	}
}

// Must-show 2: silent for 3 s with a 1 s watchdog timeout, then READY=1:
// not killed as hung.
func TestNotifyReadyAfterSilentStartIsNotHung(t *testing.T) {
	m, _ := notifyManager(t)
	s := helperSpec(100*time.Millisecond, 30, time.Second) // timeout 1 s, buffer 0.5 s
	s.Env["PROCD_TEST_DELAY"] = "3s"
	s.Ready = Readiness{Kind: ReadyNotify}
	info := mustStart(t, m, s)
	got := waitReady(t, m, info.ID)
	if got.State != Running || got.Ready.Took < 3*time.Second {
		t.Fatalf("state %v after %v, exit %+v; want RUNNING after the 3 s silence", got.State, got.Ready.Took, got.Exit)
	}
	// It pings for 3 s more, then is silent: hung 1.5 s later. Measured
	// from READY=1: the race-built helper takes seconds to start under load.
	fin := wait(t, m, info.ID)
	if ran := fin.FinishedAt.Sub(got.Ready.ReadyAt); fin.Exit.Reason != ReasonHung || ran < 4*time.Second || ran > 9*time.Second {
		t.Fatalf("ended %v after ready with %+v; want HUNG after its 3 s of pings + 1.5 s", ran, fin.Exit)
	}
}

// A stop while starting ends probing: an exec probe that would run for
// 100 s is killed with its group, and the stop returns at once.
func TestStopWhileStartingEndsProbing(t *testing.T) {
	m, _ := newManager(t, Config{})
	s := Spec{Command: []string{"sleep", "100"},
		Ready: Readiness{Kind: ReadyExec, Command: []string{"sh", "-c", "sleep 100 & sleep 100"}, AttemptTimeout: time.Minute}}
	info := mustStart(t, m, s)
	testutil.WaitFor(t, "the probe running", func() bool { return len(probeProcesses(t)) > 0 })
	began := time.Now()
	res, _ := m.Stop(testutil.Context(t), Ref{ID: info.ID}, nil, StopOptions{})
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("stop took %v", took)
	}
	if res[0].Info.Exit.Reason != ReasonStopped {
		t.Fatalf("exit %+v", res[0].Info.Exit)
	}
	testutil.WaitFor(t, "the probe's group gone", func() bool { return len(probeProcesses(t)) == 0 })
}

// probeProcesses lists this test's exec probes still alive ("sleep 100"
// children of sh -c … & …).
func probeProcesses(t *testing.T) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		if string(b) == "sh\x00-c\x00sleep 100 & sleep 100\x00" && !strings.Contains(string(stat), ") Z ") {
			out = append(out, pid)
		}
	}
	return out
}

// An exec probe is a command procd runs: the start check vets it like the
// process itself, with the caller of the start.
func TestExecProbePassesTheStartCheck(t *testing.T) {
	check := func(c *StartCheck) error {
		if filepath.Base(c.Executable) == "true" {
			return errors.New("true is not allowed")
		}
		return nil
	}
	m, _ := newManager(t, Config{StartCheck: check})
	s := Spec{Command: []string{"sleep", "100"}, Caller: &Caller{UID: os.Getuid(), Desc: "test"},
		Ready: Readiness{Kind: ReadyExec, Command: []string{"true"}}}
	_, err := m.Start(s)
	if !errors.Is(err, errdefs.ErrPermissionDenied) || !strings.Contains(err.Error(), "ready exec") {
		t.Fatalf("start: %v; want PERMISSION_DENIED naming the probe", err)
	}
}

// An exec probe's command is held to the input limits like the command.
func TestExecProbeInputLimits(t *testing.T) {
	m, _ := newManager(t, Config{Input: InputLimits{MaxArgs: 2}})
	_, err := m.Start(Spec{Command: []string{"sleep", "100"}, Ready: Readiness{Kind: ReadyExec, Command: []string{"test", "-e", "/x"}}})
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "ready exec command arguments is 3; the limit is 2") {
		t.Fatalf("start: %v", err)
	}
}

// WaitReady follows a restart: a first run that fails before it is ready
// and a second that becomes ready end the wait at the second's readiness;
// a start-up timeout is a failure the restart policy counts.
func TestWaitReadyFollowsARestart(t *testing.T) {
	m, _ := newManager(t, Config{})
	flag := filepath.Join(t.TempDir(), "second")
	s := Spec{Command: []string{"sh", "-c", "if [ -e " + flag + " ]; then echo up; sleep 60; else touch " + flag + "; exit 1; fi"},
		Ready:   Readiness{Kind: ReadyLog, Pattern: "^up$"},
		Restart: RestartPolicy{Mode: RestartOnFailure, Delay: 50 * time.Millisecond}}
	info := mustStart(t, m, s)
	got := waitReady(t, m, info.ID)
	if got.State != Running || got.Ready.ReadyAt.IsZero() || got.ID != info.ID || got.PID == info.PID {
		t.Fatalf("after the restart: state %v ready %v id %s pid %d (first pid %d)", got.State, got.Ready.ReadyAt, got.ID, got.PID, info.PID)
	}
	m.Stop(ctxFor(t), Ref{ID: info.ID}, nil, StopOptions{})
}

// A process that exits while starting ends the wait for readiness.
func TestWaitReadyReturnsWhenTheProcessEnds(t *testing.T) {
	m, _ := newManager(t, Config{})
	info := mustStart(t, m, Spec{Command: []string{"sh", "-c", "sleep 0.2; exit 3"}, Ready: Readiness{Kind: ReadyLog, Pattern: "never"}})
	got := waitReady(t, m, info.ID)
	if got.State != Exited || got.Exit.Code != 3 || got.Exit.Reason != ReasonExited || !got.Ready.ReadyAt.IsZero() {
		t.Fatalf("state %v exit %+v ready %+v", got.State, got.Exit, got.Ready)
	}
	// Ready at once by default.
	now := mustStart(t, m, Spec{Command: []string{"sleep", "100"}})
	if now.State != Running || now.Ready.ReadyAt.IsZero() {
		t.Fatalf("default readiness: state %v ready at %v", now.State, now.Ready.ReadyAt)
	}
	m.Stop(testutil.Context(t), Ref{ID: now.ID}, nil, StopOptions{})
}

func TestReadinessValidation(t *testing.T) {
	for _, tc := range []struct {
		r    Readiness
		want string
	}{
		{Readiness{Kind: ReadyTCP, Addr: "10.0.0.1:80"}, "not loopback"},
		{Readiness{Kind: ReadyTCP, Addr: "70000"}, "host:port"},
		{Readiness{Kind: ReadyHTTP, URL: "http://example.com/"}, "not loopback"},
		{Readiness{Kind: ReadyHTTP, URL: "ftp://127.0.0.1/"}, "scheme"},
		{Readiness{Kind: ReadyLog, Pattern: "("}, "log pattern"},
		{Readiness{Kind: ReadyExec}, "exactly one"},
		{Readiness{Kind: ReadyTCP, Addr: "80", URL: "http://127.0.0.1/"}, "exactly one"},
		{Readiness{Kind: ReadyTCP, URL: "http://127.0.0.1/"}, "another"},
		{Readiness{StartupTimeout: dur(time.Second)}, "without a readiness check"},
		{Readiness{Kind: ReadyNotify, Interval: -1}, "negative"},
	} {
		s := Spec{Command: []string{"true"}, Ready: tc.r}
		err := s.Validate()
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v; want INVALID_ARGUMENT with %q", tc.r, err, tc.want)
		}
	}
}
