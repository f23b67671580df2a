//go:build !linux

package watchdog

import "time"

// alarm wakes the timer loop at a time (Go's timer; Linux uses a timerfd).
type alarm struct{ t *time.Timer }

func newAlarm() *alarm { return &alarm{t: time.NewTimer(time.Hour)} }

// set makes the alarm go off after d (at once if d is 0); d < 0 disarms it.
// It replaces any earlier setting and may be called from any goroutine.
func (a *alarm) set(d time.Duration) {
	if d < 0 {
		a.t.Stop()
	} else {
		a.t.Reset(d)
	}
}

// wait blocks until the alarm goes off.
func (a *alarm) wait() { <-a.t.C }

func (a *alarm) close() {}

// lockThread does nothing here.
func lockThread() {}
