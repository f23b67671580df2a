package proc

import (
	"errors"
	"fmt"
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

	spawnc chan func()   // work for the locked spawner thread
	spawnq chan struct{} // closed to stop the spawner

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
	ready := make(chan struct{})
	go rt.spawner(ready)
	<-ready
	go p.loop()
	rt.reaper.start()
	return rt, nil
}

// spawner runs every fork on one OS thread that stays locked until Close.
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

// Start starts a process as the leader of a new process group, with stdin
// from /dev/null and stdout/stderr into the given sinks (nil: /dev/null).
// Exec failures are returned synchronously as *os.SyscallError-free errnos
// (ENOENT, EACCES, ENOEXEC, EAGAIN…) for the caller to word.
func (rt *Runtime) Start(a *Attr, stdout, stderr Sink) (*Process, error) {
	files := []uintptr{uintptr(rt.devNull), uintptr(rt.devNull), uintptr(rt.devNull)}
	var readEnds []int
	var writeEnds []int
	closeAll := func(fds []int) {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	for i, sink := range []Sink{stdout, stderr} {
		if sink == nil {
			continue
		}
		var fds [2]int
		if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
			closeAll(readEnds)
			closeAll(writeEnds)
			return nil, fmt.Errorf("create output pipe: %w", err)
		}
		if err := unix.SetNonblock(fds[0], true); err != nil {
			closeAll(append(readEnds, fds[0]))
			closeAll(append(writeEnds, fds[1]))
			return nil, fmt.Errorf("create output pipe: %w", err)
		}
		readEnds = append(readEnds, fds[0])
		writeEnds = append(writeEnds, fds[1])
		files[1+i] = uintptr(fds[1])
	}

	path, args, err := rt.shimmed(a)
	if err != nil {
		closeAll(readEnds)
		closeAll(writeEnds)
		return nil, err
	}
	pidfd := -1
	attr := &syscall.ProcAttr{
		Dir:   a.Dir,
		Env:   a.Env,
		Files: files,
		Sys: &syscall.SysProcAttr{
			Setpgid:   true,            // leader of a new group: the unit we stop
			Pdeathsig: syscall.SIGKILL, // backstop if the daemon dies
			PidFD:     &pidfd,
		},
	}
	if a.Cgroup != nil {
		attr.Sys.UseCgroupFD = true
		attr.Sys.CgroupFD = int(a.Cgroup.Fd())
	}
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
		closeAll(readEnds)
		closeAll(writeEnds)
		return nil, errors.New("proc: runtime closed")
	}
	<-done
	rt.faults.Point(faults.AfterClone)
	closeAll(writeEnds) // the child has its copies
	if err != nil {
		closeAll(readEnds)
		return nil, err
	}
	if pidfd < 0 {
		// Kernels without clone3 CLONE_PIDFD: the child is unreaped (we are
		// its only waiter), so its pid cannot have been reused yet.
		pidfd, err = unix.PidfdOpen(pid, 0)
		if err != nil {
			unix.Kill(pid, unix.SIGKILL)
			rt.reaper.unmanage(pid)
			closeAll(readEnds)
			return nil, fmt.Errorf("pidfd_open(%d): %w (procd needs Linux 5.3 or later)", pid, err)
		}
	}
	p := &Process{pid: pid, pgid: pid, pidfd: pidfd, rt: rt}
	j := 0
	for _, sink := range []Sink{stdout, stderr} {
		if sink == nil {
			continue
		}
		p.pipes = append(p.pipes, &pipe{fd: readEnds[j], sink: sink, done: make(chan struct{})})
		j++
	}
	return p, nil
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
