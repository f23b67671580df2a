// Package testutil holds what procd's tests share: bounded contexts,
// waiting on a condition with a deadline (never a bare sleep), and the
// zombie check every test that starts real processes ends with. Only test
// files import it (internal/archtest keeps it out of the binaries).
//
// The deadlines are generous on purpose: they are reached only when
// something is broken, and the tests run under -race on a loaded 2-core
// machine beside other test binaries.
package testutil

import (
	"bytes"
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// Deadline bounds every wait here: reached only when something is broken.
const Deadline = 30 * time.Second

// Context returns a context that bounds one step of a test, cancelled when
// the test ends.
func Context(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Deadline)
	tb.Cleanup(cancel)
	return ctx
}

// WaitFor polls cond, backing off from 1 ms to 20 ms, until it holds;
// the test fails (naming what it waited for) after Deadline.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	if !poll(Deadline, cond) {
		tb.Fatalf("timed out after %v waiting for %s", Deadline, what)
	}
}

// WaitForValue polls get until ok accepts its value, and returns it; the
// test fails with the last value after Deadline.
func WaitForValue[T any](tb testing.TB, what string, get func() T, ok func(T) bool) T {
	tb.Helper()
	var v T
	if !poll(Deadline, func() bool { v = get(); return ok(v) }) {
		tb.Fatalf("timed out after %v waiting for %s; last value %v", Deadline, what, v)
	}
	return v
}

// poll reports whether cond held before d passed.
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for delay := time.Millisecond; !cond(); delay = min(2*delay, 20*time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(delay)
	}
	return true
}

// Zombies lists the test process's children that are zombies (exited and
// not reaped).
func Zombies() []string {
	var zombies []string
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		b, _ := os.ReadFile("/proc/self/task/" + task.Name() + "/children")
		for _, f := range strings.Fields(string(b)) {
			st, _ := os.ReadFile("/proc/" + f + "/stat")
			if i := bytes.LastIndexByte(st, ')'); i > 0 && len(st) > i+2 && st[i+2] == 'Z' {
				zombies = append(zombies, f)
			}
		}
	}
	return zombies
}

// AssertNoZombies fails the test if a child of the test process is still
// a zombie after a few seconds: every process it started, or inherited as
// a subreaper, was reaped.
func AssertNoZombies(tb testing.TB) {
	tb.Helper()
	var left []string
	if !poll(5*time.Second, func() bool { left = Zombies(); return len(left) == 0 }) {
		tb.Errorf("zombie children left: %v", left)
	}
}

// FreePort returns a loopback TCP port nothing listens on (for now: a
// probe's "nobody there" case).
func FreePort(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	return port
}

// The race detector's cost, for bounds that measure a program built with
// -race: Go's documentation (doc/articles/race_detector) puts it at 5-10×
// the memory and 2-20× the execution time. A bound that measures such a
// program (a daemon the test built and started, whose build the test
// binary's own race setting says nothing about) widens its upper limit by
// these factors; lower limits stay, since the detector never makes
// anything happen sooner. The factors sit at the low end of the ranges on
// purpose: what the tests bound is mostly waiting on timers, kernels and
// other processes, not the instrumented code itself, and a bound widened
// too far could no longer fail.
const (
	RaceTimeFactor   = 3
	RaceMemoryFactor = 5
)

// Build says how a program under test was built.
type Build struct {
	Race bool // built with -race
}

// Time widens an upper time bound for the build: d, or d × RaceTimeFactor.
func (b Build) Time(d time.Duration) time.Duration {
	if b.Race {
		return d * RaceTimeFactor
	}
	return d
}

// Memory widens an upper memory bound (bytes) for the build: n, or
// n × RaceMemoryFactor.
func (b Build) Memory(n int64) int64 {
	if b.Race {
		return n * RaceMemoryFactor
	}
	return n
}
