package output

import (
	"context"
	"errors"
	"os"
)

// Pipe is the local fast path of sessions, which needs Unix pipes; on
// Windows sessions stay on the stream.
type Pipe struct{}

// NewPipe fails on Windows.
func NewPipe(*Session, *os.File) (*Pipe, error) {
	return nil, errors.New("a session's local pipes need a Unix system")
}

// Run does nothing on Windows.
func (*Pipe) Run(context.Context) (int64, error) { return 0, nil }

func (*Pipe) written([]byte, int64)      {}
func (*Pipe) kick()                      {}
func (*Pipe) tee(int, int, int64) int    { return 0 }
func (*Pipe) wasTeed([]byte, int, int64) {}

// lagging is a field on Unix; a Windows Pipe never exists.
func (*Pipe) isLagging() bool { return false }
