package manager

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/procattr"
)

// stdin is a process's stdin pipe (or terminal). Writes are serialised;
// one Attach at a time may hold it, and while it does only the holder
// writes.
type stdin struct {
	id string

	mu     sync.Mutex // guards f, holder, closed
	f      *os.File
	holder string // who holds it ("" : nobody)
	closed bool

	write sync.Mutex // one write at a time, so chunks never interleave
}

// Write writes all of p unless ctx ends first. holder must be the current
// holder, or "" when there is none.
func (s *stdin) Write(ctx context.Context, holder string, p []byte) (int, error) {
	s.write.Lock()
	defer s.write.Unlock()
	s.mu.Lock()
	f, closed, current := s.f, s.closed, s.holder
	s.mu.Unlock()
	switch {
	case closed || f == nil:
		return 0, errdefs.Errorf(errdefs.ErrFailedPrecondition, "stdin of %s is closed", s.id)
	case current != holder:
		return 0, errdefs.Errorf(errdefs.ErrFailedPrecondition, "stdin of %s is held by %s; it must let go first", s.id, current)
	}
	// A blocked write (the child does not read) ends with the context.
	stop := context.AfterFunc(ctx, func() { f.SetWriteDeadline(time.Now()) })
	defer func() {
		if !stop() {
			f.SetWriteDeadline(time.Time{})
		}
	}()
	n, err := f.Write(p)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil:
		return n, fmt.Errorf("write to stdin of %s: %w", s.id, ctx.Err())
	case errors.Is(err, syscall.EPIPE), errors.Is(err, os.ErrClosed):
		return n, errdefs.Errorf(errdefs.ErrFailedPrecondition, "stdin of %s: nothing reads it any more (the process closed it or exited)", s.id)
	case errors.Is(err, syscall.EIO):
		return n, errdefs.Errorf(errdefs.ErrFailedPrecondition, "stdin of %s: the terminal is gone", s.id)
	}
	return n, fmt.Errorf("write to stdin of %s: %w", s.id, err)
}

// Close closes stdin (end of input for the process). For a terminal it
// sends the end-of-file character instead, as a terminal's user would.
func (s *stdin) Close(holder string, tty bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil
	case s.holder != holder:
		return errdefs.Errorf(errdefs.ErrFailedPrecondition, "stdin of %s is held by %s; it must let go first", s.id, s.holder)
	}
	if tty {
		s.f.Write([]byte{4}) // ^D
		return nil
	}
	s.closed = true
	return s.f.Close()
}

// shutdown closes the daemon's end for good (the process has exited).
func (s *stdin) shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	s.closed = true
}

// Acquire makes holder the only writer, or says who is.
func (s *stdin) Acquire(holder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errdefs.Errorf(errdefs.ErrFailedPrecondition, "stdin of %s is closed", s.id)
	case s.holder != "" && s.holder != holder:
		return errdefs.Errorf(errdefs.ErrFailedPrecondition, "stdin of %s is held by %s", s.id, s.holder)
	}
	s.holder = holder
	return nil
}

// Release lets go of stdin if holder holds it.
func (s *stdin) Release(holder string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holder == holder {
		s.holder = ""
	}
}

// stdinOf returns a process's stdin or says why there is none.
func (m *Manager) stdinOf(ref Ref) (*record, *stdin, error) {
	r, err := m.lookup(ref)
	if err != nil {
		return nil, nil, err
	}
	if r.stdin == nil {
		return r, nil, noStdin(r)
	}
	return r, r.stdin, nil
}

func noStdin(r *record) error {
	if r.stdinExternal {
		return errdefs.Errorf(errdefs.ErrFailedPrecondition,
			"the stdin of %s is a pipe of the client that started it (a local session's own pipe): only that client writes it", r.id)
	}
	return errdefs.Errorf(errdefs.ErrFailedPrecondition,
		"%s was started with stdin from /dev/null; start it with stdin as a pipe to write to it", r.id)
}

// WriteInput writes data to a process's stdin and then, if closeAfter,
// closes it. It fails with FAILED_PRECONDITION when stdin is not a pipe,
// is closed, or is held by an Attach.
func (m *Manager) WriteInput(ctx context.Context, ref Ref, data []byte, closeAfter bool) (int, error) {
	r, s, err := m.stdinOf(ref)
	if err != nil {
		return 0, err
	}
	n := 0
	if len(data) > 0 {
		if n, err = s.Write(ctx, "", data); err != nil {
			return n, err
		}
	}
	if closeAfter {
		err = s.Close("", r.spec.TTY != nil)
	}
	return n, err
}

// StdinHandle is a session's hold on a process's stdin.
type StdinHandle struct {
	s      *stdin
	holder string
	tty    bool
}

// acquireStdin makes holder (a session, named for messages) the only
// writer of a process's stdin until Release.
func (m *Manager) acquireStdin(r *record, holder string) (*StdinHandle, error) {
	if r.stdin == nil {
		return nil, noStdin(r)
	}
	if err := r.stdin.Acquire(holder); err != nil {
		return nil, err
	}
	return &StdinHandle{s: r.stdin, holder: holder, tty: r.spec.TTY != nil}, nil
}

// Write writes to the held stdin.
func (h *StdinHandle) Write(ctx context.Context, p []byte) (int, error) {
	return h.s.Write(ctx, h.holder, p)
}

// Close closes the held stdin (end of input).
func (h *StdinHandle) Close() error { return h.s.Close(h.holder, h.tty) }

// Release lets go of stdin.
func (h *StdinHandle) Release() { h.s.Release(h.holder) }

// resize sets the terminal size of a process started with a TTY.
func (m *Manager) resize(r *record, size procattr.WindowSize) error {
	if r.spec.TTY == nil {
		return errdefs.Errorf(errdefs.ErrFailedPrecondition, "%s has no terminal (start it with tty)", r.id)
	}
	if err := r.p.Resize(size); err != nil {
		return errdefs.Errorf(errdefs.ErrFailedPrecondition, "resize the terminal of %s: %v", r.id, err)
	}
	return nil
}
