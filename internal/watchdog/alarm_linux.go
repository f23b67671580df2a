package watchdog

import (
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// alarm wakes the timer loop at a time, to the microsecond. Go's own
// timers wake an idle process through epoll_wait, whose timeout is in
// milliseconds: a deadline could be met up to a millisecond late. A
// timerfd is a kernel high-resolution timer, read through Go's poller.
type alarm struct {
	fd int      // the timerfd, for settime
	f  *os.File // the same, for reads through the poller
	t  *time.Timer

	mu     sync.RWMutex // set against close: never settime a reused fd number
	closed bool
}

func newAlarm() *alarm {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return &alarm{fd: -1, t: time.NewTimer(time.Hour)} // out of descriptors: Go's timer will do
	}
	return &alarm{fd: fd, f: os.NewFile(uintptr(fd), "watchdog-timerfd")}
}

// set makes the alarm go off after d (at once if d is 0); d < 0 disarms
// it. It replaces any earlier setting and may be called from any
// goroutine.
func (a *alarm) set(d time.Duration) {
	if a.f == nil {
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

// wait blocks until the alarm goes off or it is closed.
func (a *alarm) wait() {
	if a.f == nil {
		<-a.t.C
		return
	}
	var buf [8]byte
	a.f.Read(buf[:])
}

func (a *alarm) close() {
	if a.f == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.closed {
		a.closed = true
		a.f.Close()
	}
}
