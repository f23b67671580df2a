package cgroup

import (
	"time"

	"go.uber.org/zap"
)

// Controllers procd uses for limits.
const (
	Memory = "memory"
	Pids   = "pids"
	CPU    = "cpu"
)

// Options configure Setup.
type Options struct {
	// Name of procd's directory in each hierarchy ("procd").
	Name   string
	Logger *zap.Logger
	// PoolSize is how many empty cgroups the pool keeps for trees without
	// limits (DefaultPoolSize when 0).
	PoolSize int
}

// Leftovers are what Setup found of a previous procd in the subtree and
// killed, and of other procds that are gone beside it.
type Leftovers struct {
	Groups    []string // cgroup names
	Pids      []int
	Abandoned Abandoned
}

// Abandoned is what Setup found of procds that are gone (their daemon and
// guardian both) in the directories beside its own, in every hierarchy it
// uses; Linux-only.
type Abandoned struct {
	Removed  []string // their directories, removed with everything below them
	Busy     []string // left: they still hold processes, or could not be removed
	Unmarked []string // procd directories no owner marked (an older procd's), left
}

// Limits bound one process tree. Zero values mean no limit.
type Limits struct {
	MemoryMax int64   // bytes
	PidsMax   int64   // tasks
	CPUMax    float64 // cores, e.g. 0.5
}

// Usage is what a tree consumed, from its cgroup.
type Usage struct {
	CPU        time.Duration // user + system of every process, exited ones included
	MemCurrent int64         // bytes now (0 when not accounted)
	MemPeak    int64         // highest seen (0 when not accounted)
	OOMKills   int64         // processes the kernel killed for memory
}

// Tasks is a v1 tasks file to join for a fork, and the one to return to.
type Tasks struct {
	Join, Home string
}
