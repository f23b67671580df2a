package proc

import (
	"errors"
	"syscall"
)

// ErrProcessDone is returned when signalling a process that already exited
// (and whose group may no longer be signalled safely).
var ErrProcessDone = errors.New("process already exited")

// ShimError is a failure the exec shim reported before the program ran:
// an rlimit the kernel refused, or the exec itself.
type ShimError struct {
	Op    string // "rlimit" or "exec"
	Errno syscall.Errno
	Msg   string
}

func (e *ShimError) Error() string { return e.Msg }
func (e *ShimError) Unwrap() error { return e.Errno }
