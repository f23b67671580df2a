package watchdog

import (
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// alarm wakes the timer loop at a time, to the microsecond. Go's own
// timers wake an idle process through epoll_wait, whose timeout is in
// milliseconds: a deadline could be met up to a millisecond late. A
// timerfd is a kernel high-resolution timer; the loop blocks in read(2) on
// it, on a thread of its own (see lockThread), so the kernel wakes that
// thread itself, not whichever of the daemon's threads polls next.
type alarm struct {
	fd int // the timerfd; -1: t instead
	t  *time.Timer

	mu     sync.RWMutex // set against close: never settime a reused fd number
	closed bool
}

func newAlarm() *alarm {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC)
	if err != nil {
		return &alarm{fd: -1, t: time.NewTimer(time.Hour)} // out of descriptors: Go's timer will do
	}
	return &alarm{fd: fd}
}

// set makes the alarm go off after d (at once if d is 0); d < 0 disarms
// it. It replaces any earlier setting and may be called from any
// goroutine.
func (a *alarm) set(d time.Duration) {
	if a.fd < 0 {
		if d < 0 {
			a.t.Stop()
		} else {
			a.t.Reset(d)
		}
		return
	}
	var spec unix.ItimerSpec
	if d >= 0 {
		spec.Value = unix.NsecToTimespec(max(int64(d), 1)) // zero would disarm
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if !a.closed {
		unix.TimerfdSettime(a.fd, 0, &spec, nil)
	}
}

// wait blocks until the alarm goes off. A close does not end it (Linux
// does not wake a read on a closed descriptor): set(0) first.
func (a *alarm) wait() {
	if a.fd < 0 {
		<-a.t.C
		return
	}
	var buf [8]byte
	for {
		if _, err := unix.Read(a.fd, buf[:]); err != unix.EINTR {
			return
		}
	}
}

func (a *alarm) close() {
	if a.fd < 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.closed {
		a.closed = true
		unix.Close(a.fd)
	}
}

// lockThread gives the calling goroutine a thread of its own for good, at
// a better scheduling priority (nice -10) when procd may raise it: on a
// machine busy with other work, a deadline's kill should not queue behind
// it. The thread ends with the goroutine (it is never unlocked), so the
// priority reaches no other goroutine.
func lockThread() {
	runtime.LockOSThread()
	unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), -10)
}
