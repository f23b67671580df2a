//go:build linux

package manager

import (
	"context"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/procd/procd/internal/cgroup"
	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/testutil"
)

// pooledManager is a cgroup manager whose trees without limits take
// recycled cgroups, as the daemon's default is.
func pooledManager(t *testing.T, cfg Config) (*Manager, *cgroup.Subtree) {
	t.Helper()
	cfg.PooledCgroups = true
	m, _, sub := cgroupManager(t, cfg)
	return m, sub
}

// procsOf lists the processes in a cgroup directory.
func procsOf(t *testing.T, dir string) []int {
	t.Helper()
	b, err := os.ReadFile(dir + "/cgroup.procs")
	if err != nil {
		t.Fatalf("read %s/cgroup.procs: %v", dir, err)
	}
	return pids(t, string(b))
}

// Issue 18, must-show 2: a recycled cgroup never takes a new tree while it
// holds a process of an earlier one, and the tree that takes it carries
// none of its predecessor's CPU time.
func TestPooledCgroupNeverHoldsAnEarlierTree(t *testing.T) {
	m, _ := pooledManager(t, Config{Grace: 200 * time.Millisecond})

	// A tree whose descendant outlives its leader (kill mode leader): its
	// cgroup stays populated, so it must never be handed out again.
	held, kid := leaderLeavesDescendant(t, m)
	if got := procsOf(t, held.Cgroup); !slices.Equal(got, []int{kid}) {
		t.Fatalf("cgroup %s holds %v, want the descendant %d", held.Cgroup, got, kid)
	}

	// A tree that burns CPU and ends: its cgroup goes back to the pool.
	burner := wait(t, m, mustStart(t, m, sh(`i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done`)).ID)
	burnt := burner.Exit.Tree.CPU
	if burnt < 20*time.Millisecond {
		t.Fatalf("the burner's tree used %v of CPU; the test needs a visible amount", burnt)
	}

	// The next tree takes the burner's cgroup (the pool hands out the last
	// one given back first) and must count only its own CPU time.
	next := mustStart(t, m, sh(`exec sleep 1000`))
	if next.Cgroup != burner.Cgroup {
		t.Fatalf("the next tree got cgroup %s, not the recycled %s: the recycled path was not taken", next.Cgroup, burner.Cgroup)
	}
	if got := procsOf(t, next.Cgroup); !slices.Equal(got, []int{next.PID}) {
		t.Fatalf("recycled cgroup %s holds %v, want only the new leader %d", next.Cgroup, got, next.PID)
	}
	if u, _ := m.Get(Ref{ID: next.ID}); u.Usage.CPU >= burnt/2 {
		t.Fatalf("the new tree's CPU is %v; its predecessor burnt %v in the same cgroup", u.Usage.CPU, burnt)
	}

	// Many trees at once: none lands in the populated cgroup, and each
	// cgroup holds its own leader and nothing else.
	var infos []Info
	for range 8 {
		infos = append(infos, mustStart(t, m, sh(`exec sleep 1000`)))
	}
	seen := map[string]bool{next.Cgroup: true}
	for _, in := range infos {
		if in.Cgroup == held.Cgroup {
			t.Fatalf("tree %s was put in %s, which still holds pid %d of an earlier tree", in.ID, in.Cgroup, kid)
		}
		if seen[in.Cgroup] {
			t.Fatalf("two live trees share cgroup %s", in.Cgroup)
		}
		seen[in.Cgroup] = true
		if got := procsOf(t, in.Cgroup); !slices.Equal(got, []int{in.PID}) {
			t.Fatalf("cgroup %s of %s holds %v, want only its leader %d", in.Cgroup, in.ID, got, in.PID)
		}
	}
	if _, err := m.Stop(testutil.Context(t), Ref{}, &Selector{All: true}, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	// Once its last process is gone, the populated cgroup is removed, not
	// recycled.
	syscall.Kill(kid, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for _, err := os.Stat(held.Cgroup); err == nil; _, err = os.Stat(held.Cgroup) {
		if time.Now().After(deadline) {
			t.Fatalf("cgroup %s still there 10 s after its last process died", held.Cgroup)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The pool itself refuses a cgroup that still holds a process, whoever put
// it there: Release does not take it back, and Take never hands it out.
func TestPoolRefusesAPopulatedCgroup(t *testing.T) {
	_, sub := pooledManager(t, Config{})
	g, err := sub.Take()
	if err != nil {
		t.Fatal(err)
	}
	f, err := g.Open()
	if err != nil {
		t.Fatal(err)
	}
	p, err := rt.Start(&proc.Attr{Path: "/bin/sleep", Args: []string{"sleep", "1000"}, Cgroup: f}, nil, nil)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	rt.Watch(p, func() { close(exited) })
	defer func() {
		p.Signal(syscall.SIGKILL)
		<-exited
		p.Reap()
		p.Release()
		g.WaitEmpty(5 * time.Second)
		g.Remove()
	}()
	if _, recycled := sub.Release(g); recycled {
		t.Fatal("the pool took back a cgroup holding a live process")
	}
	for range 4 {
		other, err := sub.Take()
		if err != nil {
			t.Fatal(err)
		}
		if other.Path() == g.Path() {
			t.Fatalf("the pool handed out %s while pid %d is in it", g.Path(), p.Pid())
		}
		defer other.Remove()
	}
}

// Issue 18, must-show 2: a stop still kills setsid escapees when the tree
// runs in a recycled cgroup.
func TestPooledCgroupStopKillsSetsidEscapees(t *testing.T) {
	m, _ := pooledManager(t, Config{Grace: 200 * time.Millisecond})
	first := wait(t, m, mustStart(t, m, sh("true")).ID)
	f := t.TempDir() + "/pid"
	info := mustStart(t, m, sh(`setsid sh -c 'trap "" TERM; echo $$ > `+f+`; exec sleep 1000' & while [ ! -s `+f+` ]; do sleep 0.01; done; cat `+f+`; sleep 1000`))
	if info.Cgroup != first.Cgroup {
		t.Fatalf("the tree got cgroup %s, not the recycled %s", info.Cgroup, first.Cgroup)
	}
	var esc []int
	for deadline := time.Now().Add(5 * time.Second); len(esc) == 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		esc = pids(t, stdout(t, m, info.ID))
	}
	if len(esc) != 1 {
		t.Fatalf("escapee pid not printed")
	}
	if sid, _ := unix.Getsid(esc[0]); sid == info.PID {
		t.Fatalf("the escapee did not leave the session")
	}
	res, err := m.Stop(context.Background(), Ref{ID: info.ID}, nil, StopOptions{})
	if err != nil || res[0].Err != nil {
		t.Fatalf("stop: %v %+v", err, res)
	}
	if alive(esc[0]) {
		t.Fatalf("setsid escapee %d survived the stop", esc[0])
	}
	if !strings.Contains(res[0].Info.Exit.Reason.String(), "STOPPED") {
		t.Fatalf("exit %+v", res[0].Info.Exit)
	}
	// The escapee needed SIGKILL (cgroup.kill), so the cgroup is not
	// recycled but removed (TestAKilledCgroupIsNotRecycled): gone or empty.
	// It may go between a look and a read, so a missing file counts as gone.
	b, err := os.ReadFile(info.Cgroup + "/cgroup.procs")
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("read %s/cgroup.procs: %v", info.Cgroup, err)
	}
	if got := pids(t, string(b)); len(got) != 0 {
		t.Fatalf("cgroup %s holds %v after the stop", info.Cgroup, got)
	}
}

// Limits, and a daemon that wants exact peaks, get fresh cgroups with
// their memory accounting: the pool is for trees that need containment
// only.
func TestPooledCgroupsOnlyWithoutLimits(t *testing.T) {
	m, sub := pooledManager(t, Config{})
	if sub.Controllers()[cgroup.Pids] == "" {
		t.Skip("no pids controller")
	}
	s := sh("exec sleep 1000")
	s.Limits.PidsMax = 10
	limited := mustStart(t, m, s)
	plain := mustStart(t, m, sh("exec sleep 1000"))
	if strings.HasPrefix(limitedName(limited.Cgroup), "pool-") || !strings.HasPrefix(limitedName(plain.Cgroup), "pool-") {
		t.Fatalf("limited tree in %s, plain tree in %s; want a fresh one and a pooled one", limited.Cgroup, plain.Cgroup)
	}
	m.Stop(testutil.Context(t), Ref{}, &Selector{All: true}, StopOptions{})
}

func limitedName(dir string) string { return dir[strings.LastIndexByte(dir, '/')+1:] }

// A pooled cgroup's held files are read afresh each time, and a read after
// its removal fails rather than reading whatever file reused the
// descriptor numbers.
func TestPooledCgroupHeldFilesAfterRemoval(t *testing.T) {
	_, sub := pooledManager(t, Config{})
	g, err := sub.Take()
	if err != nil {
		t.Fatal(err)
	}
	if populated, err := g.PopulatedErr(); err != nil || populated {
		t.Fatalf("a new pooled cgroup: populated %v, %v", populated, err)
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	var reuse []*os.File
	for range 8 { // take the freed descriptor numbers
		f, err := os.Open("/proc/self/status")
		if err != nil {
			t.Fatal(err)
		}
		reuse = append(reuse, f)
	}
	defer func() {
		for _, f := range reuse {
			f.Close()
		}
	}()
	if _, err := g.PopulatedErr(); err == nil {
		t.Fatal("cgroup.events of a removed cgroup read without an error")
	}
	if _, ok := g.CPU(); ok {
		t.Fatal("cpu.stat of a removed cgroup read")
	}
	if f, err := g.Open(); err == nil {
		f.Close()
		t.Fatal("a removed cgroup's directory opened for a clone")
	}
}

// A signal to a tree whose cgroup was given back never reaches the tree
// that took the cgroup next: a client's signal (or an escalation's kill)
// racing with the old tree's exit would otherwise kill a stranger.
func TestSignalAfterReleaseSparesTheNextTree(t *testing.T) {
	m, _ := pooledManager(t, Config{Grace: 200 * time.Millisecond})
	old := wait(t, m, mustStart(t, m, sh(`exit 0`)).ID)
	next := mustStart(t, m, sh(`exec sleep 1000`))
	if next.Cgroup != old.Cgroup {
		t.Fatalf("the next tree got cgroup %s, not the recycled %s: the test needs the recycled path", next.Cgroup, old.Cgroup)
	}
	r, err := m.lookup(Ref{ID: old.ID})
	if err != nil {
		t.Fatal(err)
	}
	// What a signal in flight when the old tree finished would do.
	if _, err := m.signalTree(r, syscall.SIGKILL, false); !isDone(err) {
		t.Errorf("SIGKILL to the finished tree's cgroup: %v, want ErrProcessDone", err)
	}
	if _, err := m.signalTree(r, syscall.SIGTERM, false); !isDone(err) {
		t.Errorf("SIGTERM to the finished tree's cgroup: %v, want ErrProcessDone", err)
	}
	if err := unix.Kill(next.PID, 0); err != nil {
		t.Fatalf("the next tree's leader %d is gone: %v", next.PID, err)
	}
	if in, _ := m.Get(Ref{ID: next.ID}); in.Exit != nil {
		t.Fatalf("the next tree ended: %+v", in.Exit)
	}
}

// A cgroup that cgroup.kill was written to is not recycled: on this
// kernel a child cloned into it (CLONE_INTO_CGROUP) is killed at birth
// ever after. After a stop that ends in SIGKILL, the next trees live.
func TestAKilledCgroupIsNotRecycled(t *testing.T) {
	m, _ := pooledManager(t, Config{Grace: 100 * time.Millisecond})
	victim := mustStart(t, m, sh(`exec sleep 1000`))
	if _, err := m.Stop(testutil.Context(t), Ref{ID: victim.ID}, nil, StopOptions{Grace: new(time.Duration)}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		in := wait(t, m, mustStart(t, m, sh(`exit 7`)).ID)
		if in.Exit.Code != 7 {
			t.Fatalf("tree %d after a SIGKILL stop ended %+v, want exit 7 (cgroup %s; the killed one was %s)", i, in.Exit, in.Cgroup, victim.Cgroup)
		}
		if in.Cgroup == victim.Cgroup {
			t.Fatalf("tree %d got the killed tree's cgroup %s", i, in.Cgroup)
		}
	}
}
