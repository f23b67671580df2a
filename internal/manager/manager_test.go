//go:build linux

package manager

// Over 500 lines on purpose: the manager's lifecycle cases, which share their helpers and fixtures.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/output"
	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/testutil"
)

var rt *proc.Runtime

func TestMain(m *testing.M) {
	proc.RunHelper() // the exec shim for rlimits
	if os.Getenv(notifyHelperEnv) != "" {
		notifyHelper() // this binary, re-executed as a test process
		return
	}
	if mib := os.Getenv(allocHelperEnv); mib != "" {
		allocHelper(mib)
		return
	}
	var err error
	if rt, err = proc.NewRuntime(nil); err != nil {
		panic(err)
	}
	exe, _ := os.Executable()
	rt.SetExecShim(exe)
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

func newManager(t *testing.T, cfg Config) (*Manager, *events.Bus) {
	t.Helper()
	bus := events.NewBus(4096, nil)
	m := New(cfg, rt, bus, zaptest.NewLogger(t))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Shutdown(ctx)
		bus.Close()
		testutil.AssertNoZombies(t)
	})
	return m, bus
}

func sh(script string) Spec {
	return Spec{Command: []string{"sh", "-c", script}, Name: "sh"}
}

func mustStart(t *testing.T, m *Manager, s Spec) Info {
	t.Helper()
	info, err := m.Start(s)
	if err != nil {
		t.Fatalf("start %q: %v", s.Command, err)
	}
	return info
}

func wait(t *testing.T, m *Manager, id string) Info {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	info, timedOut, err := m.Wait(ctx, Ref{ID: id}, 0)
	if err != nil || timedOut {
		t.Fatalf("wait %s: %v (timed out %v)", id, err, timedOut)
	}
	return info
}

// readAll reads what rd has until io.EOF.
func readAll(t *testing.T, rd *output.Reader) map[StreamID][]byte {
	t.Helper()
	out := map[StreamID][]byte{}
	for {
		ch, err := rd.Next(testutil.Context(t), 64<<10)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[StreamID(ch.Stream)] = append(out[StreamID(ch.Stream)], ch.Data...)
	}
}

func stdout(t *testing.T, m *Manager, id string) string {
	t.Helper()
	rd, err := m.OpenOutput(Ref{ID: id}, OutputOptions{Stream: Stdout})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	return string(readAll(t, rd)[Stdout])
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z'
}

func pids(t *testing.T, s string) []int {
	t.Helper()
	var out []int
	for _, f := range strings.Fields(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("not a pid: %q in %q", f, s)
		}
		out = append(out, n)
	}
	return out
}

func TestExitCodeOutputAndEventOrder(t *testing.T) {
	m, bus := newManager(t, Config{})
	sub, _ := bus.Subscribe(events.Filter{}, nil)
	defer sub.Close()
	info := mustStart(t, m, sh("echo hi; echo err >&2; exit 3"))
	if info.State != Running || info.Name != "sh" || !strings.HasPrefix(info.ID, "p-") || info.PGID != info.PID {
		t.Fatalf("start info %+v", info)
	}
	fin := wait(t, m, info.ID)
	if fin.State != Exited || fin.Exit == nil || fin.Exit.Code != 3 || fin.Exit.Signal != 0 || fin.Exit.Reason != ReasonExited {
		t.Fatalf("final %+v exit %+v", fin, fin.Exit)
	}
	if fin.Stdout.Total != 3 || fin.Stderr.Total != 4 {
		t.Fatalf("stream totals %+v %+v", fin.Stdout, fin.Stderr)
	}
	if got := stdout(t, m, info.ID); got != "hi\n" {
		t.Fatalf("stdout %q", got)
	}
	var types []events.Type
	for len(types) < 2 {
		evs, err := sub.Next(testutil.Context(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			types = append(types, e.Type)
			if e.Type == events.Exited {
				if got := e.Data.(Info); got.Stdout.Total != 3 || got.Exit.Code != 3 {
					t.Fatalf("exited event carries %+v", got)
				}
			}
		}
	}
	if types[0] != events.Started || types[1] != events.Exited {
		t.Fatalf("event order %v", types)
	}
}

func TestSignalIsKeptApartFromExitCode(t *testing.T) {
	m, _ := newManager(t, Config{})
	fin := wait(t, m, mustStart(t, m, sh("kill -SEGV $$")).ID)
	if fin.Exit.Signal != syscall.SIGSEGV || fin.Exit.Code != -1 || fin.Exit.Reason != ReasonExited {
		t.Fatalf("exit %+v", fin.Exit)
	}
}

// Must-show 3 and pitfall 1: children that ignore SIGTERM do not survive a
// stop, and the record says stopped only once they are gone.
func TestStopKillsTreeIgnoringTerm(t *testing.T) {
	m, bus := newManager(t, Config{})
	info := mustStart(t, m, sh(`trap "" TERM; sleep 300 & echo $!; sleep 300 & echo $!; wait`))
	var kids []int
	testutil.WaitFor(t, "both children's pids", func() bool {
		kids = pids(t, stdout(t, m, info.ID))
		return len(kids) >= 2
	})
	if len(kids) != 2 {
		t.Fatalf("children not started: %v", kids)
	}
	sub, _ := bus.Subscribe(events.Filter{ProcessIDs: []string{info.ID}}, nil)
	defer sub.Close()
	grace := 200 * time.Millisecond
	t0 := time.Now()
	res, err := m.Stop(context.Background(), Ref{ID: info.ID}, nil, StopOptions{Grace: &grace})
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("stop: %v %+v", err, res)
	}
	if d := time.Since(t0); d < grace {
		t.Fatalf("stop returned after %v, before the grace period", d)
	}
	for _, k := range append(kids, info.PID) {
		if alive(k) {
			t.Fatalf("process %d of the tree is alive after Stop returned", k)
		}
	}
	fin := res[0].Info
	if fin.State != Exited || fin.Exit.Reason != ReasonStopped || fin.Exit.Signal != syscall.SIGKILL {
		t.Fatalf("final %+v", fin.Exit)
	}
	var types []events.Type
	for len(types) < 3 {
		evs, _ := sub.Next(testutil.Context(t), nil)
		for _, e := range evs {
			types = append(types, e.Type)
		}
	}
	if types[0] != events.SignalSent || types[1] != events.Escalated || types[2] != events.Exited {
		t.Fatalf("events %v", types)
	}
	// Idempotent: stopping the finished process returns its record.
	res, err = m.Stop(context.Background(), Ref{ID: info.ID}, nil, StopOptions{})
	if err != nil || res[0].Err != nil || res[0].Info.Exit.Reason != ReasonStopped {
		t.Fatalf("second stop: %v %+v", err, res)
	}
}

func TestStopGracefulProcessExitsWithoutEscalation(t *testing.T) {
	m, _ := newManager(t, Config{})
	info := mustStart(t, m, sh(`trap 'exit 7' TERM; echo trapped; while :; do sleep 0.05; done`))
	testutil.WaitFor(t, "the shell to install its trap", func() bool { return strings.Contains(stdout(t, m, info.ID), "trapped") })
	res, _ := m.Stop(context.Background(), Ref{ID: info.ID}, nil, StopOptions{})
	if e := res[0].Info.Exit; e.Code != 7 || e.Reason != ReasonStopped {
		t.Fatalf("exit %+v", e)
	}
}

// The leader exits on its own; its children are leftovers and are ended.
func TestLeftoversAreEndedWhenLeaderExits(t *testing.T) {
	m, _ := newManager(t, Config{Grace: 100 * time.Millisecond})
	info := mustStart(t, m, sh(`trap "" TERM; sleep 300 >/dev/null & echo $!`))
	fin := wait(t, m, info.ID)
	kid := pids(t, stdout(t, m, info.ID))[0]
	if alive(kid) {
		t.Fatalf("leftover %d alive after the final record", kid)
	}
	if fin.Exit.Reason != ReasonExited || fin.Exit.Code != 0 || fin.Exit.Leftovers != 1 {
		t.Fatalf("exit %+v", fin.Exit)
	}
}

func TestKillModeLeaderLeavesDescendants(t *testing.T) {
	m, _ := newManager(t, Config{})
	_, kid := leaderLeavesDescendant(t, m)
	syscall.Kill(kid, syscall.SIGKILL)
}

// leaderLeavesDescendant runs a kill mode leader tree whose leader exits
// at once, checks that its descendant lives on, and returns the final
// record and the descendant's pid (killed at the end of the test).
func leaderLeavesDescendant(t *testing.T, m *Manager) (Info, int) {
	t.Helper()
	s := sh(`sleep 300 >/dev/null 2>&1 & echo $!`)
	s.KillMode = KillLeader
	info := mustStart(t, m, s)
	fin := wait(t, m, info.ID)
	kid := pids(t, stdout(t, m, info.ID))[0]
	t.Cleanup(func() { syscall.Kill(kid, syscall.SIGKILL) })
	if !alive(kid) || fin.Exit.Leftovers != 0 {
		t.Fatalf("descendant %d alive=%v, leftovers %d", kid, alive(kid), fin.Exit.Leftovers)
	}
	return fin, kid
}

// Pitfall 4: an escapee holding stdout delays the record by the pipe wait
// at most, and the output written before is kept.
func TestEscapeeHoldingPipeDelaysExitBoundedly(t *testing.T) {
	m, _ := newManager(t, Config{PipeWait: 300 * time.Millisecond})
	// The escapee records its pid only after setsid, and the leader waits
	// for that, so the escapee is out of the group when the leader exits.
	f := t.TempDir() + "/pid"
	info := mustStart(t, m, sh(`setsid sh -c 'echo $$ >`+f+`; exec sleep 300' & while [ ! -s `+f+` ]; do sleep 0.01; done; cat `+f+`; printf tail`))
	t0 := time.Now()
	fin := wait(t, m, info.ID)
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("final record took %v", d)
	}
	out := stdout(t, m, info.ID)
	lines := strings.Split(out, "\n")
	esc, _ := strconv.Atoi(lines[0])
	syscall.Kill(esc, syscall.SIGKILL)
	if lines[len(lines)-1] != "tail" || !fin.Exit.OutputTruncated || fin.Exit.Code != 0 || fin.Exit.Leftovers != 0 {
		t.Fatalf("out %q exit %+v", out, fin.Exit)
	}
}

func TestWaitOnFinishedReturnsAtOnceAndTimeoutReturnsLiveRecord(t *testing.T) {
	m, _ := newManager(t, Config{})
	done := mustStart(t, m, sh("exit 0"))
	wait(t, m, done.ID)
	t0 := time.Now()
	info, timedOut, err := m.Wait(context.Background(), Ref{PID: done.PID}, time.Second)
	if err != nil || timedOut || info.ID != done.ID || time.Since(t0) > 100*time.Millisecond {
		t.Fatalf("wait on finished: %+v %v %v after %v", info, timedOut, err, time.Since(t0))
	}
	run := mustStart(t, m, sh("sleep 300"))
	info, timedOut, err = m.Wait(context.Background(), Ref{ID: run.ID}, 50*time.Millisecond)
	if err != nil || !timedOut || info.State != Running {
		t.Fatalf("wait with timeout: %+v %v %v", info, timedOut, err)
	}
}

// Must-show 5: start failures are precise and leave nothing behind.
func TestStartFailures(t *testing.T) {
	m, _ := newManager(t, Config{})
	other := mustStart(t, m, sh("sleep 300"))
	for _, tc := range []struct {
		spec Spec
		kind error
		msg  string
	}{
		{Spec{Command: []string{"no-such-binary"}}, errdefs.ErrNotFound, `executable "no-such-binary" not found in PATH (`},
		{Spec{Command: []string{"true"}, Dir: "/no/such/dir"}, errdefs.ErrNotFound, `working directory "/no/such/dir" does not exist`},
		{Spec{Command: []string{"./x"}, Env: map[string]string{}}, errdefs.ErrNotFound, `executable "./x" does not exist`},
		{Spec{Command: []string{"/etc/passwd"}}, errdefs.ErrPermissionDenied, `not executable`},
		{Spec{}, errdefs.ErrInvalidArgument, "empty command"},
		{Spec{Command: []string{"true"}, Env: map[string]string{"A=B": "1"}}, errdefs.ErrInvalidArgument, `"A=B"`},
		{Spec{Command: []string{"true"}, Grace: -time.Second}, errdefs.ErrInvalidArgument, "negative"},
		{Spec{Command: []string{"true"}, Env: map[string]string{"PATH": "/nowhere"}}, errdefs.ErrNotFound, "PATH (/nowhere)"},
	} {
		_, err := m.Start(tc.spec)
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("start %+v: %v; want %v containing %q", tc.spec, err, tc.kind, tc.msg)
		}
	}
	if l := m.List(ListFilter{}); len(l) != 1 || l[0].ID != other.ID || l[0].State != Running {
		t.Fatalf("table after failures: %+v", l)
	}
	if st := m.Stats(); st.StartFailuresTotal != 8 || st.Running != 1 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := m.Get(Ref{ID: "p-999"}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := m.Get(Ref{PID: 999999}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("unknown pid: %v", err)
	}
}

func TestEnvironmentAndCwd(t *testing.T) {
	m, _ := newManager(t, Config{})
	dir := t.TempDir()
	s := sh(`pwd; echo "$FOO"; echo "${HOME:-unset}"`)
	s.Dir, s.Env, s.ClearEnv = dir, map[string]string{"FOO": "bar"}, true
	info := mustStart(t, m, s)
	wait(t, m, info.ID)
	if got := stdout(t, m, info.ID); got != dir+"\nbar\nunset\n" {
		t.Fatalf("output %q", got)
	}
	// stdin is /dev/null: read gets EOF at once.
	info = mustStart(t, m, sh(`read x; echo "rc=$?"`))
	wait(t, m, info.ID)
	if got := stdout(t, m, info.ID); got != "rc=1\n" {
		t.Fatalf("stdin not /dev/null: %q", got)
	}
}

// Must-show 6: huge output without newlines and 1 MiB lines neither block
// nor lose their last bytes.
func TestHugeOutputKeepsTailAndCountsDrops(t *testing.T) {
	m, bus := newManager(t, Config{RingSize: 1 << 20})
	sub, _ := bus.Subscribe(events.Filter{Types: []events.Type{events.OutputDropped}}, nil)
	defer sub.Close()
	big := mustStart(t, m, sh(`head -c 100000000 /dev/zero | tr '\0' x; printf END`))
	lines := mustStart(t, m, sh(`i=0; while [ $i -lt 5 ]; do head -c 1048576 /dev/zero | tr '\0' a; echo; i=$((i+1)); done; printf LAST`))
	fin := wait(t, m, big.ID)
	if fin.Stdout.Total != 100_000_003 || fin.Stdout.Dropped != 100_000_003-(1<<20) {
		t.Fatalf("stdout info %+v", fin.Stdout)
	}
	if out := stdout(t, m, big.ID); len(out) != 1<<20 || !strings.HasSuffix(out, "xxEND") {
		t.Fatalf("ring holds %d bytes ending %q", len(out), out[max(0, len(out)-8):])
	}
	fin = wait(t, m, lines.ID)
	if want := int64(5*(1<<20+1) + 4); fin.Stdout.Total != want {
		t.Fatalf("lines total %d want %d", fin.Stdout.Total, want)
	}
	if out := stdout(t, m, lines.ID); !strings.HasSuffix(out, "a\nLAST") {
		t.Fatalf("lines tail %q", out[len(out)-8:])
	}
	evs, _ := sub.Next(testutil.Context(t), make([]events.Event, 0, 8))
	if len(evs) == 0 || evs[0].Stream != "stdout" {
		t.Fatalf("no output_dropped event: %+v", evs)
	}
	if st := m.Stats(); st.BytesDroppedTotal < 99_000_000 {
		t.Fatalf("dropped total %d", st.BytesDroppedTotal)
	}
}

func TestSignals(t *testing.T) {
	m, _ := newManager(t, Config{})
	a := mustStart(t, m, Spec{Command: []string{"sleep", "300"}, Name: "a", Labels: map[string]string{"k": "v"}})
	b := mustStart(t, m, Spec{Command: []string{"sleep", "300"}, Name: "b"})
	fin := mustStart(t, m, sh("exit 0"))
	wait(t, m, fin.ID)

	res, err := m.Signal(Ref{}, &Selector{All: true}, syscall.SIGTERM, false)
	if err != nil || len(res) != 3 {
		t.Fatalf("bulk: %v %+v", err, res)
	}
	byID := map[string]SignalResult{}
	for _, r := range res {
		byID[r.ID] = r
	}
	if !byID[a.ID].Delivered || !byID[b.ID].Delivered || byID[fin.ID].Delivered || byID[fin.ID].Err != "already exited" {
		t.Fatalf("results %+v", res)
	}
	if e := wait(t, m, a.ID).Exit; e.Signal != syscall.SIGTERM || e.Reason != ReasonStopped {
		t.Fatalf("a exit %+v", e)
	}
	if _, err := m.Signal(Ref{}, &Selector{}, syscall.SIGTERM, false); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("empty selector: %v", err)
	}
	// A handled non-terminating signal does not make the exit a stop.
	c := mustStart(t, m, sh(`trap 'echo got; exit 0' USR1; echo ready; while :; do sleep 0.05; done`))
	testutil.WaitFor(t, "the shell to install its trap", func() bool { return strings.Contains(stdout(t, m, c.ID), "ready") })
	if res, _ := m.Signal(Ref{ID: c.ID}, nil, syscall.SIGUSR1, true); !res[0].Delivered {
		t.Fatalf("usr1 %+v", res)
	}
	if e := wait(t, m, c.ID).Exit; e.Reason != ReasonExited || e.Code != 0 {
		t.Fatalf("c exit %+v", e)
	}
}

func TestRetentionRemoveAndCleanup(t *testing.T) {
	m, bus := newManager(t, Config{RetainFinished: 2})
	sub, _ := bus.Subscribe(events.Filter{Types: []events.Type{events.Removed}}, nil)
	defer sub.Close()
	var ids []string
	for range 4 {
		info := mustStart(t, m, sh("exit 0"))
		wait(t, m, info.ID)
		ids = append(ids, info.ID)
	}
	l := m.List(ListFilter{States: []State{Exited}})
	if len(l) != 2 || l[0].ID != ids[2] || l[1].ID != ids[3] {
		t.Fatalf("retained %+v", l)
	}
	evs, _ := sub.Next(testutil.Context(t), make([]events.Event, 0, 8))
	if len(evs) == 0 || evs[0].ProcessID != ids[0] {
		t.Fatalf("removed events %+v", evs)
	}
	run := mustStart(t, m, sh("sleep 300"))
	if _, err := m.Remove(Ref{ID: run.ID}); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("remove running: %v", err)
	}
	if _, err := m.Remove(Ref{ID: ids[3]}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(Ref{ID: ids[3]}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("get removed: %v", err)
	}
	removed, _ := m.CleanupFinished(nil)
	if len(removed) != 1 || removed[0] != ids[2] {
		t.Fatalf("cleanup removed %v", removed)
	}
	if l := m.List(ListFilter{}); len(l) != 1 || l[0].ID != run.ID {
		t.Fatalf("table %+v", l)
	}
}

func TestRetentionByAge(t *testing.T) {
	m, _ := newManager(t, Config{RetainAge: 100 * time.Millisecond})
	info := mustStart(t, m, sh("exit 0"))
	wait(t, m, info.ID)
	testutil.WaitFor(t, "the record to be dropped after its retention age", func() bool {
		_, err := m.Get(Ref{ID: info.ID})
		return errors.Is(err, errdefs.ErrNotFound)
	})
}

func TestProcessLimit(t *testing.T) {
	m, _ := newManager(t, Config{MaxProcesses: 1})
	mustStart(t, m, sh("sleep 300"))
	if _, err := m.Start(sh("true")); !errors.Is(err, errdefs.ErrResourceExhausted) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("over the limit: %v", err)
	}
}

func TestShutdownStopsEverythingAndRefusesStarts(t *testing.T) {
	m, _ := newManager(t, Config{Grace: 100 * time.Millisecond})
	a := mustStart(t, m, sh(`trap "" TERM; sleep 300`))
	b := mustStart(t, m, sh("sleep 300"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.Shutdown(ctx)
	for _, id := range []string{a.ID, b.ID} {
		info, _ := m.Get(Ref{ID: id})
		if info.State != Exited || info.Exit.Reason != ReasonShutdown {
			t.Fatalf("%s after shutdown: %+v", id, info.Exit)
		}
	}
	if _, err := m.Start(sh("true")); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("start after shutdown: %v", err)
	}
}

func TestUpdateActivity(t *testing.T) {
	m, _ := newManager(t, Config{})
	info := mustStart(t, m, sh("sleep 300"))
	before := info.LastActivity
	time.Sleep(2 * time.Millisecond)
	got, err := m.UpdateActivity(Ref{PID: info.PID})
	if err != nil || !got.LastActivity.After(before) {
		t.Fatalf("activity %v -> %v (%v)", before, got.LastActivity, err)
	}
}

// Pitfall 1 (process-compose #520): the leader dies of SIGTERM at once but
// its child ignores SIGTERM; the escalation must still SIGKILL the group
// after the grace period instead of being cancelled by the leader's exit.
func TestPitfall1EscalationOutlivesTheLeader(t *testing.T) {
	m, _ := newManager(t, Config{})
	info := mustStart(t, m, sh(`sh -c 'trap "" TERM; echo $$; exec sleep 300' & wait`))
	var kid []int
	testutil.WaitFor(t, "the child's pid", func() bool {
		kid = pids(t, stdout(t, m, info.ID))
		return len(kid) > 0
	})
	if len(kid) != 1 {
		t.Fatalf("child pid not printed: %v", kid)
	}
	grace := 200 * time.Millisecond
	res, err := m.Stop(context.Background(), Ref{ID: info.ID}, nil, StopOptions{Grace: &grace})
	if err != nil || res[0].Err != nil {
		t.Fatalf("stop: %v %+v", err, res)
	}
	if alive(kid[0]) {
		t.Fatalf("child %d ignoring SIGTERM survived the stop", kid[0])
	}
	if e := res[0].Info.Exit; e.Signal != syscall.SIGTERM || e.Reason != ReasonStopped {
		t.Fatalf("leader exit %+v, want killed by SIGTERM, reason STOPPED", e)
	}
}

// Pitfall 12: bulk operations on a table with finished (and removed)
// processes are well defined.
func TestPitfall12BulkStopWithFinishedAndRemovedProcesses(t *testing.T) {
	m, _ := newManager(t, Config{})
	done := mustStart(t, m, sh("exit 0"))
	wait(t, m, done.ID)
	gone := mustStart(t, m, sh("exit 0"))
	wait(t, m, gone.ID)
	if _, err := m.Remove(Ref{ID: gone.ID}); err != nil {
		t.Fatal(err)
	}
	run := mustStart(t, m, sh("sleep 300"))
	res, err := m.Stop(context.Background(), Ref{}, &Selector{All: true}, StopOptions{})
	if err != nil || len(res) != 2 {
		t.Fatalf("stop all: %v %+v", err, res)
	}
	for _, r := range res {
		if r.Err != nil || r.Info.State != Exited {
			t.Fatalf("result %+v", r)
		}
	}
	if got, _ := m.Get(Ref{ID: run.ID}); got.Exit.Reason != ReasonStopped {
		t.Fatalf("running one: %+v", got.Exit)
	}
	if got, _ := m.Get(Ref{ID: done.ID}); got.Exit.Reason != ReasonExited {
		t.Fatalf("finished one: %+v", got.Exit)
	}

	// By ids: an id whose record was removed (retention does that to any
	// finished process) gets its own result; the others are still acted on.
	live := mustStart(t, m, sh("sleep 300"))
	sres, err := m.Signal(Ref{}, &Selector{IDs: []string{gone.ID, live.ID}}, syscall.SIGCONT, false)
	if err != nil || len(sres) != 2 || sres[0].ID != live.ID || !sres[0].Delivered ||
		sres[1].ID != gone.ID || sres[1].Delivered || !strings.Contains(sres[1].Err, "was removed") {
		t.Fatalf("signal by ids: %v %+v", err, sres)
	}
	res, err = m.Stop(context.Background(), Ref{}, &Selector{IDs: []string{gone.ID, live.ID}}, StopOptions{})
	if err != nil || len(res) != 2 || res[0].Info.ID != live.ID || res[0].Err != nil || res[0].Info.Exit == nil ||
		res[1].Info.ID != gone.ID || !res[1].Unknown || res[1].Err == nil {
		t.Fatalf("stop by ids: %v %+v", err, res)
	}
	if got, _ := m.Get(Ref{ID: live.ID}); got.Exit == nil || got.Exit.Reason != ReasonStopped {
		t.Fatalf("stopped by id: %+v", got.Exit)
	}
	removed, err := m.CleanupFinished(&Selector{IDs: []string{gone.ID, live.ID}})
	if err != nil || !slices.Equal(removed, []string{live.ID}) {
		t.Fatalf("cleanup by ids: %v %v", err, removed)
	}
}

// Output that overflows the ring at once must not be evented before the
// process is registered: started comes first and every event has the pid.
func TestOutputDroppedNeverPrecedesStarted(t *testing.T) {
	m, bus := newManager(t, Config{RingSize: 4096})
	for range 20 {
		sub, _ := bus.Subscribe(events.Filter{}, nil)
		info := mustStart(t, m, sh(`head -c 100000 /dev/zero`))
		wait(t, m, info.ID)
		var evs []events.Event
		for len(evs) == 0 || evs[len(evs)-1].Type != events.Exited {
			got, err := sub.Next(testutil.Context(t), make([]events.Event, 0, 16))
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, got...)
		}
		sub.Close()
		if evs[0].Type != events.Started {
			t.Fatalf("first event %v, want started", evs[0].Type)
		}
		for _, e := range evs {
			if e.PID != info.PID {
				t.Fatalf("%v event with pid %d, want %d", e.Type, e.PID, info.PID)
			}
		}
	}
}

// CleanupFinished lists what it removed oldest first, whatever the order
// the processes finished in.
func TestCleanupFinishedOldestFirst(t *testing.T) {
	m, _ := newManager(t, Config{})
	var ids []string
	for _, d := range []string{"0.3", "0.2", "0.1", "0"} {
		ids = append(ids, mustStart(t, m, sh("sleep "+d)).ID)
	}
	for _, id := range ids {
		wait(t, m, id)
	}
	removed, err := m.CleanupFinished(nil)
	if err != nil || !slices.Equal(removed, ids) {
		t.Fatalf("cleanup removed %v (%v); want %v", removed, err, ids)
	}
}
