package manager

import (
	"context"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/output"
	"github.com/procd/procd/internal/procattr"
)

// StreamID names a process's output stream in output chunks.
type StreamID int

// Output streams.
const (
	Stdout StreamID = 1
	Stderr StreamID = 2
)

// OutputOptions says what to read of a process's output.
type OutputOptions struct {
	Stream       StreamID // 0: both
	StdoutOffset int64
	StderrOffset int64
	// Tail, if set, starts this many bytes before the end of each stream
	// instead of at the offsets.
	Tail   *int64
	Follow bool // keep reading until the process has ended
	// Lossless reads through sessions: every byte from the start offset,
	// holding the process back (it blocks in write(2)) while the reader
	// lags more than the session window. Without it the reader follows
	// the record: it never slows the process and is told what it missed.
	Lossless bool
}

// OpenOutput returns a reader of a process's output. Close it when done:
// a lossless reader holds the process back until then.
func (m *Manager) OpenOutput(ref Ref, o OutputOptions) (*output.Reader, error) {
	r, err := m.lookup(ref)
	if err != nil {
		return nil, err
	}
	return m.reader(r, o)
}

func (m *Manager) reader(r *record, o OutputOptions) (*output.Reader, error) {
	switch {
	case o.StdoutOffset < 0:
		return nil, errdefs.Errorf(errdefs.ErrInvalidArgument, "stdout offset %d is negative", o.StdoutOffset)
	case o.StderrOffset < 0:
		return nil, errdefs.Errorf(errdefs.ErrInvalidArgument, "stderr offset %d is negative", o.StderrOffset)
	case o.Tail != nil && *o.Tail < 0:
		return nil, errdefs.Errorf(errdefs.ErrInvalidArgument, "tail %d is negative", *o.Tail)
	}
	type src struct {
		id  StreamID
		s   *output.Stream
		off int64
	}
	var srcs []src
	switch o.Stream {
	case 0:
		srcs = []src{{Stdout, r.stdout, o.StdoutOffset}, {Stderr, r.stderr, o.StderrOffset}}
	case Stdout:
		srcs = []src{{Stdout, r.stdout, o.StdoutOffset}}
	case Stderr:
		srcs = []src{{Stderr, r.stderr, o.StderrOffset}}
	default:
		return nil, errdefs.Errorf(errdefs.ErrInvalidArgument, "output stream: unknown value %d", o.Stream)
	}
	rd := output.NewReader(o.Follow, r.ended)
	for _, x := range srcs {
		off := x.off
		if o.Tail != nil {
			total, _, _ := x.s.Info()
			off = max(0, total-*o.Tail)
		}
		rd.Add(int(x.id), x.s, off, o.Lossless)
	}
	return rd, nil
}

// AttachOptions opens a session on a process.
type AttachOptions struct {
	Output OutputOptions // Follow is implied
	Stdin  bool          // take the process's stdin (one session at a time)
	Holder string        // names the session in messages about stdin
	// StdinFile, for StartAttached only, is the process's stdin instead of
	// a pipe procd writes: a pipe a local client handed over, which the
	// process reads directly and the client alone writes and closes. The
	// caller keeps and closes its copy once StartAttached returns. Stdin
	// must be false: nobody can hold or write it through procd.
	StdinFile *os.File
}

// Session is one client's attach to a process: its output, its hold on
// stdin if it took it, and — for a process bound to it — the process's
// life. End it exactly once, when the client is done or gone.
type Session struct {
	m   *Manager
	r   *record
	out *output.Reader

	mu    sync.Mutex
	stdin *StdinHandle // nil: not held (never taken, or released)

	end sync.Once
}

// Attach opens a session on an existing process.
func (m *Manager) Attach(ref Ref, o AttachOptions) (*Session, error) {
	r, err := m.lookup(ref)
	if err != nil {
		return nil, err
	}
	o.Output.Follow = true
	rd, err := m.reader(r, o.Output)
	if err != nil {
		return nil, err
	}
	s := &Session{m: m, r: r, out: rd}
	if o.Stdin {
		if s.stdin, err = m.acquireStdin(r, o.Holder); err != nil {
			rd.Close()
			return nil, err
		}
	}
	return s, nil
}

// StartAttached starts a process with a session opened before the first
// byte of its output is read, so a lossless session gets all of it. With
// spec.BindToSession the process ends with the session (see End).
func (m *Manager) StartAttached(spec Spec, o AttachOptions) (Info, *Session, error) {
	if o.StdinFile != nil && (o.Stdin || spec.TTY != nil) {
		m.stats.startFailures.Add(1)
		return Info{}, nil, errdefs.Errorf(errdefs.ErrInvalidArgument,
			"start %q: a stdin handed over by the client cannot also be held through procd, or be a terminal", spec.Name)
	}
	if o.Stdin && spec.Stdin != StdinPipe && spec.TTY == nil {
		m.stats.startFailures.Add(1)
		return Info{}, nil, errdefs.Errorf(errdefs.ErrInvalidArgument,
			"start %q: the attach asks for stdin, but the spec's stdin is /dev/null (set stdin to pipe, or tty)", spec.Name)
	}
	o.Output.StdoutOffset, o.Output.StderrOffset, o.Output.Tail = 0, 0, nil
	return m.startChecked(spec, &o)
}

// newSession opens a session on a process being started: nobody can hold
// its stdin yet, and StartAttached checked there is one to take.
func (m *Manager) newSession(r *record, o *AttachOptions) *Session {
	o.Output.Follow = true
	rd, _ := m.reader(r, o.Output) // offsets are zero: cannot fail
	s := &Session{m: m, r: r, out: rd}
	if o.Stdin {
		s.stdin, _ = m.acquireStdin(r, o.Holder)
	}
	return s
}

// ID is the process's id.
func (s *Session) ID() string { return s.r.id }

// Next returns the next output chunk (see output.Reader.Next): io.EOF once
// the process has ended and all its output was read.
func (s *Session) Next(ctx context.Context, limit int) (output.Chunk, error) {
	return s.out.Next(ctx, limit)
}

// Info is the process's record (final once Next returned io.EOF).
func (s *Session) Info() Info { return s.m.info(s.r) }

func (s *Session) held() (*StdinHandle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stdin == nil {
		return nil, errdefs.Errorf(errdefs.ErrFailedPrecondition, "this attach does not hold the stdin of %s (attach with stdin, and do not release it)", s.r.id)
	}
	return s.stdin, nil
}

// Write writes to the process's stdin, which the session must hold.
func (s *Session) Write(ctx context.Context, p []byte) (int, error) {
	h, err := s.held()
	if err != nil {
		return 0, err
	}
	return h.Write(ctx, p)
}

// CloseStdin closes the process's stdin (end of input; ^D on a terminal).
func (s *Session) CloseStdin() error {
	h, err := s.held()
	if err != nil {
		return err
	}
	return h.Close()
}

// ReleaseStdin lets go of stdin, leaving it open for another client.
func (s *Session) ReleaseStdin() {
	s.mu.Lock()
	h := s.stdin
	s.stdin = nil
	s.mu.Unlock()
	if h != nil {
		h.Release()
	}
}

// Resize sets the terminal size of a process started with a TTY.
func (s *Session) Resize(size procattr.WindowSize) error { return s.m.resize(s.r, size) }

// End ends the session, however it ended — the client closed it, vanished,
// or got the final record. Stdin it still holds is closed, so the process
// sees end of input as with a pipe whose writer died (release it first to
// leave it open). A process bound to the session that has not ended yet is
// stopped with ReasonClientGone (stop signal, grace, SIGKILL to its tree);
// when the session closed its stdin (or the client's own pipe was its
// stdin, which the client's end closes), the process first gets its grace
// period to exit on its own, as a stdio server does at end of input.
func (s *Session) End() {
	s.end.Do(func() {
		s.out.Close()
		s.mu.Lock()
		h := s.stdin
		s.stdin = nil
		s.mu.Unlock()
		if h != nil {
			h.Close()
			h.Release()
		}
		r := s.r
		if !r.spec.BindToSession || isClosed(r.done) {
			return
		}
		s.m.log.Info("the session of a bound process ended before it; stopping it",
			zap.String("process-id", r.id), zap.Int("pid", r.pid), zap.Bool("stdin-closed", h != nil))
		stop := func() {
			s.m.escalate(r, ReasonClientGone, r.spec.StopSignal, r.spec.Grace,
				"client gone: the session that started it ended before it did")
		}
		if h == nil && !r.stdinExternal {
			stop()
			return
		}
		go func() {
			t := time.NewTimer(r.spec.Grace)
			defer t.Stop()
			select {
			case <-r.exited:
			case <-t.C:
				stop()
			}
		}()
	})
}

// PipeTo delivers the session's output into a local client's pipes, stdout
// into out and stderr into errOut (the fast path: see output.Pipe), instead
// of Next, until the process's output has ended and every byte is in the
// pipes; then it closes them. The session must be lossless. A client that
// closes a pipe's read end no longer holds the process back on it. It
// returns the bytes from before the session opened that were gone.
func (s *Session) PipeTo(ctx context.Context, out, errOut *os.File) (skipped int64, err error) {
	type run struct {
		skipped int64
		err     error
	}
	files := map[StreamID]*os.File{Stdout: out, Stderr: errOut}
	results := make(chan run, len(files))
	started := 0
	for id, f := range files {
		ss := s.out.Session(int(id))
		if ss == nil {
			f.Close()
			continue
		}
		p, err := output.NewPipe(ss, f)
		if err != nil {
			f.Close()
			results <- run{err: err}
			started++
			continue
		}
		started++
		go func() {
			n, err := p.Run(ctx)
			results <- run{n, err}
		}()
	}
	for range started {
		r := <-results
		skipped += r.skipped
		if err == nil {
			err = r.err
		}
	}
	if err != nil {
		return skipped, err
	}
	select { // the final record comes after the output
	case <-s.r.done:
		return skipped, nil
	case <-ctx.Done():
		return skipped, context.Cause(ctx)
	}
}
