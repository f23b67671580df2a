package proc

import (
	"syscall"
	"time"
)

// Attr describes a process to start. Path is already resolved (see LookPath);
// Args includes argv[0].
type Attr struct {
	Path string
	Args []string
	Env  []string // "KEY=value" entries, exactly what the child gets
	Dir  string   // empty: the daemon's working directory
}

// ExitStatus is how a process ended, as the kernel reported it.
type ExitStatus struct {
	Code       int            // exit code; -1 when killed by a signal
	Signal     syscall.Signal // terminating signal; 0 when it exited normally
	CoreDumped bool
	Usage      Usage
}

// Usage is the resource usage of the leader and of the children it waited for.
type Usage struct {
	MaxRSS int64 // bytes
	User   time.Duration
	System time.Duration
}

// A Sink receives the bytes of one output pipe. Write is called from the
// Runtime's poll loop (or from WaitOutput) with bytes in pipe order and must
// not block; Close is called once, at end of file or when the pipe is closed
// early.
type Sink interface {
	Write(p []byte)
	Close()
}
