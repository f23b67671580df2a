//go:build linux

package integration

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/procd/procd/internal/testutil"
)

// cgroupDirsNamed lists the directories called name in procd's place of
// every cgroup hierarchy (the test's own cgroup, where a procd it starts
// makes its directory), cgroup2 and v1 alike.
func cgroupDirsNamed(name string) []string { return dirsNamedIn(ownCgroups(), name) }

// dirsNamedIn lists the directories called name in parents.
func dirsNamedIn(parents []string, name string) []string {
	var out []string
	for _, p := range parents {
		dir := filepath.Join(p, name)
		if _, err := os.Stat(dir); err == nil {
			out = append(out, dir)
		}
	}
	return out
}

// ownCgroups lists the test's cgroup directory in every hierarchy,
// cgroup2 and v1 alike (named hierarchies left out).
func ownCgroups() []string { return ownCgroupsOf(func(string) bool { return true }) }

// ownCgroupsOf is ownCgroups for the hierarchies whose controllers
// (/proc/self/cgroup's second field: "" for cgroup2) keep says.
func ownCgroupsOf(keep func(controllers string) bool) []string {
	b, _ := os.ReadFile("/proc/self/cgroup")
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || strings.HasPrefix(parts[1], "name=") || !keep(parts[1]) {
			continue
		}
		mount := filepath.Join("/sys/fs/cgroup", parts[1])
		if parts[1] == "" {
			mount = "/sys/fs/cgroup/unified"
			if _, err := os.Stat(mount); err != nil {
				mount = "/sys/fs/cgroup"
			}
		}
		out = append(out, filepath.Join(mount, parts[2]))
	}
	return out
}

// privateCgroups makes an empty cgroup below the test's own in cgroup2
// and in the v1 hierarchies procd uses (memory, pids, cpu), for procds the
// test starts there (daemon.join): their directories sit beside no other
// procd's, so no procd another test (or another user of the machine)
// starts meanwhile sweeps them. It returns the cgroups and their
// cgroup.procs files; once their processes are gone (the daemons stop,
// then their guardians) they are removed, with what is left below them.
func privateCgroups(t *testing.T) (parents, procs []string) {
	t.Helper()
	name := fmt.Sprintf("it-private-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
	procdUses := func(controllers string) bool {
		return controllers == "" || slices.ContainsFunc(strings.Split(controllers, ","), func(c string) bool {
			return c == "memory" || c == "pids" || c == "cpu"
		})
	}
	for _, own := range ownCgroupsOf(procdUses) {
		dir := filepath.Join(own, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Skipf("cannot make a private cgroup: %v", err)
		}
		t.Cleanup(func() {
			testutil.WaitFor(t, "the private cgroup's processes to exit", func() bool { return len(cgroupPids(dir)) == 0 })
			if err := rmdirTree(dir); err != nil {
				t.Errorf("remove the test's private cgroup: %v", err)
			}
		})
		parents = append(parents, dir)
		procs = append(procs, filepath.Join(dir, "cgroup.procs"))
	}
	return parents, procs
}

// rmdirTree removes an empty cgroup and those below it, the deepest first.
func rmdirTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := rmdirTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return os.Remove(dir)
}

// guardiansOf lists the pids of procd guardians whose arguments mention
// name (their cgroup directories).
func guardiansOf(name string) []string {
	var out []string
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := bytes.Split(b, []byte{0})
		if len(args) > 1 && string(args[1]) == "__procd_guardian" && bytes.Contains(b, []byte(name)) {
			out = append(out, p.Name())
		}
	}
	return out
}

// uniqueCgroupName is a cgroup directory name no other test uses.
func uniqueCgroupName() string {
	return fmt.Sprintf("procd-it-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
}

// Issue 15, must-show 3: a start that fails (an occupied --metrics-addr, an
// unreadable TLS key, a state directory that cannot hold log files) leaves
// no guardian process, no notify socket, no control socket and no cgroup
// directory behind. The first and last fail after the cgroups and the
// guardian exist; the TLS key is refused before anything is opened.
func TestFailedStartLeavesNothingBehind(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name    string
		args    func(dir string) []string
		message string
		started bool // the guardian and cgroups existed before the failure
	}{
		{"occupied metrics address", func(string) []string {
			return []string{"--metrics-addr", busy.Addr().String()}
		}, "--metrics-addr", true},
		{"unreadable TLS key", func(dir string) []string {
			certs(t, dir)
			return []string{"--listen", "127.0.0.1:0", "--tls-cert", filepath.Join(dir, "server.pem"),
				"--tls-key", dir, "--client-ca", filepath.Join(dir, "ca.pem"), "--control-client", "cn:procd test client"}
		}, "tls", false},
		{"unwritable state directory", func(dir string) []string {
			file := filepath.Join(dir, "not-a-dir")
			os.WriteFile(file, nil, 0o600)
			return []string{"--log-files", "--state-dir", filepath.Join(file, "state")}
		}, "--state-dir", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "pdf")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			name := uniqueCgroupName()
			socket := filepath.Join(dir, "procd.sock")
			args := append([]string{"--socket", socket, "--cgroup-name", name, "--log-level", "debug"}, tc.args(dir)...)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, filepath.Join(binDir, "procd"), args...).CombinedOutput()
			if err == nil {
				t.Fatalf("procd %v started:\n%s", args, out)
			}
			if !strings.Contains(strings.ToLower(string(out)), strings.ToLower(tc.message)) {
				t.Errorf("the failure does not name %q:\n%s", tc.message, out)
			}
			if tc.started && !strings.Contains(string(out), `"component":"guardian"`) && !strings.Contains(string(out), "no guardian") {
				t.Errorf("the guardian was neither started and closed nor reported missing:\n%s", out)
			}
			for _, f := range []string{socket, filepath.Join(dir, "notify.sock")} {
				if _, err := os.Lstat(f); err == nil {
					t.Errorf("%s is left behind", f)
				}
			}
			// procd waited for its guardian before exiting: nothing to poll.
			if g := guardiansOf(name); len(g) > 0 {
				t.Errorf("guardian processes left: %v", g)
			}
			if dirs := cgroupDirsNamed(name); len(dirs) > 0 {
				t.Errorf("cgroup directories left: %v\n%s", dirs, out)
			}
		})
	}
}

// Issue 15, must-show 3: after kill -9 of procd, its guardian kills the
// trees and then removes the daemon's cgroup directories in every
// hierarchy (cgroup2, and the v1 memory, pids and cpu ones its limits
// used), instead of leaving one set per socket to pile up.
func TestKilledDaemonsCgroupsAreRemoved(t *testing.T) {
	name := uniqueCgroupName()
	d := startDaemon(t, "--cgroup-name", name)
	needCgroups(t, d)
	plain := strings.TrimSpace(d.mustCtl("start", "-q", "--", "sh", "-c", "setsid sleep 1000 & sleep 1000"))
	limited := strings.TrimSpace(d.mustCtl("start", "-q", "--memory", "256M", "--pids", "64", "--cpu", "0.5", "--", "sleep", "1000"))
	var pids []int
	testutil.WaitFor(t, "both trees to run", func() bool {
		pids = append(treePids(t, d, plain), treePids(t, d, limited)...)
		return len(pids) == 4
	})
	before := cgroupDirsNamed(name)
	if len(before) == 0 {
		t.Fatalf("procd %q has no cgroup directory while its trees run", name)
	}
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.exited
	testutil.WaitFor(t, "the trees to be gone", func() bool {
		for _, p := range pids {
			if alive(p) {
				return false
			}
		}
		return true
	})
	testutil.WaitFor(t, "the guardian to remove every cgroup directory of the daemon", func() bool {
		return len(cgroupDirsNamed(name)) == 0 && len(guardiansOf(name)) == 0
	})
	t.Logf("removed: %v", before)
}

// A daemon restarted on the same socket right after a kill -9 waits for
// the dead one's guardian (which holds the socket lock until it has
// cleaned up) instead of racing it: its own cgroups, made under the same
// names, are not removed from under it.
func TestRestartAfterKillWaitsForTheGuardian(t *testing.T) {
	name := uniqueCgroupName()
	d := startDaemon(t, "--cgroup-name", name)
	needCgroups(t, d)
	d.mustCtl("start", "-q", "--memory", "256M", "--", "sleep", "1000")
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.exited
	d.start("--cgroup-name", name) // at once: the guardian may still be at work
	for i := range 3 {
		id := strings.TrimSpace(d.mustCtl("start", "-q", "--memory", "256M", "--", "sleep", "1000"))
		if cg, _ := d.statusJSON(id)["cgroup"].(string); cg == "" {
			t.Fatalf("start %d after the restart has no cgroup", i)
		} else if _, err := os.Stat(cg); err != nil {
			t.Fatalf("start %d: its cgroup %s is gone: %v", i, cg, err)
		}
	}
	d.mustCtl("stop", "--all")
}

// Issue 15: a procd killed together with its guardian (kill -9 of its
// process group, as an interrupted test run does) leaves its directories
// in every hierarchy, and no later daemon has its name. The next procd to
// start, on any socket, removes them; a live idle daemon's directories,
// as empty as the dead one's, stay. The three daemons run in a cgroup of
// the test's own (privateCgroups): a procd that another test on the
// machine starts between the kill and the next start would sweep the dead
// one's directories first.
func TestStartRemovesDeadDaemonsCgroups(t *testing.T) {
	parents, join := privateCgroups(t)
	if len(parents) < 2 {
		// Only cgroup2: the daemons would share a cgroup below the root,
		// where the no-internal-process rule leaves at most one of them
		// its controllers, and the dead one's limits need them.
		t.Skipf("no v1 hierarchy for procd's limits beside cgroup2 (%v): the dead daemon's limited tree cannot run beside the others", parents)
	}
	liveName, deadName := uniqueCgroupName()+"-live", uniqueCgroupName()+"-dead"
	live := launch(t, &daemon{join: join}, "--cgroup-name", liveName)
	needCgroups(t, live)
	live.mustCtl("run", "--", "true") // a tree ended: its cgroup is back in the pool, empty
	liveDirs := dirsNamedIn(parents, liveName)
	dead := launch(t, &daemon{join: join}, "--cgroup-name", deadName)
	id := strings.TrimSpace(dead.mustCtl("start", "-q", "--memory", "64M", "--pids", "16", "--cpu", "0.5", "--", "sleep", "1000"))
	var tree []int
	testutil.WaitFor(t, "the limited tree to run", func() bool { tree = treePids(t, dead, id); return len(tree) == 1 })
	deadDirs := dirsNamedIn(parents, deadName)
	if len(deadDirs) < 2 {
		t.Fatalf("procd %q has directories %v; want the cgroup2 one and v1 ones for its limits", deadName, deadDirs)
	}
	if err := syscall.Kill(-dead.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-dead.exited
	// The leader dies with the daemon (its parent-death signal); the
	// guardian, killed with it, removed nothing.
	testutil.WaitFor(t, "the tree and the guardian to be gone", func() bool {
		return len(aliveAmong(tree)) == 0 && len(guardiansOf(deadName)) == 0
	})
	testutil.WaitFor(t, "the dead daemon's cgroup2 directory to report empty", func() bool {
		for _, dir := range deadDirs {
			if b, err := os.ReadFile(filepath.Join(dir, "cgroup.events")); err == nil {
				return strings.Contains(string(b), "populated 0")
			}
		}
		return false
	})
	if left := dirsNamedIn(parents, deadName); len(left) != len(deadDirs) {
		t.Fatalf("directories %v of %v left before the next start: the test shows nothing", left, deadDirs)
	}
	next := launch(t, &daemon{join: join}) // another socket, another name
	if left := dirsNamedIn(parents, deadName); len(left) > 0 {
		t.Errorf("the dead daemon's directories %v are left after the next start:\n%s", left, next.logs)
	}
	if got := dirsNamedIn(parents, liveName); !slices.Equal(got, liveDirs) {
		t.Errorf("the live daemon's directories are %v after the next start, were %v:\n%s", got, liveDirs, next.logs)
	}
	var said string
	for _, line := range strings.Split(next.logs.String(), "\n") {
		if strings.Contains(line, "removed the cgroup directories of procds that are gone") && strings.Contains(line, deadName) {
			said = line
		}
	}
	if said == "" {
		t.Errorf("the next daemon does not log that it removed %s:\n%s", deadName, next.logs)
	}
	t.Log(said)
	live.mustCtl("run", "--", "true") // and the live one still works
	live.mustCtl("run", "--memory", "64M", "--", "true")
}
