//go:build linux

package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/errdefs"
)

// Subtree is procd's part of the hierarchies: a cgroup2 directory whose
// children are the processes' cgroups, and matching v1 directories for the
// limits v2 cannot enforce here.
type Subtree struct {
	log    *zap.Logger
	v2Base string            // absolute path
	v2Rel  string            // the same, relative to the cgroup2 mount (as /proc/PID/cgroup shows it)
	v2Ctrl map[string]bool   // controllers enabled for the processes' cgroups
	v1Base map[string]string // controller → absolute directory
	v1Home map[string]string // controller → the daemon's own tasks file
	locks  []*os.File        // the directories above, open and locked (owner.go)

	poolMu  sync.Mutex
	idle    []*Group // empty, uncharged cgroups for the next trees without limits
	poolSeq int      // names pooled cgroups
	poolMax int      // len(idle) at most
	// heldGroups counts pooled groups holding their files open (at most
	// maxHeldGroups): see held.go.
	heldGroups int
}

// Setup prepares the subtree under the process's own cgroup: the v2
// directory (which must be writable: procd runs as root or was delegated
// the cgroup, e.g. by systemd's Delegate=yes), the controllers it can
// enable there, and v1 directories for controllers only v1 has. Processes
// left in the subtree by an earlier procd (one that was killed) are killed
// and their cgroups removed; the directories of other procds that are
// gone, beside its own, are removed (owner.go). Leftovers says what was
// found. Each directory stays locked until Remove.
//
// An error means containment by cgroup is unavailable; its message says
// why, for the daemon to log as it falls back to process groups.
func Setup(l Layout, o Options) (*Subtree, Leftovers, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Name == "" {
		o.Name = "procd"
	}
	var left Leftovers
	if l.V2Mount == "" {
		return nil, left, errors.New("no cgroup2 hierarchy is mounted")
	}
	self := l.v2Path()
	if o.PoolSize <= 0 {
		o.PoolSize = DefaultPoolSize
	}
	s := &Subtree{log: o.Logger, v2Ctrl: map[string]bool{}, v1Base: map[string]string{}, v1Home: map[string]string{}, poolMax: o.PoolSize}
	s.v2Base = filepath.Join(self, o.Name)
	s.v2Rel = filepath.Join(l.V2Self, o.Name)
	if err := s.claim(s.v2Base); err != nil {
		hint := ""
		if errors.Is(err, os.ErrPermission) {
			hint = " (procd needs root, or a cgroup delegated to it)"
		}
		return nil, left, fmt.Errorf("create %s: %w%s", s.v2Base, err, hint)
	}
	probe := filepath.Join(s.v2Base, ".probe")
	if err := os.Mkdir(probe, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		s.unlock()
		return nil, left, fmt.Errorf("cgroup %s is not writable: %w", s.v2Base, err)
	}
	os.Remove(probe)
	left = s.sweep()
	s.enableControllers(self, atRealRoot(self, l.V2Self))
	s.setupV1(l, o.Name)
	sweepAbandoned(self, o.Name, true, &left.Abandoned)
	for _, dir := range s.Dirs()[1:] {
		sweepAbandoned(filepath.Dir(dir), o.Name, false, &left.Abandoned)
	}
	return s, left, nil
}

// setupV1 makes (and claims) v1 directories for the limits whose
// controllers v2 does not offer here. Controllers mounted together in one
// hierarchy (-o memory,pids) share its directory, claimed and swept once.
func (s *Subtree) setupV1(l Layout, name string) {
	claimed := map[string]bool{}
	for _, c := range v1Controllers {
		if s.v2Ctrl[c] {
			continue
		}
		h, ok := l.V1[c]
		if !ok {
			continue
		}
		dir := filepath.Join(h.Mount, h.Self, name)
		if !claimed[dir] {
			if err := s.claim(dir); err != nil {
				s.log.Info("cgroup v1 controller not usable", zap.String("controller", c), zap.Error(err))
				continue
			}
			s.sweepV1(dir)
			claimed[dir] = true
		}
		s.v1Base[c] = dir
		s.v1Home[c] = filepath.Join(h.Mount, h.Self, "tasks")
	}
}

// claim makes and locks one of procd's directories (owner.go).
func (s *Subtree) claim(dir string) error {
	f, marked, err := claim(dir)
	if err != nil {
		return err
	}
	s.locks = append(s.locks, f)
	if !marked {
		s.log.Info("cannot mark a cgroup directory as locked by its owner; no other procd will remove it if this one dies with its guardian",
			zap.String("dir", dir), zap.String("attribute", ownerAttr))
	}
	return nil
}

// atRealRoot reports whether self, the process's cgroup2 directory, is
// the hierarchy's real root, where processes and enabled controllers may
// coexist. In a cgroup namespace /proc/self/cgroup says "/" for a cgroup
// that is not the root of the hierarchy and is bound by the
// no-internal-process rule; only the real root has no cgroup.type file.
func atRealRoot(self, v2Self string) bool {
	if v2Self != "/" {
		return false
	}
	_, err := os.Stat(filepath.Join(self, "cgroup.type"))
	return errors.Is(err, os.ErrNotExist)
}

// enableControllers turns on memory, pids and cpu for the processes'
// cgroups where the hierarchy offers them. A non-root cgroup with
// controllers for its children may hold no process itself, so procd moves
// itself into a leaf ("daemon") first when it must.
func (s *Subtree) enableControllers(self string, isRoot bool) {
	avail := strings.Fields(readString(filepath.Join(self, "cgroup.controllers")))
	var want []string
	for _, c := range []string{Memory, Pids, CPU} {
		if slices.Contains(avail, c) {
			want = append(want, c)
		}
	}
	if len(want) == 0 {
		return
	}
	enable := "+" + strings.Join(want, " +")
	err := os.WriteFile(filepath.Join(self, "cgroup.subtree_control"), []byte(enable), 0)
	if err != nil && !isRoot {
		leaf := filepath.Join(self, "daemon")
		if e := os.Mkdir(leaf, 0o755); e == nil || errors.Is(e, os.ErrExist) {
			if e := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); e == nil {
				err = os.WriteFile(filepath.Join(self, "cgroup.subtree_control"), []byte(enable), 0)
			}
		}
	}
	if err != nil {
		s.log.Info("cgroup v2 controllers not enabled; using v1 for limits where present", zap.Strings("controllers", want), zap.Error(err))
		return
	}
	if err := os.WriteFile(filepath.Join(s.v2Base, "cgroup.subtree_control"), []byte(enable), 0); err != nil {
		s.log.Info("cgroup v2 controllers not enabled in procd's subtree", zap.Error(err))
		return
	}
	for _, c := range want {
		s.v2Ctrl[c] = true
	}
}

// sweep kills and removes every cgroup left under the v2 base.
func (s *Subtree) sweep() Leftovers {
	var left Leftovers
	entries, _ := os.ReadDir(s.v2Base)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		g := &Group{name: e.Name(), v2: filepath.Join(s.v2Base, e.Name())}
		pids, _ := g.Pids()
		if len(pids) > 0 {
			left.Pids = append(left.Pids, pids...)
			g.Kill()
			g.WaitEmpty(5 * time.Second)
		}
		left.Groups = append(left.Groups, e.Name())
		g.Remove()
	}
	return left
}

// sweepV1 removes the v1 cgroups left under dir; their tasks were killed
// with the v2 sweep (every process is also in a v2 cgroup).
func (s *Subtree) sweepV1(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			removeDir(filepath.Join(dir, e.Name()))
		}
	}
}

// Remove deletes procd's directories from every hierarchy and lets go of
// their locks. It is for a clean shutdown, when every process cgroup is
// gone; a directory that is not empty stays (the next Setup on this
// socket sweeps it, or another procd's once it is empty). Each daemon on
// another socket has its own name, so leaving them would pile up.
func (s *Subtree) Remove() error {
	errs := s.drainPool()
	for _, dir := range s.v1Base {
		if err := removeDir(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := removeDir(s.v2Base); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	s.unlock()
	return errors.Join(errs...)
}

// Dirs lists procd's directories in every hierarchy, each once: the
// cgroup2 base first, then the v1 ones (for the guardian, which removes
// them after a crash).
func (s *Subtree) Dirs() []string {
	out := []string{s.v2Base}
	for _, c := range v1Controllers {
		if d := s.v1Base[c]; d != "" && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// RemoveDirs removes a subtree by its directories alone (Dirs: the v2 base,
// then v1 ones), for a daemon that died and whose trees were killed: it
// waits up to wait for each process cgroup under the v2 base to empty, then
// removes it and its namesakes in the v1 directories, then the directories
// themselves. Whatever still holds a process stays (the next Setup sweeps
// it); the error says what and why.
func RemoveDirs(dirs []string, wait time.Duration) error {
	if len(dirs) == 0 {
		return nil
	}
	v2, v1 := dirs[0], dirs[1:]
	deadline := time.Now().Add(wait)
	var errs []error
	entries, err := os.ReadDir(v2)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		g := &Group{v2: filepath.Join(v2, e.Name())}
		if !g.WaitEmpty(time.Until(deadline)) {
			errs = append(errs, fmt.Errorf("%s still holds processes", g.v2))
			continue
		}
		for _, d := range v1 {
			if err := removeDir(filepath.Join(d, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
		if err := removeDir(g.v2); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range append(v1, v2) {
		if err := removeDir(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Controllers says which limits can be enforced, and how ("v2", "v1", "").
func (s *Subtree) Controllers() map[string]string {
	out := map[string]string{}
	for _, c := range []string{Memory, Pids, CPU} {
		switch {
		case s.v2Ctrl[c]:
			out[c] = "v2"
		case s.v1Base[c] != "":
			out[c] = "v1"
		}
	}
	return out
}

// Base is the v2 directory holding the processes' cgroups.
func (s *Subtree) Base() string { return s.v2Base }

// New creates the cgroup for one process tree and applies its limits. A
// limit no controller can enforce is an error, not silently dropped.
func (s *Subtree) New(name string, lim Limits) (*Group, error) {
	need := map[string]bool{Memory: lim.MemoryMax > 0, Pids: lim.PidsMax > 0, CPU: lim.CPUMax > 0}
	for _, c := range []string{Memory, Pids, CPU} {
		if need[c] && !s.v2Ctrl[c] && s.v1Base[c] == "" {
			return nil, errdefs.Errorf(errdefs.ErrFailedPrecondition,
				"a %s limit needs the %s controller, which neither cgroup v2 nor v1 offers procd here", c, c)
		}
	}
	g := &Group{name: name, v2: filepath.Join(s.v2Base, name), v2Rel: filepath.Join(s.v2Rel, name), v1: map[string]string{}, v1Home: s.v1Home}
	if err := os.Mkdir(g.v2, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", g.v2, err)
	}
	fail := func(err error) (*Group, error) {
		g.Remove()
		return nil, err
	}
	for _, c := range []string{Memory, Pids, CPU} {
		if !need[c] {
			switch {
			case c != Memory:
				continue
			case s.v2Ctrl[c]:
				g.v2Mem = true // usage figures even without a limit
				continue
			case s.v1Base[c] != "":
				// Only a v1 memory cgroup can tell the tree's memory use here.
				if err := s.makeV1(g, c); err != nil {
					return fail(err)
				}
			}
			continue
		}
		dir := g.v2
		if !s.v2Ctrl[c] {
			if err := s.makeV1(g, c); err != nil {
				return fail(err)
			}
			dir = g.v1[c]
		} else if c == Memory {
			g.v2Mem = true
		}
		if err := writeLimit(c, dir, !s.v2Ctrl[c], lim); err != nil {
			return fail(err)
		}
	}
	return g, nil
}

// makeV1 makes g's cgroup in controller c's v1 hierarchy, unless another
// controller mounted in the same hierarchy already made it.
func (s *Subtree) makeV1(g *Group, c string) error {
	dir := filepath.Join(s.v1Base[c], g.name)
	for _, d := range g.v1 {
		if d == dir {
			g.v1[c] = dir
			return nil
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	g.v1[c] = dir
	return nil
}

// writeLimit writes one controller's limit in v2 or v1 form.
func writeLimit(c, dir string, v1 bool, lim Limits) error {
	type kv struct{ file, val string }
	var files []kv
	switch {
	case c == Memory && !v1:
		files = []kv{{"memory.max", strconv.FormatInt(lim.MemoryMax, 10)}, {"memory.swap.max", "0"}}
	case c == Memory:
		files = []kv{{"memory.limit_in_bytes", strconv.FormatInt(lim.MemoryMax, 10)}, {"memory.memsw.limit_in_bytes", strconv.FormatInt(lim.MemoryMax, 10)}}
	case c == Pids:
		files = []kv{{"pids.max", strconv.FormatInt(lim.PidsMax, 10)}}
	case c == CPU && !v1:
		files = []kv{{"cpu.max", fmt.Sprintf("%d 100000", int64(lim.CPUMax*100000))}}
	case c == CPU:
		files = []kv{{"cpu.cfs_period_us", "100000"}, {"cpu.cfs_quota_us", strconv.FormatInt(int64(lim.CPUMax*100000), 10)}}
	}
	for i, f := range files {
		p := filepath.Join(dir, f.file)
		if err := os.WriteFile(p, []byte(f.val), 0o644); err != nil {
			if i > 0 && errors.Is(err, os.ErrNotExist) {
				continue // optional companions: swap accounting may be off
			}
			return fmt.Errorf("set %s=%s: %w", p, f.val, err)
		}
	}
	return nil
}

func readString(path string) string {
	b, _ := readFile(path)
	return string(bytes.TrimSpace(b))
}

// removeDir removes a cgroup directory, retrying briefly: the kernel may
// still be tearing down the last task when the cgroup reports empty.
func removeDir(dir string) error {
	var err error
	for delay := time.Millisecond; delay < 500*time.Millisecond; delay *= 2 {
		if err = os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(delay)
	}
	return err
}
