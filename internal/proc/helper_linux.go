package proc

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/procd/procd/internal/cgroup"
	"github.com/procd/procd/internal/procattr"
)

// procd's executable doubles as two small helpers, chosen by its first
// argument. Programs that embed a Runtime call RunHelper first thing in
// main (and tests in TestMain) so the helpers work there too.
const (
	helperExec     = "__procd_exec"     // apply rlimits, then exec the program
	helperGuardian = "__procd_guardian" // kill the trees when the daemon dies
)

// RunHelper runs the helper this process was started as, if any; it then
// never returns. Otherwise it returns at once.
func RunHelper() {
	if len(os.Args) < 2 {
		return
	}
	switch os.Args[1] {
	case helperExec:
		os.Exit(runExecShim(os.Args[2:]))
	case helperGuardian:
		os.Exit(runGuardian(os.Args[2:]))
	}
}

// SetExecShim names the executable that runs RunHelper (normally the
// daemon's own, os.Executable); it is needed for rlimits, which Go cannot
// set between fork and exec. Call it before starting processes.
func (rt *Runtime) SetExecShim(path string) { rt.shim = path }

// shimmed returns the program and argv to fork: the program itself, or the
// exec shim with the rlimits to apply before it (viaShim).
func (rt *Runtime) shimmed(a *Attr) (path string, argv []string, viaShim bool, err error) {
	if len(a.Rlimits) == 0 {
		return a.Path, a.Args, false, nil
	}
	if rt.shim == "" {
		return "", nil, false, errors.New("rlimits need the exec shim, and this runtime has none (SetExecShim)")
	}
	var spec []string
	for _, r := range a.Rlimits {
		spec = append(spec, fmt.Sprintf("%d=%d:%d", r.Resource, r.Soft, r.Hard))
	}
	args := append([]string{rt.shim, helperExec, strings.Join(spec, ","), a.Path}, a.Args...)
	return rt.shim, args, true, nil
}

// shimStatusFd is where the exec shim reports a failure before exec; the
// descriptor is close-on-exec, so a successful exec reads as EOF.
const shimStatusFd = 3

// runExecShim: args are "RES=SOFT:HARD,...", the program, then its argv.
// Failures are reported on shimStatusFd as "ERRNO message", for the
// daemon to fail the start with (the process's output is the wrong place).
func runExecShim(args []string) int {
	unix.CloseOnExec(shimStatusFd)
	fail := func(errno syscall.Errno, format string, a ...any) int {
		msg := fmt.Sprintf(format, a...)
		if _, err := fmt.Fprintf(os.NewFile(shimStatusFd, "status"), "%d %s", int(errno), msg); err != nil {
			fmt.Fprintln(os.Stderr, "procd exec shim:", msg) // started by hand
		}
		return 127
	}
	if len(args) < 3 {
		return fail(syscall.EINVAL, "exec shim: missing arguments")
	}
	for _, item := range strings.Split(args[0], ",") {
		var res int
		var soft, hard uint64
		if _, err := fmt.Sscanf(item, "%d=%d:%d", &res, &soft, &hard); err != nil {
			return fail(syscall.EINVAL, "exec shim: bad rlimit %q", item)
		}
		if err := unix.Setrlimit(res, &unix.Rlimit{Cur: soft, Max: hard}); err != nil {
			errno, _ := err.(syscall.Errno)
			return fail(errno, "rlimit %s=%s:%s: %v%s", procattr.RlimitName(res), limitString(soft), limitString(hard), err, rlimitHint(res, hard, errno))
		}
	}
	err := syscall.Exec(args[1], args[2:], os.Environ())
	errno, _ := err.(syscall.Errno)
	return fail(errno, "exec %s: %v", args[1], err)
}

func limitString(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// rlimitHint says why a limit the kernel refused is refused.
func rlimitHint(res int, hard uint64, errno syscall.Errno) string {
	switch {
	case res == unix.RLIMIT_NOFILE && (errno == syscall.EPERM || errno == syscall.EINVAL):
		return " (NOFILE cannot exceed fs.nr_open, " + readString("/proc/sys/fs/nr_open") + "; raising a hard limit needs CAP_SYS_RESOURCE)"
	case errno == syscall.EPERM:
		return " (raising a hard limit above procd's own needs CAP_SYS_RESOURCE)"
	case errno == syscall.EINVAL:
		return " (the soft limit must not exceed the hard limit)"
	}
	return ""
}

func readString(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

// parseShimStatus reads what the shim wrote on its status pipe.
func parseShimStatus(b []byte) *ShimError {
	code, msg, _ := strings.Cut(string(b), " ")
	n, _ := strconv.Atoi(code)
	op, _, _ := strings.Cut(msg, " ")
	return &ShimError{Op: op, Errno: syscall.Errno(n), Msg: msg}
}

// Guardian is a helper process that outlives the daemon by a moment: when
// the daemon dies (its end of the pipe closes, even on SIGKILL), the
// guardian kills every cgroup under the daemon's subtree, and the process
// groups the daemon told it about, so that no descendant — a setsid escapee
// included — survives a crashed daemon; then it removes the daemon's cgroup
// directories, which would otherwise pile up (one set per socket).
type Guardian struct {
	w   *os.File
	p   *os.Process
	mu  sync.Mutex // serialises sends: Track and Untrack come from any goroutine
	err error      // the first failed send; later ones are dropped
}

// StartGuardian starts exe (which must call RunHelper) as the guardian of
// the cgroup directories dirs (cgroup.Subtree.Dirs: the cgroup2 base
// first; none without cgroup containment). The files in hold (nil ones
// are skipped) are kept open by the guardian until it has finished: the
// daemon passes its socket lock, so a daemon started on the same socket
// after a crash waits for the cleanup instead of racing it, and its
// locked cgroup directories (cgroup.Subtree.LockFiles), so no other procd
// takes them for abandoned while the guardian lives.
func StartGuardian(exe string, dirs []string, hold []*os.File) (*Guardian, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		w.Close()
		return nil, err
	}
	defer devNull.Close()
	files := []*os.File{r, devNull, os.Stderr}
	for _, f := range hold {
		if f != nil {
			files = append(files, f)
		}
	}
	p, err := os.StartProcess(exe, append([]string{exe, helperGuardian}, dirs...), &os.ProcAttr{Files: files})
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("start guardian: %w", err)
	}
	return &Guardian{w: w, p: p}, nil
}

// Track tells the guardian about a process group to kill if the daemon
// dies (needed only without cgroups); Untrack forgets it, and must come
// before the leader is reaped, while its zombie still pins the number.
//
// SPEC §10, pitfall 10: never act on a stored pid without checking its
// start time. Track is called once the leader has been forked, so the
// current boot-time tick bounds the leader's start time from above; after
// the daemon dies, init reaps its zombie leaders and their pids may be
// reused, by processes that start later. The guardian kills a group only
// if no process has the leader's pid or the one that has it started by
// that bound. (Reading the start time from /proc instead would cost a
// file read per start.)
func (g *Guardian) Track(pgid int) {
	g.send("+" + strconv.Itoa(pgid) + ":" + strconv.FormatUint(bootTicks(), 10))
}

func (g *Guardian) Untrack(pgid int) { g.send("-" + strconv.Itoa(pgid)) }

func (g *Guardian) send(line string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil {
		_, g.err = g.w.WriteString(line + "\n")
	}
}

// Close ends the guardian after a clean shutdown: there is nothing left to
// kill by then.
func (g *Guardian) Close() error {
	g.w.Close()
	_, err := g.p.Wait()
	return err
}

func runGuardian(dirs []string) int {
	// Ctrl-C reaches the whole terminal process group: the guardian must
	// outlive the daemon's shutdown, so it only ever ends at end of input.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	groups := map[int]uint64{} // tracked group → bound on its leader's start time (0: unknown)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 2 {
			continue
		}
		num, start, _ := strings.Cut(line[1:], ":")
		pgid, err := strconv.Atoi(num)
		if err != nil || pgid <= 1 {
			continue
		}
		if line[0] == '+' {
			groups[pgid], _ = strconv.ParseUint(start, 10, 64)
		} else {
			delete(groups, pgid)
		}
	}
	// End of input: the daemon exited. After a clean shutdown nothing is
	// left; after a crash, kill what is.
	killed := 0
	if len(dirs) > 0 {
		entries, _ := os.ReadDir(dirs[0])
		for _, e := range entries {
			// The pool's empty cgroups are still there after a clean
			// shutdown's last tree; only a populated one is a leftover.
			dir := filepath.Join(dirs[0], e.Name())
			if e.IsDir() && cgroup.PopulatedDir(dir) && cgroup.KillDir(dir) == nil {
				killed++
			}
		}
	}
	for pgid, start := range groups {
		if !sameLeader(pgid, start) {
			fmt.Fprintf(os.Stderr, "procd guardian: pid %d is another process now; not killing its group\n", pgid)
			continue
		}
		if unix.Kill(-pgid, unix.SIGKILL) == nil {
			killed++
		}
	}
	if killed > 0 {
		fmt.Fprintf(os.Stderr, "procd guardian: the daemon exited; killed %d leftover process tree(s)\n", killed)
	}
	// The trees are dying: once their cgroups are empty, remove them and
	// the daemon's own directories. The wait is bounded (a task stuck in
	// uninterruptible sleep keeps its cgroup, which the next start sweeps).
	if err := cgroup.RemoveDirs(dirs, guardianRemoveWait); err != nil {
		fmt.Fprintf(os.Stderr, "procd guardian: cannot remove every cgroup directory of the daemon: %v\n", err)
	}
	return 0
}

// guardianRemoveWait bounds how long the guardian waits for killed trees'
// cgroups to empty before removing them.
const guardianRemoveWait = 10 * time.Second

// sameLeader reports whether process group pgid can still be the one the
// daemon tracked, whose leader started by tick bound: that process is
// alive (or a zombie), or no process has the pid any more (then the group's
// members, if any, descend from the tracked group: a group number only
// comes back with a new process of that pid). A pid whose process started
// after the bound was reused once the daemon died and init reaped the
// leader. A reuse within the same 10 ms tick would need the pid counter to
// wrap around pid_max in that time, which forks cannot do.
func sameLeader(pgid int, bound uint64) bool {
	st, ok := readStat(pgid)
	return !ok || bound == 0 || st.start <= bound
}

// bootTicks is CLOCK_BOOTTIME in the clock ticks of /proc/PID/stat's start
// time (USER_HZ, 100 on every Linux architecture procd builds for).
func bootTicks() uint64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0 // unknown: the guardian then checks nothing
	}
	return uint64(ts.Nano()) / (1e9 / userHZ)
}

const userHZ = 100
