//go:build linux

package manager

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/procd/procd/internal/cgroup"
	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/procattr"
	"github.com/procd/procd/internal/testutil"
	"github.com/procd/procd/internal/watchdog"
)

const allocHelperEnv = "PROCD_TEST_ALLOC_MIB"

// allocHelper allocates and touches N MiB, prints "allocated", then burns a
// little CPU and sleeps.
func allocHelper(mib string) {
	n, _ := strconv.Atoi(mib)
	var keep [][]byte
	for range n {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keep = append(keep, b)
	}
	os.Stdout.WriteString("allocated\n")
	deadline := time.Now().Add(100 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	time.Sleep(time.Hour)
	_ = keep
}

// cgroupManager is a manager that contains trees in cgroups under a
// subtree of its own; it skips where cgroup2 is not writable.
func cgroupManager(t *testing.T, cfg Config) (*Manager, *events.Bus, *cgroup.Subtree) {
	t.Helper()
	mi, err1 := os.Open("/proc/self/mountinfo")
	self, err2 := os.Open("/proc/self/cgroup")
	if err1 != nil || err2 != nil {
		t.Skip("no /proc")
	}
	defer mi.Close()
	defer self.Close()
	layout, err := cgroup.Discover(mi, self)
	if err != nil {
		t.Fatal(err)
	}
	sub, _, err := cgroup.Setup(layout, cgroup.Options{Name: fmt.Sprintf("procd-test-%d", os.Getpid())})
	if err != nil {
		t.Skipf("cgroup containment unavailable here: %v", err)
	}
	t.Cleanup(func() { sub.Remove() })
	cfg.Cgroups = sub
	m, bus := newManager(t, cfg)
	return m, bus, sub
}

// Issue 5, must-show 1: a setsid escapee ignoring SIGTERM dies with the stop.
func TestCgroupStopKillsSetsidEscapees(t *testing.T) {
	m, _, _ := cgroupManager(t, Config{Grace: 200 * time.Millisecond})
	f := t.TempDir() + "/pid"
	info := mustStart(t, m, sh(`setsid sh -c 'trap "" TERM; echo $$ > `+f+`; exec sleep 1000' & while [ ! -s `+f+` ]; do sleep 0.01; done; cat `+f+`; sleep 1000`))
	var esc []int
	testutil.WaitFor(t, "the escapee's pid", func() bool {
		esc = pids(t, stdout(t, m, info.ID))
		return len(esc) > 0
	})
	if len(esc) != 1 {
		t.Fatalf("escapee pid not printed")
	}
	if pgid, _ := unix.Getpgid(esc[0]); pgid == info.PGID {
		t.Fatalf("the escapee did not leave the process group")
	}
	res, err := m.Stop(context.Background(), Ref{ID: info.ID}, nil, StopOptions{})
	if err != nil || res[0].Err != nil {
		t.Fatalf("stop: %v %+v", err, res)
	}
	if alive(esc[0]) {
		t.Fatalf("setsid escapee %d survived the stop", esc[0])
	}
	waitRemoved(t, m, res[0].Info.Cgroup)
	if m.Containment() != "cgroup" {
		t.Fatalf("containment %q", m.Containment())
	}
}

// A leader that exits on its own takes its escapees with it too.
func TestCgroupLeftoversIncludeEscapees(t *testing.T) {
	m, _, _ := cgroupManager(t, Config{Grace: 200 * time.Millisecond})
	f := t.TempDir() + "/pid"
	info := mustStart(t, m, sh(`setsid sh -c 'echo $$ > `+f+`; exec sleep 1000' >/dev/null 2>&1 & while [ ! -s `+f+` ]; do sleep 0.01; done; cat `+f))
	fin := wait(t, m, info.ID)
	esc := pids(t, stdout(t, m, info.ID))[0]
	if alive(esc) || fin.Exit.Leftovers != 1 || fin.Exit.Reason != ReasonExited {
		t.Fatalf("escapee alive %v, exit %+v", alive(esc), fin.Exit)
	}
}

func allocSpec(mib int) Spec {
	exe, _ := os.Executable()
	return Spec{Command: []string{exe}, Name: "alloc", Env: map[string]string{allocHelperEnv: strconv.Itoa(mib)}}
}

// Issue 5, must-shows 2 and 5: OOM is flagged; usage is the tree's.
func TestCgroupMemoryLimitOOMAndUsage(t *testing.T) {
	m, bus, sub := cgroupManager(t, Config{})
	if sub.Controllers()[cgroup.Memory] == "" {
		t.Skip("no memory controller")
	}
	sub2, _ := bus.Subscribe(events.Filter{Types: []events.Type{events.OOMKilled}}, nil)
	defer sub2.Close()
	s := allocSpec(1024)
	s.Limits.MemoryMax = 64 << 20
	fin := wait(t, m, mustStart(t, m, s).ID)
	if !fin.Exit.OOMKilled || fin.Exit.Signal != syscall.SIGKILL {
		t.Fatalf("exit %+v, want an OOM kill", fin.Exit)
	}
	if evs, _ := sub2.Next(testutil.Context(t), nil); len(evs) != 1 {
		t.Fatalf("no oom_killed event")
	}

	big := mustStart(t, m, allocSpec(200))
	testutil.WaitFor(t, "the allocation to finish", func() bool { return strings.Contains(stdout(t, m, big.ID), "allocated") })
	got, _ := m.Get(Ref{ID: big.ID})
	if got.Usage.MemPeak < 200<<20 || got.Usage.MemCurrent < 200<<20 || got.Usage.CPU <= 0 {
		t.Fatalf("usage %+v, want at least 200 MiB and some CPU", got.Usage)
	}
	// A listing reads the cgroup only when asked (procctl top asks).
	if l := m.List(ListFilter{Usage: true}); len(l) != 2 || l[1].Usage.MemCurrent < 200<<20 || l[1].Usage.CPU <= 0 {
		t.Fatalf("List with Usage: %+v, want the live tree's usage", l)
	}
	if l := m.List(ListFilter{}); len(l) != 2 || l[1].Usage != (TreeUsage{}) {
		t.Fatalf("List without Usage read the cgroup: %+v", l[1].Usage)
	}
	res, _ := m.Stop(context.Background(), Ref{ID: big.ID}, nil, StopOptions{})
	if u := res[0].Info.Exit.Tree; u.MemPeak < 200<<20 || u.CPU <= 0 {
		t.Fatalf("final tree usage %+v", u)
	}
}

// Issue 5, must-show 2: a fork bomb stays under pids_max and leaves nothing.
func TestCgroupPidsLimitStopsForkBomb(t *testing.T) {
	m, _, sub := cgroupManager(t, Config{Grace: 100 * time.Millisecond})
	if sub.Controllers()[cgroup.Pids] == "" {
		t.Skip("no pids controller")
	}
	if _, err := os.Stat("/bin/bash"); err != nil {
		t.Skip("no bash")
	}
	s := Spec{Command: []string{"/bin/bash", "-c", `:(){ :|:& };:; sleep 1000`}, Limits: Limits{PidsMax: 20}}
	info := mustStart(t, m, s)
	peak := 0
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got, _ := m.Get(Ref{ID: info.ID})
		if got.State != Running {
			break
		}
		n, _ := cgroupProcs(got.Cgroup)
		peak = max(peak, n)
	}
	if peak > 20 {
		t.Fatalf("%d tasks in a cgroup limited to 20", peak)
	}
	res, _ := m.Stop(context.Background(), Ref{ID: info.ID}, nil, StopOptions{})
	waitRemoved(t, m, res[0].Info.Cgroup)
}

// waitRemoved checks that a finished process's cgroup directory goes
// away. Removal is asynchronous (see remover), so wait for the remover to
// drain rather than poll.
func waitRemoved(t *testing.T, m *Manager, dir string) {
	t.Helper()
	m.remover.wait()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("cgroup %s not removed: %v", dir, err)
	}
}

// A kill mode leader tree's descendants outlive the leader with cgroups
// too; their cgroup goes once they have.
func TestCgroupKillModeLeaderLeavesDescendants(t *testing.T) {
	m, _, _ := cgroupManager(t, Config{})
	fin, kid := leaderLeavesDescendant(t, m)
	if n, err := cgroupProcs(fin.Cgroup); err != nil || n != 1 {
		t.Fatalf("cgroup %s holds %d processes (%v); want the descendant", fin.Cgroup, n, err)
	}
	syscall.Kill(kid, syscall.SIGKILL)
	testutil.WaitFor(t, "cgroup "+fin.Cgroup+" to be removed after its last process died", func() bool {
		_, err := os.Stat(fin.Cgroup)
		return err != nil
	})
}

// With cgroups the cpu activity source counts the whole tree: a busy
// orphan (reparented to procd, outside the leader's /proc tree) keeps its
// idle leader alive; an idle tree is still hung on time.
func TestCgroupCPUSourceCountsOrphans(t *testing.T) {
	m, _, _ := cgroupManager(t, Config{Watchdog: WatchdogDefaults{CheckInterval: 50 * time.Millisecond}})
	busy := hangSpec([]string{"sh", "-c", `(setsid sh -c 'while :; do :; done' &); exec sleep 100`}, 400*time.Millisecond, 100*time.Millisecond)
	busy.Watchdog.Sources = watchdog.Sources(watchdog.CPU)
	orphaned := mustStart(t, m, busy)
	idle := hangSpec([]string{"sleep", "100"}, 400*time.Millisecond, 100*time.Millisecond)
	idle.Watchdog.Sources = watchdog.Sources(watchdog.CPU)
	sleeper := mustStart(t, m, idle)
	checkEnded(t, wait(t, m, sleeper.ID), ReasonHung, 500*time.Millisecond)
	time.Sleep(500 * time.Millisecond) // twice the hang time past the sleeper's end
	if got, _ := m.Get(Ref{ID: orphaned.ID}); got.State != Running {
		t.Fatalf("a tree whose orphan is busy was ended: %+v", got.Exit)
	}
	if _, err := m.Stop(testutil.Context(t), Ref{ID: orphaned.ID}, nil, StopOptions{}); err != nil {
		t.Fatal(err)
	}
}

func cgroupProcs(dir string) (int, error) {
	b, err := os.ReadFile(dir + "/cgroup.procs")
	return len(strings.Fields(string(b))), err
}

func TestRlimitsApplyToTheProcess(t *testing.T) {
	m, _ := newManager(t, Config{})
	s := sh(`ulimit -n; ulimit -c`)
	s.Limits.Rlimits = []procattr.Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: 77, Hard: 77}, {Resource: unix.RLIMIT_CORE, Soft: 0, Hard: 0}}
	info := mustStart(t, m, s)
	fin := wait(t, m, info.ID)
	if out := stdout(t, m, info.ID); out != "77\n0\n" || fin.Exit.Code != 0 {
		t.Fatalf("ulimit output %q, exit %+v", out, fin.Exit)
	}
}

// An rlimit the kernel refuses fails the start itself, naming the limit
// and why, and leaves no record behind (the process never ran). So does a
// missing executable behind the shim.
func TestRefusedRlimitFailsTheStart(t *testing.T) {
	m, _ := newManager(t, Config{})
	s := sh("true")
	s.Limits.Rlimits = []procattr.Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: unix.RLIM_INFINITY, Hard: unix.RLIM_INFINITY}}
	_, err := m.Start(s)
	if !errors.Is(err, errdefs.ErrInvalidArgument) && !errors.Is(err, errdefs.ErrPermissionDenied) {
		t.Fatalf("start with NOFILE=unlimited: %v; want INVALID_ARGUMENT or PERMISSION_DENIED", err)
	}
	if !strings.Contains(err.Error(), "rlimit NOFILE=unlimited:unlimited") || !strings.Contains(err.Error(), "nr_open") {
		t.Fatalf("message %q does not name the limit and the cause", err)
	}
	if list := m.List(ListFilter{}); len(list) != 0 {
		t.Fatalf("a refused start left records: %+v", list)
	}

	s = Spec{Command: []string{"/nonexistent/prog"}, Limits: Limits{Rlimits: []procattr.Rlimit{{Resource: unix.RLIMIT_CORE}}}}
	if _, err := m.Start(s); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("missing executable behind the shim: %v; want NOT_FOUND", err)
	}
}

func TestCgroupLimitsRefusedWithoutCgroups(t *testing.T) {
	m, _ := newManager(t, Config{})
	s := sh("true")
	s.Limits.MemoryMax = 64 << 20
	if _, err := m.Start(s); err == nil || !strings.Contains(err.Error(), "need cgroups") {
		t.Fatalf("memory limit without cgroups: %v", err)
	}
}

// A later Setup finds and kills what an earlier daemon left behind.
func TestCgroupSetupSweepsLeftovers(t *testing.T) {
	_, _, sub := cgroupManager(t, Config{})
	g, err := sub.New("p-left", cgroup.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := g.Open()
	p, err := rt.Start(&proc.Attr{Path: "/bin/sleep", Args: []string{"sleep", "1000"}, Cgroup: f}, nil, nil)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	rt.Watch(p, func() { close(exited) })
	mi, _ := os.Open("/proc/self/mountinfo")
	self, _ := os.Open("/proc/self/cgroup")
	layout, _ := cgroup.Discover(mi, self)
	mi.Close()
	self.Close()
	sub, left, err := cgroup.Setup(layout, cgroup.Options{Name: fmt.Sprintf("procd-test-%d", os.Getpid())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Remove() })
	if len(left.Pids) != 1 || left.Pids[0] != p.Pid() || len(left.Groups) != 1 || left.Groups[0] != "p-left" {
		t.Fatalf("leftovers %+v, want pid %d in p-left", left, p.Pid())
	}
	select {
	case <-exited:
	case <-testutil.Context(t).Done():
		t.Fatal("the leftover was not killed by the sweep")
	}
	if st, _ := p.Reap(); st.Signal != syscall.SIGKILL {
		t.Fatalf("leftover status %+v", st)
	}
	p.Release()
}

// A stop's signal reaches the leader through its pidfd and the rest of
// the cgroup through theirs: each process once, none twice. A real-time
// stop signal shows it (those queue instead of merging), counted by
// processes that block it and take each instance with sigtimedwait.
func TestCgroupStopSignalsEveryProcessOnce(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("needs python3 to count queued signals")
	}
	m, _, _ := cgroupManager(t, Config{Grace: time.Minute})
	// One write(2) per line: the two share the pipe.
	const count = `import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [40])
os.write(1, b"ready %s\n" % sys.argv[1].encode())
n = 0
while signal.sigtimedwait([40], 60 if n == 0 else 0.5) is not None:
    n += 1
os.write(1, b"got %d %s\n" % (n, sys.argv[1].encode()))
`
	s := sh(`"$PY" -c "$COUNT" child & exec "$PY" -c "$COUNT" leader`)
	s.Env = map[string]string{"PY": python, "COUNT": count}
	s.StopSignal = syscall.Signal(40)
	info := mustStart(t, m, s)
	for deadline := time.Now().Add(20 * time.Second); strings.Count(stdout(t, m, info.ID), "ready") < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the counters did not start: %q", stdout(t, m, info.ID))
		}
	}
	res, err := m.Stop(context.Background(), Ref{ID: info.ID}, nil, StopOptions{})
	if err != nil || res[0].Err != nil {
		t.Fatalf("stop: %v %+v", err, res)
	}
	out := stdout(t, m, info.ID)
	if !strings.Contains(out, "got 1 leader") || !strings.Contains(out, "got 1 child") {
		t.Fatalf("each process should have received the stop signal once; output:\n%s", out)
	}
}
