package proc

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/procd/procd/internal/procattr"
)

// Process is a started process: the leader of its own process group, held by
// a pidfd. It is safe for concurrent use.
type Process struct {
	pid, pgid int
	rt        *Runtime
	pipes     []*pipe
	stdin     *os.File // the daemon's end of a stdin pipe or terminal; nil: /dev/null
	tty       *pipe    // the pty controller's pipe entry; nil without a terminal

	// mu is held for reading while the pidfd or the group is used, and for
	// writing while the leader is reaped or the pidfd closed: a group signal
	// can then never race with the reap that would free the group's number.
	mu     sync.RWMutex
	pidfd  int // -1 once released
	reaped bool
}

// Stdin is the writing end of the process's stdin (a pipe or its
// terminal), or nil when stdin is /dev/null. Its owner closes it.
func (p *Process) Stdin() *os.File { return p.stdin }

// Resize sets the terminal's size (a process started with Attr.TTY).
func (p *Process) Resize(size procattr.WindowSize) error {
	if p.tty == nil {
		return errors.New("the process has no terminal")
	}
	p.tty.mu.Lock() // the poller may close the controller at end of file
	defer p.tty.mu.Unlock()
	if p.tty.closed {
		return ErrProcessDone
	}
	return unix.IoctlSetWinsize(p.tty.fd, unix.TIOCSWINSZ, &unix.Winsize{Row: size.Rows, Col: size.Cols})
}

// Pid returns the leader's pid.
func (p *Process) Pid() int { return p.pid }

// Pgid returns the process group id recorded at spawn (never looked up after
// a reap, when getpgid would fail).
func (p *Process) Pgid() int { return p.pgid }

// Signal sends sig to the leader through its pidfd, so it can never reach an
// unrelated process that reused the pid. ErrProcessDone if it has exited.
func (p *Process) Signal(sig syscall.Signal) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.pidfd < 0 || p.reaped {
		return ErrProcessDone
	}
	err := unix.PidfdSendSignal(p.pidfd, sig, nil, 0)
	if errors.Is(err, unix.ESRCH) {
		return ErrProcessDone
	}
	return err
}

// SignalGroup sends sig to the leader's whole process group. It is only done
// while the leader is unreaped: its zombie pins the group number, so the
// signal cannot reach a new group that reused it. It refuses groups that are
// not plausible children's groups (pgid ≤ 1 or the daemon's own group).
func (p *Process) SignalGroup(sig syscall.Signal) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.reaped || p.pidfd < 0 {
		return ErrProcessDone
	}
	if p.pgid <= 1 || p.pgid == unix.Getpgrp() {
		return fmt.Errorf("refusing to signal process group %d: not a group procd created", p.pgid)
	}
	err := unix.Kill(-p.pgid, sig)
	if errors.Is(err, unix.ESRCH) {
		return ErrProcessDone
	}
	return err
}

// Exited reports without blocking whether the leader has exited (it may be an
// unreaped zombie).
func (p *Process) Exited() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.reaped || p.pidfd < 0 {
		return true
	}
	var info siginfo
	err := waitid(unix.P_PIDFD, p.pidfd, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err != nil || info.Pid != 0
}

// Reap collects the leader's exit status, blocking until it exits. After
// Reap the group may no longer be signalled. It must be called at most once.
func (p *Process) Reap() (ExitStatus, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped || p.pidfd < 0 {
		return ExitStatus{}, errors.New("process already reaped")
	}
	var info siginfo
	var ru unix.Rusage
	for {
		err := waitid(unix.P_PIDFD, p.pidfd, &info, unix.WEXITED, &ru)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ExitStatus{}, fmt.Errorf("waitid(pidfd of %d): %w", p.pid, err)
		}
		break
	}
	p.reaped = true
	p.rt.reaper.unmanage(p.pid)
	st := ExitStatus{
		Code: -1,
		Usage: Usage{
			MaxRSS: ru.Maxrss * 1024, // Linux reports kilobytes
			User:   time.Duration(ru.Utime.Nano()),
			System: time.Duration(ru.Stime.Nano()),
		},
	}
	switch info.Code {
	case cldExited:
		st.Code = int(info.Status)
	case cldKilled:
		st.Signal = syscall.Signal(info.Status)
	case cldDumped:
		st.Signal = syscall.Signal(info.Status)
		st.CoreDumped = true
	default:
		return st, fmt.Errorf("waitid(pidfd of %d): unexpected child code %d", p.pid, info.Code)
	}
	return st, nil
}

// WaitOutput waits up to d for every output pipe to reach end of file, then
// drains and closes the pipes still open (held by a descendant that escaped
// the group). It reports whether all pipes ended on their own.
func (p *Process) WaitOutput(d time.Duration) bool {
	complete := true
	timer := time.NewTimer(d)
	defer timer.Stop()
	for _, pp := range p.pipes {
		select {
		case <-pp.done:
			continue
		case <-timer.C:
		}
		// The timer fired (possibly while waiting for an earlier pipe): close
		// whatever is left without waiting any longer.
		for _, rest := range p.pipes {
			if p.rt.poll.closePipe(rest) {
				complete = false
			}
		}
		return complete
	}
	return complete
}

// Release closes the pidfd and any pipe still open (or never watched).
// Call it after Reap.
func (p *Process) Release() {
	for _, pp := range p.pipes {
		p.rt.poll.closePipe(pp)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pidfd >= 0 {
		p.rt.poll.removeExit(p.pidfd)
		unix.Close(p.pidfd)
		p.pidfd = -1
	}
	if !p.reaped {
		// Never reaped: leave it to the orphan reaper.
		p.rt.reaper.unmanage(p.pid)
	}
}

// siginfo is the part of siginfo_t that waitid fills for a child: the union
// starts after three ints, aligned to a pointer.
type siginfo struct {
	Signo  int32
	Errno  int32
	Code   int32
	_      [ptrSize/4 - 1]int32
	Pid    int32
	Uid    uint32
	Status int32
	_      [128 - 3*4 - (ptrSize/4-1)*4 - 3*4]byte
}

const ptrSize = 4 << (^uintptr(0) >> 63)

// si_code values for SIGCHLD.
const (
	cldExited = 1
	cldKilled = 2
	cldDumped = 3
)

func waitid(idtype, id int, info *siginfo, options int, ru *unix.Rusage) error {
	_, _, e := unix.Syscall6(unix.SYS_WAITID, uintptr(idtype), uintptr(id),
		uintptr(unsafe.Pointer(info)), uintptr(options), uintptr(unsafe.Pointer(ru)), 0)
	if e != 0 {
		return e
	}
	return nil
}
