//go:build !linux

package cgroup

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// Subtree is unavailable off Linux.
type Subtree struct{}

// Group is unavailable off Linux.
type Group struct{}

// Setup fails off Linux: containment falls back to process groups.
func Setup(Layout, Options) (*Subtree, Leftovers, error) {
	return nil, Leftovers{}, errors.New("cgroups are Linux-only")
}

// Controllers is empty.
func (s *Subtree) Controllers() map[string]string { return nil }

// Remove does nothing.
func (s *Subtree) Remove() error { return nil }

// LockFiles is empty.
func (s *Subtree) LockFiles() []*os.File { return nil }

// Dirs is empty.
func (s *Subtree) Dirs() []string { return nil }

// RemoveDirs does nothing.
func RemoveDirs([]string, time.Duration) error { return nil }

// Base is empty.
func (s *Subtree) Base() string { return "" }

// New fails.
func (s *Subtree) New(string, Limits) (*Group, error) {
	return nil, errors.New("cgroups are Linux-only")
}

// Name is empty.
func (g *Group) Name() string { return "" }

// Path is empty.
func (g *Group) Path() string { return "" }

// Open fails.
func (g *Group) Open() (*os.File, error) { return nil, errors.New("cgroups are Linux-only") }

// V1Tasks is empty.
func (g *Group) V1Tasks() []Tasks { return nil }

// Pids is empty.
func (g *Group) Pids() ([]int, error) { return nil, nil }

// Populated is false.
func (g *Group) Populated() bool { return false }

// PopulatedErr is false.
func (g *Group) PopulatedErr() (bool, error) { return false, nil }

// WaitEmpty returns true.
func (g *Group) WaitEmpty(time.Duration) bool { return true }

// Kill does nothing.
func (g *Group) Kill() error { return nil }

// Signal does nothing.
func (g *Group) Signal(syscall.Signal, int) (int, error) { return 0, nil }

// Usage is zero.
func (g *Group) Usage() Usage { return Usage{} }

// CPU is unavailable off Linux.
func (g *Group) CPU() (time.Duration, bool) { return 0, false }

// Remove does nothing.
func (g *Group) Remove() error { return nil }

// FinalUsage is zero.
func (g *Group) FinalUsage() Usage { return Usage{} }

// Pooled is false.
func (g *Group) Pooled() bool { return false }

// Take fails.
func (s *Subtree) Take() (*Group, error) { return nil, errors.New("cgroups are Linux-only") }

// Prefill does nothing.
func (s *Subtree) Prefill(int) error { return nil }

// Release recycles nothing.
func (s *Subtree) Release(*Group) (Usage, bool) { return Usage{}, false }
