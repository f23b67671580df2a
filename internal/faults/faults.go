// Package faults injects crashes at named points for the fault-injection
// tests: a daemon started with PROCD_FAULT=point:N kills itself with
// SIGKILL the Nth time it reaches that point. An Injector is created by the
// daemon and handed to the packages that have points; a nil *Injector (the
// normal case) does nothing.
package faults

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
)

// Points where a crash can be injected.
const (
	AfterClone = "after-clone" // a child exists but is not yet watched or registered
	Escalating = "escalating"  // a stop signal was sent; SIGKILL is not yet sent
	Settling   = "settling"    // a leader exited; it is not yet reaped
)

// Injector crashes the process at one point.
type Injector struct {
	point string
	at    int64
	seen  atomic.Int64
}

// Parse reads "point:N" (N ≥ 1; ":N" may be left out for 1). Empty means none.
func Parse(spec string) (*Injector, error) {
	if spec == "" {
		return nil, nil
	}
	point, n, ok := strings.Cut(spec, ":")
	at := int64(1)
	if ok {
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("PROCD_FAULT %q: the count must be a positive number", spec)
		}
		at = v
	}
	switch point {
	case AfterClone, Escalating, Settling:
	default:
		return nil, fmt.Errorf("PROCD_FAULT %q: unknown point (use %s, %s or %s)", spec, AfterClone, Escalating, Settling)
	}
	return &Injector{point: point, at: at}, nil
}

// Point crashes the process if this is the chosen point's Nth visit.
func (f *Injector) Point(name string) {
	if f == nil || name != f.point {
		return
	}
	if f.seen.Add(1) == f.at {
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			p.Kill() // SIGKILL: no deferred cleanup, as in a crash
		}
		select {} // wait for it
	}
}
