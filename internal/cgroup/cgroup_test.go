//go:build linux

package cgroup

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const hybridMountinfo = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

const hybridSelf = `9:name=systemd:/
8:pids:/
4:memory:/sandbox/abc
1:cpu:/
0::/
`

const pureMountinfo = `25 30 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
29 1 8:1 / /mnt/with\040space rw - ext4 /dev/sda1 rw
`

func TestDiscoverHybrid(t *testing.T) {
	l, err := Discover(strings.NewReader(hybridMountinfo), strings.NewReader(hybridSelf))
	if err != nil {
		t.Fatal(err)
	}
	if l.V2Mount != "/sys/fs/cgroup/unified" || l.V2Self != "/" || !l.Hybrid() {
		t.Fatalf("layout %+v", l)
	}
	if m := l.V1[Memory]; m.Mount != "/sys/fs/cgroup/memory" || m.Self != "/sandbox/abc" {
		t.Fatalf("memory %+v", m)
	}
	if p := l.V1[Pids]; p.Mount != "/sys/fs/cgroup/pids" || p.Self != "/" {
		t.Fatalf("pids %+v", p)
	}
}

func TestDiscoverPureV2(t *testing.T) {
	l, err := Discover(strings.NewReader(pureMountinfo), strings.NewReader("0::/system.slice/procd.service\n"))
	if err != nil {
		t.Fatal(err)
	}
	if l.V2Mount != "/sys/fs/cgroup" || l.V2Self != "/system.slice/procd.service" || l.Hybrid() {
		t.Fatalf("layout %+v", l)
	}
	if unescape(`/mnt/with\040space`) != "/mnt/with space" {
		t.Fatal("mountinfo escapes not undone")
	}
}

// fakeV2 builds a delegated pure-v2 cgroup (as systemd's Delegate=yes
// gives) in a temporary directory.
func fakeV2(t *testing.T) Layout {
	root := t.TempDir()
	self := filepath.Join(root, "system.slice", "procd.service")
	os.MkdirAll(self, 0o755)
	os.WriteFile(filepath.Join(self, "cgroup.controllers"), []byte("cpuset cpu io memory pids"), 0o644)
	return Layout{V2Mount: root, V2Self: "/system.slice/procd.service", V1: map[string]V1Hierarchy{}}
}

// The pure-v2 limit code, checked against a fake cgroupfs: controllers are
// enabled down the subtree and limits are written in their v2 form.
func TestPureV2LimitsOnAFakeTree(t *testing.T) {
	l := fakeV2(t)
	s, left, err := Setup(l, Options{Name: "procd"})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Groups) != 0 {
		t.Fatalf("leftovers in a fresh tree: %+v", left)
	}
	self := filepath.Join(l.V2Mount, l.V2Self)
	if got := readString(filepath.Join(self, "cgroup.subtree_control")); got != "+memory +pids +cpu" {
		t.Fatalf("subtree_control %q", got)
	}
	if got := readString(filepath.Join(s.Base(), "cgroup.subtree_control")); got != "+memory +pids +cpu" {
		t.Fatalf("procd subtree_control %q", got)
	}
	if c := s.Controllers(); c[Memory] != "v2" || c[Pids] != "v2" || c[CPU] != "v2" {
		t.Fatalf("controllers %v", c)
	}
	g, err := s.New("p-7", Limits{MemoryMax: 64 << 20, PidsMax: 20, CPUMax: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"memory.max": "67108864", "memory.swap.max": "0", "pids.max": "20", "cpu.max": "50000 100000",
	} {
		if got := readString(filepath.Join(g.Path(), file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if len(g.V1Tasks()) != 0 {
		t.Fatalf("v1 tasks in a pure v2 tree: %v", g.V1Tasks())
	}
	// Usage figures come from the v2 files.
	os.WriteFile(filepath.Join(g.Path(), "memory.current"), []byte("1048576\n"), 0o644)
	os.WriteFile(filepath.Join(g.Path(), "memory.peak"), []byte("2097152\n"), 0o644)
	os.WriteFile(filepath.Join(g.Path(), "memory.events"), []byte("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"), 0o644)
	os.WriteFile(filepath.Join(g.Path(), "cpu.stat"), []byte("usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n"), 0o644)
	if u := g.Usage(); u.MemCurrent != 1<<20 || u.MemPeak != 2<<20 || u.OOMKills != 1 || u.CPU.Microseconds() != 1500 {
		t.Fatalf("usage %+v", u)
	}
}

// Hybrid: limits go to v1 hierarchies, in their v1 form, and the spawner
// thread joins and leaves their tasks files.
func TestV1LimitsOnAFakeTree(t *testing.T) {
	root := t.TempDir()
	v2 := filepath.Join(root, "unified")
	os.MkdirAll(v2, 0o755)
	l := Layout{V2Mount: v2, V2Self: "/", V1: map[string]V1Hierarchy{}}
	for _, c := range []string{Memory, Pids, CPU} {
		dir := filepath.Join(root, c, "sandbox")
		os.MkdirAll(dir, 0o755)
		l.V1[c] = V1Hierarchy{Mount: filepath.Join(root, c), Self: "/sandbox"}
	}
	s, _, err := Setup(l, Options{Name: "procd"})
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Controllers(); c[Memory] != "v1" || c[Pids] != "v1" || c[CPU] != "v1" {
		t.Fatalf("controllers %v", c)
	}
	g, err := s.New("p-1", Limits{MemoryMax: 64 << 20, PidsMax: 20, CPUMax: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"memory/sandbox/procd/p-1/memory.limit_in_bytes":       "67108864",
		"memory/sandbox/procd/p-1/memory.memsw.limit_in_bytes": "67108864",
		"pids/sandbox/procd/p-1/pids.max":                      "20",
		"cpu/sandbox/procd/p-1/cpu.cfs_quota_us":               "150000",
		"cpu/sandbox/procd/p-1/cpu.cfs_period_us":              "100000",
	} {
		if got := readString(filepath.Join(root, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	tasks := g.V1Tasks()
	if len(tasks) != 3 {
		t.Fatalf("tasks %v", tasks)
	}
	for _, ts := range tasks {
		if !strings.HasSuffix(ts.Join, "/procd/p-1/tasks") || !strings.HasSuffix(ts.Home, "/sandbox/tasks") {
			t.Fatalf("tasks pair %+v", ts)
		}
	}
	// Without a limit, memory is still accounted through v1.
	g2, _ := s.New("p-2", Limits{})
	if len(g2.V1Tasks()) != 1 {
		t.Fatalf("unlimited group's v1 tasks %v, want the memory one", g2.V1Tasks())
	}
}

func TestLimitWithoutControllerIsRefused(t *testing.T) {
	root := t.TempDir()
	l := Layout{V2Mount: root, V2Self: "/", V1: map[string]V1Hierarchy{}}
	s, _, err := Setup(l, Options{Name: "procd"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.New("p-1", Limits{PidsMax: 5}); err == nil || !strings.Contains(err.Error(), "pids controller") {
		t.Fatalf("pids limit without a controller: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Base(), "p-1")); !os.IsNotExist(err) {
		t.Fatal("a refused group left its directory")
	}
}

func TestSetupFailsWithoutCgroup2(t *testing.T) {
	if _, _, err := Setup(Layout{}, Options{}); err == nil {
		t.Fatal("setup without cgroup2 succeeded")
	}
}

// The pool's rule on a fake pure-v2 tree: a cgroup goes back only when it
// is unpopulated, not frozen, uncharged and without limits, and a recycled
// one counts CPU from where its predecessor left it.
func TestPoolRecyclesOnlyEmptyUnchargedCgroups(t *testing.T) {
	l := fakeV2(t)
	s, _, err := Setup(l, Options{Name: "procd", PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	clean := map[string]string{
		"cgroup.events": "populated 0\nfrozen 0\n", "cpu.stat": "usage_usec 7000\n",
		"memory.current": "0", "pids.current": "0", "memory.max": "max", "memory.swap.max": "max",
		"pids.max": "max", "cpu.max": "max 100000",
	}
	for _, bad := range []struct{ file, val string }{
		{"cgroup.events", "populated 1\nfrozen 0\n"}, {"cgroup.events", "populated 0\nfrozen 1\n"},
		{"memory.current", "4096"}, {"pids.current", "1"}, {"memory.max", "1048576"}, {"pids.max", "5"},
		{"cpu.max", "50000 100000"}, {"cgroup.events", ""},
	} {
		g, err := s.Take()
		if err != nil {
			t.Fatal(err)
		}
		for f, v := range clean {
			os.WriteFile(filepath.Join(g.Path(), f), []byte(v), 0o644)
		}
		os.WriteFile(filepath.Join(g.Path(), bad.file), []byte(bad.val), 0o644)
		if _, recycled := s.Release(g); recycled {
			t.Errorf("recycled with %s = %q", bad.file, bad.val)
		}
	}
	g, _ := s.Take()
	for f, v := range clean {
		os.WriteFile(filepath.Join(g.Path(), f), []byte(v), 0o644)
	}
	if u, recycled := s.Release(g); !recycled || u.CPU != 7*time.Millisecond {
		t.Fatalf("a clean cgroup: recycled %v, usage %+v", recycled, u)
	}
	again, _ := s.Take()
	if again != g {
		t.Fatalf("Take gave %s, not the recycled %s", again.Path(), g.Path())
	}
	os.WriteFile(filepath.Join(g.Path(), "cpu.stat"), []byte("usage_usec 9000\n"), 0o644)
	if cpu, _ := again.CPU(); cpu != 2*time.Millisecond {
		t.Fatalf("the recycled cgroup's CPU is %v, want the 2ms since it was recycled", cpu)
	}
	if u := again.Usage(); u.MemPeak != 0 {
		t.Fatalf("a pooled cgroup reports a peak %d that is its predecessors' too", u.MemPeak)
	}
}

// A pooled name an earlier procd left taken (a tree its sweep could not
// end) is skipped, not a failed start.
func TestPoolSkipsTakenNames(t *testing.T) {
	l := fakeV2(t)
	s, _, err := Setup(l, Options{Name: "procd"})
	if err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(s.Base(), "pool-1"), 0o755)
	os.WriteFile(filepath.Join(s.Base(), "pool-1", "marker"), nil, 0o644)
	g, err := s.Take()
	if err != nil || g.Name() != "pool-2" {
		t.Fatalf("Take with pool-1 taken: %v, %v", g, err)
	}
}

// In a cgroup namespace the process's cgroup reads as "/" but is not the
// hierarchy's root: it has a cgroup.type file, and procd must move itself
// into a leaf before enabling controllers for its children, as anywhere
// below the root.
func TestNamespaceRootIsNotTheRealRoot(t *testing.T) {
	root := t.TempDir()
	if !atRealRoot(root, "/") {
		t.Fatal("a root without cgroup.type is not taken for the real root")
	}
	if atRealRoot(root, "/system.slice") {
		t.Fatal("a cgroup below the root is taken for the real root")
	}
	os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("memory pids"), 0o644)
	os.WriteFile(filepath.Join(root, "cgroup.type"), []byte("domain"), 0o644)
	if atRealRoot(root, "/") {
		t.Fatal("a namespace's root (it has cgroup.type) is taken for the real root")
	}
	// The kernel refuses controllers for the children of a cgroup that
	// holds processes: a directory in place of the file refuses writes.
	os.Mkdir(filepath.Join(root, "cgroup.subtree_control"), 0o755)
	if _, _, err := Setup(Layout{V2Mount: root, V2Self: "/", V1: map[string]V1Hierarchy{}}, Options{Name: "procd"}); err != nil {
		t.Fatal(err)
	}
	if got := readString(filepath.Join(root, "daemon", "cgroup.procs")); got != strconv.Itoa(os.Getpid()) {
		t.Fatalf("procd did not move itself into a leaf in a namespace's root: daemon/cgroup.procs = %q", got)
	}
}

// Two v1 controllers mounted together (mount -t cgroup -o memory,pids)
// share one directory per tree: limits on both go into it, made once,
// and a spawner thread joins its tasks file once.
func TestV1CoMountedControllers(t *testing.T) {
	root := t.TempDir()
	v2 := filepath.Join(root, "unified")
	shared := filepath.Join(root, "memory,pids")
	os.MkdirAll(v2, 0o755)
	os.MkdirAll(filepath.Join(shared, "sandbox"), 0o755)
	h := V1Hierarchy{Mount: shared, Self: "/sandbox"}
	s, _, err := Setup(Layout{V2Mount: v2, V2Self: "/", V1: map[string]V1Hierarchy{Memory: h, Pids: h}}, Options{Name: "procd"})
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Controllers(); c[Memory] != "v1" || c[Pids] != "v1" {
		t.Fatalf("controllers %v", c)
	}
	g, err := s.New("p-1", Limits{MemoryMax: 64 << 20, PidsMax: 20})
	if err != nil {
		t.Fatalf("limits on two co-mounted controllers: %v", err)
	}
	for file, want := range map[string]string{
		"sandbox/procd/p-1/memory.limit_in_bytes": "67108864",
		"sandbox/procd/p-1/pids.max":              "20",
	} {
		if got := readString(filepath.Join(shared, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if tasks := g.V1Tasks(); len(tasks) != 1 {
		t.Fatalf("tasks %v, want the shared directory's once", tasks)
	}
	// A tree with only a pids limit still gets the accounting memory
	// cgroup, which is the same directory.
	g2, err := s.New("p-2", Limits{PidsMax: 5})
	if err != nil {
		t.Fatal(err)
	}
	if tasks := g2.V1Tasks(); len(tasks) != 1 {
		t.Fatalf("tasks %v, want the shared directory's once", tasks)
	}
	if d := s.Dirs(); len(d) != 2 {
		t.Fatalf("dirs %v, want the v2 base and the one shared v1 directory", d)
	}
}
