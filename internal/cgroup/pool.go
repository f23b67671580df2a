//go:build linux

package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// The pool: recycled cgroups for trees that ask for no limit.
//
// A fresh cgroup per tree costs a mkdir and an rmdir, and on hybrid hosts
// a v1 memory cgroup beside it (another pair, and the spawner thread's
// move into and out of it around every fork) — most of procd's CPU per
// start. A tree without limits needs none of it to be contained: a cgroup2
// directory is what holds its descendants and what cgroup.kill ends. So
// such trees take a cgroup from the pool, and give it back when they end.
//
// The rule that keeps containment exact: a cgroup goes back to the pool
// only when the kernel says it holds no process (cgroup.events: populated 0,
// which covers every descendant cgroup too), is not frozen, and, where
// controllers are enabled on it, holds no charge (memory.current and
// pids.current 0) and carries no limit a process of the tree may have
// written. Anything else is removed instead, and the pool makes a new one.
// Nothing but procd places a process in a cgroup of its subtree, so an
// empty cgroup in the pool stays empty until it is handed out again.
//
// What a pooled tree gives up is exact peak memory: its cgroup has no v1
// memory companion on a hybrid host, and a recycled v2 memory cgroup's
// memory.peak is its predecessors' as much as its own. Its CPU time is
// exact (counted from the reading taken when the cgroup was recycled). A
// tree with any limit, or a daemon that asks for exact peaks, gets a fresh
// cgroup as before.

// poolPrefix names pooled cgroups, apart from fresh ones (named after
// their process).
const poolPrefix = "pool-"

// DefaultPoolSize is how many empty cgroups the pool keeps at most.
const DefaultPoolSize = 64

// Pooled reports whether g came from the pool (Take) rather than New.
func (g *Group) Pooled() bool { return g.pooled }

// Take hands out an empty cgroup2 cgroup, recycled or new, with no limits
// and no v1 companions: for trees that need containment only.
func (s *Subtree) Take() (*Group, error) {
	s.poolMu.Lock()
	if n := len(s.idle); n > 0 {
		g := s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.poolMu.Unlock()
		return g, nil
	}
	s.poolMu.Unlock()
	return s.newPooled()
}

// newPooled creates a pooled cgroup under the next free name: one an
// earlier procd left behind (a tree its sweep could not end) is skipped.
func (s *Subtree) newPooled() (*Group, error) {
	for range 1000 {
		s.poolMu.Lock()
		s.poolSeq++
		name := poolPrefix + strconv.Itoa(s.poolSeq)
		s.poolMu.Unlock()
		g := &Group{name: name, v2: filepath.Join(s.v2Base, name), v2Rel: filepath.Join(s.v2Rel, name), pooled: true, v2Mem: s.v2Ctrl[Memory]}
		err := os.Mkdir(g.v2, 0o755)
		if err == nil {
			s.hold(g)
			return g, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create cgroup %s: %w", g.v2, err)
		}
	}
	return nil, fmt.Errorf("create cgroup under %s: a thousand %s names in a row are taken", s.v2Base, poolPrefix)
}

// Prefill creates empty cgroups until the pool holds n (at most its size),
// so the first starts find them made.
func (s *Subtree) Prefill(n int) error {
	for range n {
		s.poolMu.Lock()
		if len(s.idle) >= min(n, s.poolMax) {
			s.poolMu.Unlock()
			return nil
		}
		s.poolMu.Unlock()
		g, err := s.newPooled()
		if err != nil {
			return err
		}
		s.poolMu.Lock()
		s.idle = append(s.idle, g)
		s.poolMu.Unlock()
	}
	return nil
}

// Release reads what a pooled group's finished tree used and, if the group
// is proven empty and uncharged (see the package's pool rule), takes it
// back for the next tree; recycled false means the caller must remove it.
// The tree's CPU time is read after the proof, so it is final.
func (s *Subtree) Release(g *Group) (u Usage, recycled bool) {
	if !g.pooled {
		return g.FinalUsage(), false
	}
	err := s.reusable(g)
	raw, _ := g.rawCPU()
	u = Usage{CPU: raw - g.cpuBase}
	if g.v2Mem {
		u.MemCurrent = readInt(filepath.Join(g.v2, "memory.current"))
	}
	if err != nil || g.killed.Load() { // see Group.killed
		return u, false
	}
	s.poolMu.Lock()
	defer s.poolMu.Unlock()
	if len(s.idle) >= s.poolMax {
		return u, false
	}
	g.cpuBase = raw
	s.idle = append(s.idle, g)
	return u, true
}

// Reusable says why g may not take another tree, or nil if it may.
func (s *Subtree) reusable(g *Group) error {
	b, err := g.read(eventsFile)
	if err != nil {
		return err
	}
	// Both lines must be there and say 0: a file that cannot be parsed
	// proves nothing.
	for _, key := range []string{"populated", "frozen"} {
		if v, ok := keyedOK(b, key); !ok || v != 0 {
			return fmt.Errorf("cgroup.events: %s is not 0", key)
		}
	}
	// Only where v2 controllers are enabled on the processes' cgroups
	// (pure v2): a charge left behind, or a limit a root process of the
	// tree wrote into its own cgroup.
	for _, c := range []struct{ ctrl, file, want string }{
		{Memory, "memory.current", "0"}, {Pids, "pids.current", "0"},
		{Memory, "memory.max", "max"}, {Memory, "memory.swap.max", "max"}, {Pids, "pids.max", "max"},
	} {
		if s.v2Ctrl[c.ctrl] {
			if got := readString(filepath.Join(g.v2, c.file)); got != c.want {
				return fmt.Errorf("%s is %q", c.file, got)
			}
		}
	}
	if s.v2Ctrl[CPU] {
		if got := readString(filepath.Join(g.v2, "cpu.max")); got != "max 100000" {
			return fmt.Errorf("cpu.max is %q", got)
		}
	}
	return nil
}

// rawCPU is cpu.stat's usage_usec, from the cgroup's creation on.
func (g *Group) rawCPU() (time.Duration, bool) {
	b, err := g.read(cpuFile)
	if err != nil {
		return 0, false
	}
	return time.Duration(keyedIn(b, "usage_usec")) * time.Microsecond, true
}

// drainPool removes the pool's empty cgroups (at shutdown).
func (s *Subtree) drainPool() []error {
	s.poolMu.Lock()
	idle := s.idle
	s.idle = nil
	s.poolMu.Unlock()
	var errs []error
	for _, g := range idle {
		if err := g.Remove(); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
