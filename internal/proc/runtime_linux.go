package proc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/procd/procd/internal/faults"
	"github.com/procd/procd/internal/procattr"
)

// active makes sure at most one Runtime is open per process: reaping orphans
// is process-wide, and two reapers with different views of which children
// are managed would steal each other's exit statuses.
var active atomic.Bool

// Runtime starts and watches child processes. See the package comment for
// the guarantees it gives.
type Runtime struct {
	log     *zap.Logger
	devNull int // O_RDWR /dev/null shared by every child's unused stdio

	spawnc chan func()   // work for the locked spawner threads
	spawnq chan struct{} // closed to stop the spawners

	poll   *poller
	reaper *reaper
	shim   string // executable that runs RunHelper, for rlimits ("" : none)
	faults *faults.Injector

	closeOnce sync.Once
}

// NewRuntime makes the calling process a child subreaper, starts the spawner
// thread, the poll loop and the orphan reaper. Close releases them.
func NewRuntime(log *zap.Logger) (*Runtime, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if !active.CompareAndSwap(false, true) {
		return nil, errors.New("proc: a Runtime is already open in this process")
	}
	fail := func(err error) (*Runtime, error) {
		active.Store(false)
		return nil, err
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fail(fmt.Errorf("proc: become child subreaper: %w", err))
	}
	devNull, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("proc: open /dev/null: %w", err))
	}
	p, err := newPoller()
	if err != nil {
		unix.Close(devNull)
		return fail(err)
	}
	rt := &Runtime{
		log:     log,
		devNull: devNull,
		spawnc:  make(chan func()),
		spawnq:  make(chan struct{}),
		poll:    p,
		reaper:  newReaper(log),
	}
	for range spawners() {
		ready := make(chan struct{})
		go rt.spawner(ready)
		<-ready
	}
	go p.loop()
	rt.reaper.start()
	return rt, nil
}

// spawners is how many threads fork: a few, so that concurrent starts
// overlap their vfork-to-exec waits (the parent thread is blocked until the
// child execs, most of a spawn's latency) and their cgroup moves, without
// pinning many idle threads.
func spawners() int { return min(max(runtime.GOMAXPROCS(0), 2), 4) }

// spawner runs forks on an OS thread that stays locked until Close.
// Pdeathsig is delivered when the thread that created the child exits, not
// the process (golang/go#27505), so the thread must outlive the children.
// When Close ends this goroutine the locked thread exits with it, which is
// exactly the backstop we want: any child still alive then is killed.
//
// The thread must not be the main thread: the kernel reparents orphans to
// the main thread, and the reaper reads only its children list, which
// should not hold every managed leader too. If this goroutine was locked
// to the main thread, it hands the job to a fresh goroutine (which cannot
// run on the main thread while this one holds it) and lets go.
func (rt *Runtime) spawner(ready chan struct{}) {
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		// While this goroutine holds the main thread, the new one cannot
		// run on it; keep holding it until the new one has locked its own.
		go rt.spawner(ready)
		<-ready
		runtime.UnlockOSThread()
		return
	}
	close(ready)
	for {
		select {
		case fn := <-rt.spawnc:
			fn()
		case <-rt.spawnq:
			return
		}
	}
}

// Start starts a process as the leader of a new process group (of a new
// session, with a terminal, for Attr.TTY), with stdin from /dev/null or a
// pipe and stdout/stderr into the given sinks (nil: /dev/null). Exec
// failures are returned synchronously as errnos (ENOENT, EACCES, ENOEXEC,
// EAGAIN…) for the caller to word. Output is read once Watch is called.
func (rt *Runtime) Start(a *Attr, stdout, stderr Sink) (*Process, error) {
	var io stdio
	defer io.closeChild() // after the fork the child has its copies
	var err error
	if a.TTY != nil {
		err = io.terminal(*a.TTY, stdout)
	} else {
		err = io.pipes(rt.devNull, a.StdinPipe, stdout, stderr)
		if err == nil && a.StdinFile != nil {
			io.files[0] = a.StdinFile.Fd()
		}
	}
	if err != nil {
		io.closeParent()
		return nil, err
	}
	p, err := rt.fork(a, &io)
	if err != nil {
		io.closeParent()
		return nil, err
	}
	if io.stdin >= 0 {
		p.stdin = os.NewFile(uintptr(io.stdin), "stdin") // non-blocking: Go's poller waits
	}
	for _, o := range io.outputs {
		pp := &pipe{fd: o.fd, sink: o.sink, done: make(chan struct{})}
		p.pipes = append(p.pipes, pp)
		if o.fd == io.tty {
			p.tty = pp
		}
	}
	return p, nil
}

// stdio is the descriptors of one spawn.
type stdio struct {
	files   [3]uintptr // the child's 0, 1 and 2
	child   []int      // the child's ends, closed in the daemon after the fork
	outputs []output   // the daemon's read ends
	stdin   int        // the daemon's end of stdin, or -1
	tty     int        // pty master for resizing, or -1 (also an output)
}

type output struct {
	fd   int
	sink Sink
}

func (s *stdio) closeChild() {
	for _, fd := range s.child {
		unix.Close(fd)
	}
	s.child = nil
}

// closeParent closes the daemon's ends after a failed spawn.
func (s *stdio) closeParent() {
	for _, o := range s.outputs {
		unix.Close(o.fd)
	}
	if s.stdin >= 0 {
		unix.Close(s.stdin)
	}
	s.outputs, s.stdin = nil, -1
}

// pipes sets up /dev/null or a pipe for stdin and a pipe per sink.
func (s *stdio) pipes(devNull int, stdinPipe bool, stdout, stderr Sink) error {
	s.stdin, s.tty = -1, -1
	s.files = [3]uintptr{uintptr(devNull), uintptr(devNull), uintptr(devNull)}
	if stdinPipe {
		var fds [2]int
		if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
			return fmt.Errorf("create stdin pipe: %w", err)
		}
		s.child = append(s.child, fds[0])
		s.stdin = fds[1]
		s.files[0] = uintptr(fds[0])
		if err := unix.SetNonblock(fds[1], true); err != nil {
			return fmt.Errorf("create stdin pipe: %w", err)
		}
	}
	for i, sink := range []Sink{stdout, stderr} {
		if sink == nil {
			continue
		}
		var fds [2]int
		if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
			return fmt.Errorf("create output pipe: %w", err)
		}
		s.child = append(s.child, fds[1])
		s.outputs = append(s.outputs, output{fds[0], sink})
		s.files[1+i] = uintptr(fds[1])
		if err := unix.SetNonblock(fds[0], true); err != nil {
			return fmt.Errorf("create output pipe: %w", err)
		}
	}
	return nil
}

// terminal opens a pseudo-terminal: the child gets the replica as stdin,
// stdout and stderr; the daemon reads the controller into stdout and
// writes stdin to it.
func (s *stdio) terminal(size procattr.WindowSize, stdout Sink) error {
	s.stdin, s.tty = -1, -1
	ptmx, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx: %w", err)
	}
	s.outputs = append(s.outputs, output{ptmx, stdout})
	if err := unix.IoctlSetPointerInt(ptmx, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(ptmx, unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("pty number: %w", err)
	}
	if err := unix.IoctlSetWinsize(ptmx, unix.TIOCSWINSZ, &unix.Winsize{Row: size.Rows, Col: size.Cols}); err != nil {
		return fmt.Errorf("pty size: %w", err)
	}
	replica, err := unix.Open("/dev/pts/"+strconv.Itoa(n), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open pty replica: %w", err)
	}
	s.child = append(s.child, replica)
	s.files = [3]uintptr{uintptr(replica), uintptr(replica), uintptr(replica)}
	if err := unix.SetNonblock(ptmx, true); err != nil {
		return fmt.Errorf("pty: %w", err)
	}
	if s.stdin, err = unix.Dup(ptmx); err != nil { // shares the non-blocking flag
		s.stdin = -1
		return fmt.Errorf("pty: %w", err)
	}
	unix.CloseOnExec(s.stdin)
	s.tty = ptmx
	return nil
}

// sysProcAttr is how the child of a is cloned: its own process group (or
// session, on a terminal), into its cgroup, as its user, with a pidfd, and
// killed if the daemon dies.
func sysProcAttr(a *Attr, pidfd *int) *syscall.SysProcAttr {
	sys := &syscall.SysProcAttr{
		Pdeathsig: syscall.SIGKILL, // backstop if the daemon dies
		PidFD:     pidfd,
	}
	if c := a.Credential; c != nil {
		sys.Credential = &syscall.Credential{Uid: c.UID, Gid: c.GID, Groups: append([]uint32{}, c.Groups...)}
	}
	if a.TTY != nil {
		sys.Setsid, sys.Setctty, sys.Ctty = true, true, 0 // a new session on the terminal
	} else {
		sys.Setpgid = true // leader of a new group: the unit we stop
	}
	if a.Cgroup != nil {
		sys.UseCgroupFD = true
		sys.CgroupFD = int(a.Cgroup.Fd())
	}
	return sys
}

// fork runs the exec on the spawner thread and returns the new process.
func (rt *Runtime) fork(a *Attr, io *stdio) (*Process, error) {
	path, args, viaShim, err := rt.shimmed(a)
	if err != nil {
		return nil, err
	}
	pidfd := -1
	sys := sysProcAttr(a, &pidfd)
	files := io.files[:]
	var status *os.File // the read end of the exec shim's status pipe
	wfd := -1           // its write end
	if viaShim {
		var fds [2]int
		if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
			return nil, fmt.Errorf("create the exec shim's status pipe: %w", err)
		}
		status = os.NewFile(uintptr(fds[0]), "shim-status")
		defer status.Close()
		wfd = fds[1] // becomes the child's shimStatusFd
		files = append(append([]uintptr{}, files...), uintptr(wfd))
	}
	attr := &syscall.ProcAttr{Dir: a.Dir, Env: a.Env, Files: files, Sys: sys}
	var pid int
	done := make(chan struct{})
	job := func() {
		defer close(done)
		if err = joinThreadCgroups(a.ThreadCgroups); err != nil {
			return
		}
		defer leaveThreadCgroups(a.ThreadCgroups)
		// Hold the reaper off between fork and registration, so a child that
		// exits at once is never mistaken for an orphan and reaped by it.
		rt.reaper.spawnMu.RLock()
		defer rt.reaper.spawnMu.RUnlock()
		pid, _, err = syscall.StartProcess(path, args, attr)
		if err == nil {
			rt.reaper.manage(pid)
		}
	}
	select {
	case rt.spawnc <- job:
	case <-rt.spawnq:
		return nil, errors.New("proc: runtime closed")
	}
	<-done
	if wfd >= 0 {
		unix.Close(wfd) // only the child's copy may keep the pipe open
	}
	faults.Point(rt.faults, faults.AfterClone)
	if err != nil {
		return nil, err
	}
	if status != nil {
		if err := rt.shimResult(pid, &pidfd, status); err != nil {
			return nil, err
		}
	}
	if pidfd < 0 {
		// Kernels without clone3 CLONE_PIDFD: the child is unreaped (we are
		// its only waiter), so its pid cannot have been reused yet.
		if pidfd, err = unix.PidfdOpen(pid, 0); err != nil {
			unix.Kill(pid, unix.SIGKILL)
			rt.reaper.unmanage(pid)
			return nil, fmt.Errorf("pidfd_open(%d): %w (procd needs Linux 5.3 or later)", pid, err)
		}
	}
	return &Process{pid: pid, pgid: pid, pidfd: pidfd, rt: rt}, nil
}

// shimResult waits for the exec shim to exec the program (its status pipe
// closes) or to report why it could not; then it reaps the shim and
// returns the failure.
func (rt *Runtime) shimResult(pid int, pidfd *int, status *os.File) error {
	b, _ := io.ReadAll(status)
	if len(b) == 0 {
		return nil
	}
	fd := *pidfd
	if fd < 0 {
		fd, _ = unix.PidfdOpen(pid, 0)
	}
	var info unix.Siginfo
	for fd >= 0 {
		if err := unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED, nil); err != unix.EINTR {
			break
		}
	}
	if fd >= 0 {
		unix.Close(fd)
	}
	*pidfd = -1
	rt.reaper.unmanage(pid)
	return parseShimStatus(b)
}

// joinThreadCgroups moves the calling (locked spawner) thread into v1
// cgroups for one fork.
func joinThreadCgroups(cgs []ThreadCgroup) error {
	tid := []byte(strconv.Itoa(unix.Gettid()))
	for i, cg := range cgs {
		if err := os.WriteFile(cg.Join, tid, 0); err != nil {
			leaveThreadCgroups(cgs[:i])
			return fmt.Errorf("join cgroup %s: %w", filepath.Dir(cg.Join), err)
		}
	}
	return nil
}

func leaveThreadCgroups(cgs []ThreadCgroup) {
	tid := []byte(strconv.Itoa(unix.Gettid()))
	for _, cg := range cgs {
		os.WriteFile(cg.Home, tid, 0)
	}
}

// Watch starts reading p's output pipes into their sinks and calls onExit
// once, from the poll loop, when p's leader exits. Until Watch, output waits
// in the pipes (the child blocks once one is full), so a caller can finish
// recording the process before any sink or exit callback runs. The leader
// stays a zombie until Reap, which pins its pid and process group number so
// the group can still be signalled safely. onExit must not block.
func (rt *Runtime) Watch(p *Process, onExit func()) error {
	for _, pp := range p.pipes {
		rt.poll.addPipe(pp)
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.pidfd < 0 {
		return ErrProcessDone
	}
	return rt.poll.addExit(p.pidfd, onExit)
}

// GroupMembers returns the live processes of process group pgid that are not
// managed leaders, found among the daemon's descendants outside managed
// leaders' own subtrees — which, once a leader has exited, is where every
// process of its tree went (the daemon is their subreaper). Stragglers in the
// group whose ancestors left it (setpgid/setsid) are not seen; cgroup
// containment covers those.
func (rt *Runtime) GroupMembers(pgid int) []int {
	return rt.reaper.groupMembers(pgid)
}

// OrphansReaped is the number of reparented descendants reaped so far.
func (rt *Runtime) OrphansReaped() int64 { return rt.reaper.reaped.Load() }

// SetFaults sets the crash injector for the fault-injection tests.
func (rt *Runtime) SetFaults(f *faults.Injector) { rt.faults = f }

// Close stops the poll loop, the reaper and the spawner thread. Children
// still alive are killed by Pdeathsig as the spawner thread exits; callers
// should have ended them already.
func (rt *Runtime) Close() error {
	rt.closeOnce.Do(func() {
		rt.reaper.stop()
		rt.poll.close()
		close(rt.spawnq)
		unix.Close(rt.devNull)
		active.Store(false)
	})
	return nil
}
