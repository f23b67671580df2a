//go:build unix

package output

import (
	"context"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Pipe delivers a session's bytes into a pipe of a local client (the
// session's fast path), with the session's guarantees: every byte, in
// order, the process held back while the client lags.
//
// Bytes take the shortest way when they can: when the session has nothing
// pending, the runtime's pipe reader tees the process's next bytes into
// the client's pipe before it reads them (Stream.Tee, tee(2) on Linux: the
// kernel shares the pages, nothing is copied through procd), or, where tee
// cannot, Stream.Write writes them through itself — one hop from the
// process's pipe to the client's either way, without waking anyone, as
// when the client reads a child's pipe directly. What does not fit (the
// client's pipe is full, or the deliverer is busy) stays in the session,
// Run's goroutine delivers it, waiting for the client's pipe to drain, and
// meanwhile the stream takes nothing more (Room 0: see lagging), so a
// client that falls behind is held back by the process's own pipe, as a
// direct reader is, rather than by a copy in procd. Either way the record
// (ring, log) and the watchdog's activity get every byte.
type Pipe struct {
	ss    *Session
	f     *os.File // non-blocking, so Run's waits go through Go's poller
	fd    int      // f's descriptor, valid while !detached (see detach)
	kicks chan struct{}

	mu       sync.Mutex // held while writing to fd: one writer at a time, in order
	detached bool
	gone     bool // the client closed its read end: discard
	noTee    bool // tee(2) refused these descriptors: write instead
	// lagging: the client's pipe was full when bytes came; the stream
	// takes no more (Room 0) until Run has delivered what it holds, so
	// the process's pipe buffers the rest, as for a direct reader, rather
	// than procd's memory. Guarded by the stream's lock.
	lagging bool
	skipped int64 // bytes from before the session opened that were gone
}

// NewPipe delivers ss into f, which must be the write end of a pipe (made
// non-blocking here). Run it; it owns f from now on and closes it.
func NewPipe(ss *Session, f *os.File) (*Pipe, error) {
	raw, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	p := &Pipe{ss: ss, f: f, kicks: make(chan struct{}, 1)}
	raw.Control(func(fd uintptr) { p.fd = int(fd) })
	if err := unix.SetNonblock(p.fd, true); err != nil {
		return nil, err
	}
	s := ss.s
	s.mu.Lock()
	s.pipes = append(s.pipes, p)
	s.mu.Unlock()
	p.kick() // bytes from before now
	return p, nil
}

// kick wakes Run to deliver what the session holds.
func (p *Pipe) kick() {
	select {
	case p.kicks <- struct{}{}:
	default:
	}
}

// written is called by Stream.Write under the stream's lock with bytes
// just captured at offset at: if the session was caught up and nobody is
// writing to the pipe, write them through now, without blocking.
func (p *Pipe) written(b []byte, at int64) {
	if p.ss.off != at || !p.mu.TryLock() {
		p.kick()
		return
	}
	defer p.mu.Unlock()
	if p.detached {
		return
	}
	if p.gone {
		p.ss.off = at + int64(len(b))
		return
	}
	n, err := unix.Write(p.fd, b)
	if n > 0 {
		p.ss.off += int64(n)
	}
	switch {
	case err == unix.EPIPE:
		p.gone = true
		p.ss.off = at + int64(len(b))
	case n < len(b):
		p.lagging = true
		p.kick() // the rest waits in the session for Run
	}
}

// wasTeed is written for a Write whose first n bytes tee put in the pipe
// already; the stream's lock is held.
func (p *Pipe) wasTeed(b []byte, n int, at int64) {
	p.ss.off = max(p.ss.off, at+int64(n))
	if n < len(b) {
		p.written(b[n:], at+int64(n))
	}
}

// Run delivers the session into the pipe until the stream has ended and
// every byte is in the pipe (or discarded, once the client closed its read
// end: it then holds the process back no longer), or ctx ends; then it closes the pipe (end of file for the client). It reports
// the bytes the session asked for that were gone before it opened.
func (p *Pipe) Run(ctx context.Context) (skipped int64, err error) {
	defer p.close()
	stop := context.AfterFunc(ctx, p.close) // interrupts a wait for room
	defer stop()
	buf := make([]byte, 64<<10)
	for {
		eof, full, err := p.flush(buf)
		switch {
		case err != nil:
			return p.skipped, err
		case eof:
			return p.skipped, nil
		case full:
			if err := p.waitRoom(); err != nil {
				if ctx.Err() != nil {
					return p.skipped, context.Cause(ctx)
				}
				return p.skipped, err
			}
			continue
		}
		p.caughtUp()
		select {
		case <-p.kicks:
		case <-ctx.Done():
			return p.skipped, context.Cause(ctx)
		}
	}
}

// isLagging reports lagging; the stream's lock is held.
func (p *Pipe) isLagging() bool { return p.lagging }

// caughtUp lets the stream take bytes again once Run has delivered what a
// full pipe left it (see lagging).
func (p *Pipe) caughtUp() {
	s := p.ss.s
	s.mu.Lock()
	was := p.lagging
	p.lagging = false
	s.mu.Unlock()
	if was {
		s.wakeWriter()
	}
}

// flush writes what the session holds into the pipe until it is caught up
// (eof: at the end of the stream) or the pipe is full.
func (p *Pipe) flush(buf []byte) (eof, full bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.detached {
			return false, false, os.ErrClosed
		}
		p.ss.s.mu.Lock()
		off := p.ss.off
		p.ss.s.mu.Unlock()
		n, start, end := p.ss.peek(buf)
		p.skipped += start - off
		if n == 0 {
			return end, false, nil
		}
		if p.gone {
			p.ss.advance(start + int64(n))
			continue
		}
		w, err := unix.Write(p.fd, buf[:n])
		if w > 0 {
			p.ss.advance(start + int64(w))
		}
		switch {
		case err == unix.EPIPE:
			p.gone = true // discard from now on: the record still has every byte
		case err == unix.EAGAIN || (err == nil && w < n):
			return false, true, nil
		case err != nil && err != unix.EINTR:
			return false, false, err
		}
	}
}

// waitRoom waits until the client's pipe can take bytes again. The check
// is made each time Go's poller wakes it: the write that found the pipe
// full did not go through the poller, so its readiness may be stale.
func (p *Pipe) waitRoom() error {
	raw, err := p.f.SyscallConn()
	if err != nil {
		return err
	}
	return raw.Write(func(uintptr) bool {
		pfd := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLOUT}}
		n, _ := unix.Poll(pfd, 0)
		return n > 0
	})
}

// close detaches the pipe from the stream (the writer no longer touches
// its descriptor) and closes it; safe to call more than once.
func (p *Pipe) close() {
	p.mu.Lock()
	if p.detached {
		p.mu.Unlock()
		return
	}
	p.detached = true
	p.mu.Unlock()
	s := p.ss.s
	s.mu.Lock()
	for i, q := range s.pipes {
		if q == p {
			s.pipes = append(s.pipes[:i:i], s.pipes[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	s.wakeWriter() // a lagging pipe holds the stream back no longer
	p.f.Close()
}
