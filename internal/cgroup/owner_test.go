//go:build linux

package cgroup

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"

	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"

	"github.com/procd/procd/internal/testutil"
)

var parentSeq atomic.Int32

// realParent makes an empty parent cgroup for the test in the cgroup2
// hierarchy and in the v1 ones procd uses, and returns the layout of a
// process that sits there: Setup on it makes its directories, and sweeps,
// under the test's parent only. It skips where procd could not use
// cgroups (not root, no cgroup2).
func realParent(t *testing.T) Layout {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make cgroups")
	}
	mi, err1 := os.Open("/proc/self/mountinfo")
	self, err2 := os.Open("/proc/self/cgroup")
	if err1 != nil || err2 != nil {
		t.Skip("no /proc")
	}
	defer mi.Close()
	defer self.Close()
	l, err := Discover(mi, self)
	if err != nil || l.V2Mount == "" {
		t.Skipf("no cgroup2 hierarchy: %v", err)
	}
	// Not "procd-…": the parent sits among real daemons' directories.
	name := fmt.Sprintf("sweeptest-%d-%d", os.Getpid(), parentSeq.Add(1))
	var made []string
	t.Cleanup(func() {
		for _, dir := range made {
			if err := removeTree(dir); err != nil {
				t.Errorf("remove the test's parent cgroup: %v", err)
			}
		}
	})
	mk := func(dir string) {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Skipf("cannot make a cgroup: %v", err)
		}
		made = append(made, dir)
	}
	l.V2Self = filepath.Join(l.V2Self, name)
	mk(l.v2Path())
	v1 := map[string]V1Hierarchy{}
	for c, h := range l.V1 {
		h.Self = filepath.Join(h.Self, name)
		mk(filepath.Join(h.Mount, h.Self))
		v1[c] = h
	}
	l.V1 = v1
	return l
}

// setupAt is Setup on the test's parent, removed at the end of the test.
func setupAt(t *testing.T, l Layout, name string) (*Subtree, Leftovers) {
	t.Helper()
	s, left, err := Setup(l, Options{Name: name, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Remove() })
	return s, left
}

func exist(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// joinAll puts a process in a group's cgroups, v2 and v1.
func joinAll(t *testing.T, g *Group, pid int) {
	t.Helper()
	for _, dir := range append([]string{g.v2}, slices.Collect(maps.Values(g.v1))...) {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			t.Fatal(err)
		}
	}
}

// Issue 15: a procd that died with its guardian (its locks are gone)
// leaves its directories, in every hierarchy, with pooled and limited
// cgroups below them; the next Setup beside them removes them, children
// first. A live idle procd's directories, as empty, stay; so do an older
// procd's (unmarked) and a dead one's that still holds a process, until
// it is empty.
func TestSetupRemovesTheDirectoriesOfDeadProcds(t *testing.T) {
	l := realParent(t)
	dead, _ := setupAt(t, l, "procd-dead")
	if err := dead.Prefill(3); err != nil {
		t.Fatal(err)
	}
	if _, err := dead.New("p-limited", Limits{MemoryMax: 64 << 20, PidsMax: 16, CPUMax: 0.5}); err != nil {
		t.Fatal(err)
	}
	live, _ := setupAt(t, l, "procd-live")
	if err := live.Prefill(2); err != nil {
		t.Fatal(err)
	}
	busy, _ := setupAt(t, l, "procd-busy")
	g, err := busy.New("p-left", Limits{MemoryMax: 64 << 20, PidsMax: 16, CPUMax: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	sleep := exec.Command("sleep", "1000")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	joinAll(t, g, sleep.Process.Pid)
	deadDirs := dead.Dirs()
	dead.unlock() // kill -9 of the daemon and its guardian
	busy.unlock()

	older := filepath.Join(l.v2Path(), "procd-older") // made by a procd that never locks
	os.Mkdir(older, 0o755)
	os.Mkdir(filepath.Join(older, "pool-1"), 0o755)
	t.Cleanup(func() { removeTree(older) })

	_, left := setupAt(t, l, "procd-next")
	a := left.Abandoned
	if got := exist(deadDirs); len(got) > 0 {
		t.Errorf("the dead procd's directories %v are left; swept %+v", got, a)
	}
	if !sameSet(a.Removed, deadDirs) {
		t.Errorf("removed %v, want the dead procd's %v", a.Removed, deadDirs)
	}
	if got := exist(live.Dirs()); len(got) != len(live.Dirs()) {
		t.Errorf("the live procd has %v of its directories %v", got, live.Dirs())
	}
	if g, err := live.Take(); err != nil || !slices.Contains(exist([]string{g.Path()}), g.Path()) {
		t.Errorf("the live procd's pool after the sweep: %v, %v", g, err)
	}
	if !slices.Equal(a.Unmarked, []string{older}) || len(exist([]string{older})) != 1 {
		t.Errorf("unmarked %v, want %s, left in place", a.Unmarked, older)
	}
	if !sameSet(a.Busy, busy.Dirs()) || len(exist(busy.Dirs())) != len(busy.Dirs()) {
		t.Errorf("busy %v; want %v, left in place", a.Busy, busy.Dirs())
	}

	sleep.Process.Kill()
	sleep.Wait()
	testutil.WaitFor(t, "the dead procd's last process to leave its cgroup", func() bool { return !populatedTree(busy.Base(), true) })
	_, left = setupAt(t, l, "procd-later")
	if got := exist(busy.Dirs()); len(got) > 0 || !sameSet(left.Abandoned.Removed, busy.Dirs()) {
		t.Errorf("once empty: %v left, removed %v", got, left.Abandoned.Removed)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// The guardian outlives the daemon holding copies of its locked
// directories: while any process holds one, the directories are owned,
// and a sweep leaves them.
func TestInheritedLocksKeepDirectoriesOwned(t *testing.T) {
	l := realParent(t)
	s, _ := setupAt(t, l, "procd-guarded")
	guardian := exec.Command("sleep", "1000")
	guardian.ExtraFiles = s.LockFiles()
	if err := guardian.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { guardian.Process.Kill(); guardian.Wait() })
	s.unlock() // the daemon died; its guardian lives on

	_, left := setupAt(t, l, "procd-a")
	if got := exist(s.Dirs()); len(got) != len(s.Dirs()) || len(left.Abandoned.Removed) > 0 {
		t.Fatalf("with the guardian alive: %v left of %v, removed %v", got, s.Dirs(), left.Abandoned.Removed)
	}
	guardian.Process.Signal(syscall.SIGKILL)
	guardian.Wait()
	_, left = setupAt(t, l, "procd-b")
	if got := exist(s.Dirs()); len(got) > 0 || !sameSet(left.Abandoned.Removed, s.Dirs()) {
		t.Fatalf("with the guardian gone: %v left, removed %v", got, left.Abandoned.Removed)
	}
}

// An owner that finds its directory removed by a sweeper while it waited
// for the lock makes it again, and holds the new one. (The test waits for
// the owner to have the old directory open: without that wait it passed
// most runs with the check that catches the removal disabled.)
func TestClaimOutlastsASweeper(t *testing.T) {
	l := realParent(t)
	dir := filepath.Join(l.v2Path(), "procd-raced")
	os.Mkdir(dir, 0o755)
	sweeper, err := openDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer sweeper.Close()
	if err := syscall.Flock(int(sweeper.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	type claimed struct {
		f   *os.File
		err error
	}
	done := make(chan claimed, 1)
	go func() {
		f, _, err := claim(dir)
		done <- claimed{f, err}
	}()
	// The owner must have the old directory open before it goes, or the
	// test shows only a mkdir.
	testutil.WaitFor(t, "the owner to open the directory the sweeper holds", func() bool { return openCount(dir) == 2 })
	if err := removeDir(dir); err != nil {
		t.Fatal(err)
	}
	sweeper.Close()
	c := <-done
	if c.err != nil {
		t.Fatal(c.err)
	}
	defer func() { c.f.Close(); removeDir(dir) }()
	if !sameDir(c.f, dir) {
		t.Fatal("the owner holds a directory that is gone")
	}
	if f, err := openDir(dir); err != nil || syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
		t.Fatalf("the remade directory is not locked by its owner (%v)", err)
	} else {
		f.Close()
	}
}

// openCount is how many of the process's descriptors have dir open.
func openCount(dir string) int {
	fds, _ := os.ReadDir("/proc/self/fd")
	n := 0
	for _, fd := range fds {
		if target, _ := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); target == dir {
			n++
		}
	}
	return n
}

// Another local user cannot open procd's directories (mode 0711) to hold
// their locks: a restarting procd would wait on it, then fail its start.
func TestOtherUsersCannotLockTheDirectories(t *testing.T) {
	l := realParent(t)
	s, _ := setupAt(t, l, "procd-private")
	for _, dir := range s.Dirs() {
		open := exec.Command("sh", "-c", `exec 3<"$1"`, "sh", dir)
		open.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		if out, err := open.CombinedOutput(); err == nil {
			t.Errorf("user 65534 opened %s (%s)", dir, out)
		}
	}
}

// Two procds starting at once beside a dead one: each dead directory is
// removed once, by one of them, and neither removes the other's, which
// may be made but not yet locked when the other sweeps.
func TestTwoProcdsStartingAtOnce(t *testing.T) {
	l := realParent(t)
	for i := range 10 {
		dead, _ := setupAt(t, l, fmt.Sprintf("procd-dead-%d", i))
		dead.Prefill(2)
		dead.unlock()
		type started struct {
			s    *Subtree
			left Leftovers
			err  error
		}
		done := make(chan started, 2)
		for _, name := range []string{"procd-a", "procd-b"} {
			go func() {
				s, left, err := Setup(l, Options{Name: name})
				done <- started{s, left, err}
			}()
		}
		var removed []string
		var subs []*Subtree
		for range 2 {
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			removed = append(removed, r.left.Abandoned.Removed...)
			subs = append(subs, r.s)
		}
		if !sameSet(removed, dead.Dirs()) || len(exist(dead.Dirs())) > 0 {
			t.Fatalf("round %d: removed %v between them; want each of %v once", i, removed, dead.Dirs())
		}
		for _, s := range subs {
			if got := exist(s.Dirs()); len(got) != len(s.Dirs()) {
				t.Fatalf("round %d: a starting procd has %v of %v", i, got, s.Dirs())
			}
			if err := s.Remove(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// A directory claim made but could not lock (here: no descriptor left to
// open it) is removed again rather than left unmarked for every other
// procd to log.
func TestAFailedClaimRemovesWhatItMade(t *testing.T) {
	l := realParent(t)
	dir := filepath.Join(l.v2Path(), "procd-claim")
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	// The lowest free descriptor becomes the limit: no open can succeed.
	free, err := unix.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(free)
	low := old
	low.Cur = uint64(free)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	f, _, err := claim(dir)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if err == nil {
		f.Close()
		t.Fatal("claim opened the directory with no descriptor left")
	}
	if _, serr := os.Stat(dir); !errors.Is(serr, os.ErrNotExist) {
		t.Fatalf("claim failed (%v) and left the directory it made: %v", err, serr)
	}
}
