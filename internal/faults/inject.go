//go:build faults

package faults

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Enabled reports whether this binary was built with fault injection.
const Enabled = true

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
	case AfterClone, Escalating, Settling, SlowLogWrite:
	default:
		return nil, fmt.Errorf("PROCD_FAULT %q: unknown point (use %s, %s, %s or %s)", spec, AfterClone, Escalating, Settling, SlowLogWrite)
	}
	return &Injector{point: point, at: at}, nil
}

// Point crashes the process if this is f's chosen point's Nth visit.
func Point(f *Injector, name string) {
	if f == nil || name != f.point || name == SlowLogWrite {
		return
	}
	if f.seen.Add(1) == f.at {
		injectCrash()
	}
}

// LogWriteDelay is how long f makes each 64 KiB written to a log file
// take (0 unless its point is SlowLogWrite; N is in milliseconds).
func LogWriteDelay(f *Injector) time.Duration {
	if f == nil || f.point != SlowLogWrite {
		return 0
	}
	return time.Duration(f.at) * time.Millisecond
}

// injectCrash kills this process with SIGKILL: no deferred cleanup runs,
// as in a real crash. Its name is what the release-binary test looks for.
func injectCrash() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		p.Kill()
	}
	select {} // wait for it
}
