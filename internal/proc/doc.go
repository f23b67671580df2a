// Package proc is procd's operating-system layer: it starts processes, signals
// and reaps them without PID-reuse races, captures their output pipes and
// cleans up what their trees leave behind.
//
// On Linux a Runtime owns every child of the daemon:
//
//   - processes are started from one goroutine locked to an OS thread that
//     lives as long as the Runtime, so Pdeathsig (which fires when the creating
//     thread exits, golang/go#27505) kills them only when the daemon goes away;
//   - each process leads a new process group, and its pidfd is the only handle
//     used to signal and wait for it;
//   - one epoll loop watches all pidfds and output pipes, so a watched process
//     costs file descriptors but no goroutine or thread;
//   - the daemon is a child subreaper, and the Runtime reaps descendants
//     reparented to it, but never a process it started: exactly one waiter per
//     child (a blanket wait4(-1) would steal exit statuses).
//
// Because reaping is process-wide, at most one Runtime may be open in a
// process, and a process with a Runtime must not start children in its own
// process group with os/exec and also expect the Runtime to leave their
// grandchildren alone; the Runtime only reaps children outside the daemon's
// own process group, so plain os/exec children are never touched.
//
// The package knows nothing about procd's records, policies or gRPC.
package proc
