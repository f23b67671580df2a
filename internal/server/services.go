package server

import (
	"context"
	"syscall"
	"time"

	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/executor"
	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/output"
)

// The handlers depend on the small interfaces below, declared here where
// they are used (etcd's v3rpc style), rather than on the manager, executor
// and bus types: each says what a group of RPCs calls and nothing more, so
// a wire test can hand the server a fake instead of spawning processes.
// The daemon passes the real components; they satisfy these interfaces
// without knowing them.

// Starter starts processes (StartProcess).
type Starter interface {
	Start(manager.Spec) (manager.Info, error)
	// CountStartFailure counts a request refused before Start (one the
	// server could not convert), so the start-failure figure is complete.
	CountStartFailure()
}

// Reader reads process records (GetProcess, ListProcesses,
// WaitForProcess, and Attach's final record).
type Reader interface {
	Get(manager.Ref) (manager.Info, error)
	List(manager.ListFilter) []manager.Info
	Wait(ctx context.Context, ref manager.Ref, timeout time.Duration) (info manager.Info, timedOut bool, err error)
	// WaitReady is Wait that also returns once the process is ready.
	WaitReady(ctx context.Context, ref manager.Ref, timeout time.Duration) (info manager.Info, timedOut bool, err error)
}

// Controller acts on processes (SendSignal, StopProcess, UpdateActivity,
// RemoveProcess, CleanupFinished).
type Controller interface {
	Signal(ref manager.Ref, sel *manager.Selector, sig syscall.Signal, leaderOnly bool) ([]manager.SignalResult, error)
	Stop(ctx context.Context, ref manager.Ref, sel *manager.Selector, opts manager.StopOptions) ([]manager.StopResult, error)
	UpdateActivity(manager.Ref) (manager.Info, error)
	Remove(manager.Ref) (manager.Info, error)
	CleanupFinished(sel *manager.Selector) ([]string, error)
}

// Stdio reaches a process's output and input (ReadOutput, WriteInput,
// Attach): record readers, and sessions.
type Stdio interface {
	OpenOutput(ref manager.Ref, o manager.OutputOptions) (*output.Reader, error)
	WriteInput(ctx context.Context, ref manager.Ref, data []byte, closeAfter bool) (int, error)
	Attach(ref manager.Ref, o manager.AttachOptions) (*manager.Session, error)
	StartAttached(spec manager.Spec, o manager.AttachOptions) (manager.Info, *manager.Session, error)
}

// ProcessFigures are the process table's and watchdog's figures (GetStats).
type ProcessFigures interface {
	Stats() manager.Stats
	WatchdogStats() manager.WatchdogStats
}

// Processes is everything the process service calls; *manager.Manager is
// one. A test fake may embed the interface and override only what its
// test calls (an unexpected call then panics, which the recovery
// interceptor turns into INTERNAL).
type Processes interface {
	Starter
	Reader
	Controller
	Stdio
	ProcessFigures
}

// Batches runs batches (RunBatch) and reports their figures (GetStats);
// *executor.Executor is one.
type Batches interface {
	Run(ctx context.Context, jobs []manager.Spec, o executor.Options, started func(id string), progress func(executor.Attempt)) (executor.Summary, error)
	Stats() executor.Stats
}

// EventSource is the event bus as WatchEvents and GetStats use it;
// *events.Bus is one.
type EventSource interface {
	Subscribe(f events.Filter, after *uint64) (*events.Subscription, error)
	Stats() events.Stats
}
