package testutil

import (
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func TestPollStopsAtTheDeadline(t *testing.T) {
	var calls atomic.Int32
	start := time.Now()
	if poll(50*time.Millisecond, func() bool { calls.Add(1); return false }) {
		t.Fatal("a condition that never holds was reported to hold")
	}
	if time.Since(start) < 50*time.Millisecond || calls.Load() < 2 {
		t.Fatalf("gave up after %v and %d calls", time.Since(start), calls.Load())
	}
	n := 0
	if v := WaitForValue(t, "the third call", func() int { n++; return n }, func(v int) bool { return v == 3 }); v != 3 {
		t.Fatalf("value %d", v)
	}
}

func TestZombiesSeesAnUnreapedChild(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	has := func() bool {
		for _, z := range Zombies() {
			if z == strconv.Itoa(pid) {
				return true
			}
		}
		return false
	}
	WaitFor(t, "the unreaped child to show as a zombie", has)
	cmd.Wait()
	if has() {
		t.Fatal("a reaped child is still listed")
	}
}

func TestBuildWidensOnlyRaceBounds(t *testing.T) {
	plain, race := Build{}, Build{Race: true}
	if plain.Time(time.Second) != time.Second || plain.Memory(1<<20) != 1<<20 {
		t.Fatalf("a plain build's bounds changed: %v, %d", plain.Time(time.Second), plain.Memory(1<<20))
	}
	if race.Time(time.Second) != RaceTimeFactor*time.Second || race.Memory(1<<20) != RaceMemoryFactor<<20 {
		t.Fatalf("a race build's bounds: %v, %d", race.Time(time.Second), race.Memory(1<<20))
	}
}
