package proc

import (
	"os"
	"syscall"
	"time"

	"github.com/procd/procd/internal/procattr"
)

// Attr describes a process to start. Path is already resolved (see LookPath);
// Args includes argv[0].
type Attr struct {
	Path string
	Args []string
	Env  []string // "KEY=value" entries, exactly what the child gets
	Dir  string   // empty: the daemon's working directory

	// Cgroup, if set, is a cgroup2 directory the child is cloned into
	// (CLONE_INTO_CGROUP): it is contained before it can fork.
	Cgroup *os.File
	// ThreadCgroups are cgroup v1 tasks files the spawning thread joins for
	// the fork and leaves after it (v1 membership is per thread and
	// inherited at fork), so the child starts in them atomically too.
	ThreadCgroups []ThreadCgroup
	// Rlimits are applied by the exec shim (see SetExecShim) just before
	// the program is executed.
	Rlimits []procattr.Rlimit
	// StdinPipe gives the child a pipe as stdin (else /dev/null); the
	// parent's end is Process.Stdin.
	StdinPipe bool
	// StdinFile, if set, is the child's stdin instead (a pipe a local
	// client handed over, which the child reads directly); the caller
	// keeps and closes its copy. It takes precedence over StdinPipe.
	StdinFile *os.File
	// Credential, if set, is the user and groups the child runs as.
	Credential *Credential
	// TTY, if set, runs the child on a new pseudo-terminal of that size, as
	// the leader of a new session: stdin, stdout and stderr are the
	// terminal, its output goes to the stdout sink, and Process.Stdin
	// writes to it.
	TTY *procattr.WindowSize
}

// Credential is a user and its groups.
type Credential struct {
	UID, GID uint32
	Groups   []uint32 // supplementary; empty drops procd's own
}

// ThreadCgroup is a v1 tasks file to join for a fork, and the one to
// return to afterwards.
type ThreadCgroup struct {
	Join, Home string
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

// A FlowSink is a Sink that can hold its pipe back, for readers that must
// not lose a byte: the runtime passes Write at most Room bytes, and when
// Room is 0 it stops reading the pipe (the child blocks in write(2) once the
// pipe is full, as on a direct pipe) until the function given to SetResume
// is called. SetResume is called once, before the first Room; the resume
// function may be called from any goroutine, with no lock of the sink held.
// The runtime's final drain of a pipe closed early ignores Room: the sink
// must then cope with more (and report what its readers miss).
type FlowSink interface {
	Sink
	Room() int
	SetResume(resume func())
}

// A TeeSink is a Sink that may take the pipe's next bytes into a pipe of
// its own with tee(2) before the runtime reads them: a copy that never
// passes through the daemon's memory. The runtime calls Tee with the
// pipe's descriptor (non-blocking) and the most it will read next; Tee
// returns how many bytes it copied (0: none), and the runtime's next Write
// then starts with exactly those bytes (the pipe holds them, so the read
// that follows gets at least as many). The sink still gets every byte
// through Write: a tee is an extra copy, not a diversion.
type TeeSink interface {
	Sink
	Tee(fd, limit int) int
}
