//go:build linux

package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Group is one process tree's cgroup (and its v1 companions for limits).
type Group struct {
	name   string
	v2     string            // absolute directory
	v2Rel  string            // relative to the cgroup2 mount
	v1     map[string]string // controller → absolute directory
	v1Home map[string]string // controller → the daemon's own tasks file
	v2Mem  bool              // memory figures come from v2

	pooled  bool          // from the pool (Take): no limits, no v1 companions
	cpuBase time.Duration // a recycled group's usage_usec when its tree began
	held    *heldFiles    // a pooled group's files kept open (nil: opened per read)
	// killed: cgroup.kill was written. Such a cgroup is never recycled: on
	// this kernel (6.18) a child cloned into it with CLONE_INTO_CGROUP is
	// killed at birth ever after (its kill sequence is compared with the
	// parent's cgroup's), while one moved in is not.
	killed atomic.Bool
}

// Name is the cgroup's directory name.
func (g *Group) Name() string { return g.name }

// Path is the cgroup2 directory.
func (g *Group) Path() string { return g.v2 }

// Open opens the cgroup2 directory for clone3's CLONE_INTO_CGROUP, which
// places the child in the cgroup atomically: it cannot fork before it is
// contained.
func (g *Group) Open() (*os.File, error) {
	if fd := g.held.dupDir(); fd >= 0 {
		return os.NewFile(uintptr(fd), g.v2), nil
	}
	fd, err := unix.Open(g.v2, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: g.v2, Err: err}
	}
	return os.NewFile(uintptr(fd), g.v2), nil // blocking: kept off Go's poller
}

// V1Tasks lists the v1 tasks files a thread joins so that what it forks
// starts in this group's v1 cgroups (v1 membership is per thread), each
// with the tasks file of the daemon's own cgroup to return to.
func (g *Group) V1Tasks() []Tasks {
	var out []Tasks
	for c, dir := range g.v1 {
		t := Tasks{Join: filepath.Join(dir, "tasks"), Home: g.v1Home[c]}
		if !slices.Contains(out, t) { // co-mounted controllers share a directory
			out = append(out, t)
		}
	}
	return out
}

// Pids lists the processes in the cgroup (exited ones are not listed).
func (g *Group) Pids() ([]int, error) {
	b, err := readFile(filepath.Join(g.v2, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range bytes.Fields(b) {
		if n, err := strconv.Atoi(string(f)); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// Populated reports whether any live process is in the cgroup; one that
// cannot be read counts as populated.
func (g *Group) Populated() bool {
	p, err := g.PopulatedErr()
	return p || err != nil
}

// PopulatedErr reports whether any live process is in the cgroup, or why
// it cannot tell.
func (g *Group) PopulatedErr() (bool, error) {
	b, err := g.read(eventsFile)
	if err != nil {
		return false, err
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("populated ")); ok {
			return string(bytes.TrimSpace(v)) != "0", nil
		}
	}
	return false, fmt.Errorf("%s: no populated line", filepath.Join(g.v2, "cgroup.events"))
}

// WaitEmpty polls until the cgroup is empty or d passes.
func (g *Group) WaitEmpty(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for delay := time.Millisecond; ; delay = min(2*delay, 25*time.Millisecond) {
		if !g.Populated() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(delay)
	}
}

// Kill sends SIGKILL to every process in the cgroup at once with
// cgroup.kill (Linux 5.14+), or else by freezing the cgroup, killing each
// member and thawing it, so no member can fork away in between.
func (g *Group) Kill() error {
	g.killed.Store(true)
	err := os.WriteFile(filepath.Join(g.v2, "cgroup.kill"), []byte("1"), 0)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	freeze := filepath.Join(g.v2, "cgroup.freeze")
	if err := os.WriteFile(freeze, []byte("1"), 0); err != nil {
		return err
	}
	defer os.WriteFile(freeze, []byte("0"), 0)
	deadline := time.Now().Add(time.Second)
	for keyed(filepath.Join(g.v2, "cgroup.events"), "frozen") != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	pids, err := g.Pids()
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL) // frozen: none can exit and be replaced
	}
	return err
}

// KillDir kills every process in the cgroup2 directory dir, as Kill does
// (for procd's guardian, which knows its cgroups by path only).
func KillDir(dir string) error { return (&Group{v2: dir}).Kill() }

// PopulatedDir reports whether the cgroup2 directory dir holds a process
// (or cannot be read), for the guardian: an empty cgroup (one of the pool's)
// is no leftover tree.
func PopulatedDir(dir string) bool { return (&Group{v2: dir}).Populated() }

// Signal sends sig to every process in the cgroup, setsid escapees
// included. Each is held by a pidfd and checked to still be a member
// before the signal, so a pid reused between the listing and the signal is
// never hit. The process except (when > 0) is skipped: the caller
// signalled it already, through a pidfd it holds. It returns how many
// processes were signalled.
func (g *Group) Signal(sig syscall.Signal, except int) (int, error) {
	pids, err := g.Pids()
	n := 0
	for _, pid := range pids {
		if pid == except {
			continue
		}
		fd, ferr := unix.PidfdOpen(pid, 0)
		if ferr == unix.EMFILE || ferr == unix.ENFILE {
			err = ferr // not gone: out of reach
			continue
		}
		if ferr != nil {
			continue // gone already
		}
		if g.Member(pid) && unix.PidfdSendSignal(fd, sig, nil, 0) == nil {
			n++
		}
		unix.Close(fd)
	}
	return n, err
}

// Member reports whether pid is in this cgroup, from /proc/PID/cgroup.
func (g *Group) Member(pid int) bool {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rel, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return rel == g.v2Rel
		}
	}
	return false
}

// Usage reads the cgroup's figures: CPU from cpu.stat (always present in
// cgroup2), memory from the v2 memory controller or the v1 memory cgroup.
func (g *Group) Usage() Usage { return g.usage(true) }

// FinalUsage reads what a finished tree used: CPU, peak memory and OOM
// kills (not the current memory, which is zero by then: one read fewer on
// every exit).
func (g *Group) FinalUsage() Usage { return g.usage(false) }

// CPU is the CPU time the whole tree has used so far, from cpu.stat (one
// read: the watchdog's cpu source samples it); ok is false if unreadable.
func (g *Group) CPU() (time.Duration, bool) {
	raw, ok := g.rawCPU()
	return raw - g.cpuBase, ok
}

func (g *Group) usage(current bool) Usage {
	var u Usage
	u.CPU, _ = g.CPU()
	if g.pooled {
		// A recycled cgroup's peak and OOM count are its predecessors' too.
		if g.v2Mem && current {
			u.MemCurrent = readInt(filepath.Join(g.v2, "memory.current"))
		}
		return u
	}
	dir, cur, peak, oom, oomKey := g.v2, "memory.current", "memory.peak", "memory.events", "oom_kill"
	switch {
	case g.v2Mem:
	case g.v1[Memory] != "":
		dir, cur, peak, oom = g.v1[Memory], "memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.oom_control"
	default:
		return u
	}
	if current {
		u.MemCurrent = readInt(filepath.Join(dir, cur))
	}
	u.MemPeak = readInt(filepath.Join(dir, peak))
	u.OOMKills = keyed(filepath.Join(dir, oom), oomKey)
	return u
}

// Remove deletes the cgroup directories; the tree must be gone.
func (g *Group) Remove() error {
	g.held.close()
	var errs []error
	for _, dir := range g.v1 {
		errs = append(errs, removeDir(dir))
	}
	errs = append(errs, removeDir(g.v2))
	return errors.Join(errs...)
}

// keyed reads "key value" lines (cgroup.events, cpu.stat, memory.events)
// and returns key's value, or 0.
func keyed(path, key string) int64 {
	b, err := readFile(path)
	if err != nil {
		return 0
	}
	return keyedIn(b, key)
}

// keyedIn is keyed on a file's contents.
func keyedIn(b []byte, key string) int64 {
	n, _ := keyedOK(b, key)
	return n
}

// keyedOK is keyedIn, also saying whether key was there with a number.
func keyedOK(b []byte, key string) (int64, bool) {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(" "))
		if ok && string(k) == key {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

func readInt(path string) int64 {
	n, _ := strconv.ParseInt(readString(path), 10, 64)
	return n
}

// readFile reads a small cgroup file with plain system calls. os.ReadFile
// would register the descriptor with Go's poller (cgroup files are
// pollable) and unregister it again: two more system calls and an
// allocation on every read of a path procd takes on every exit.
func readFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	b := make([]byte, 0, 512)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := unix.Read(fd, b[len(b):cap(b)])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			return b, nil
		}
		b = b[:len(b)+n]
	}
}
