package proc

import "errors"

// ErrProcessDone is returned when signalling a process that already exited
// (and whose group may no longer be signalled safely).
var ErrProcessDone = errors.New("process already exited")
