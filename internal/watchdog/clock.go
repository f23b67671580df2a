package watchdog

import "time"

// Clock is a monotonic clock: Now is the time since an arbitrary fixed
// origin, immune to wall-clock steps. Wall converts such a time back to a
// wall-clock time for display.
type Clock interface {
	Now() time.Duration
	Wall(time.Duration) time.Time
}

// NewClock returns the real clock, with its origin at the call.
func NewClock() Clock { return realClock{base: time.Now()} }

type realClock struct{ base time.Time }

// Now uses the monotonic reading time.Now carries.
func (c realClock) Now() time.Duration             { return time.Since(c.base) }
func (c realClock) Wall(d time.Duration) time.Time { return c.base.Add(d) }
