// Package output holds captured process output: a bounded in-memory ring per
// stream, addressed by absolute byte offset so readers can resume exactly
// where they left off and learn precisely how many bytes they missed.
//
// Writers never block and never fail: a ring that is full drops its oldest
// bytes and counts them. There is no notion of lines, so no line length can
// break it (the bufio.Scanner 64 KiB trap). The package does not know where
// the bytes come from (see internal/proc) or who reads them.
package output

import "sync"

// minCap is a ring's initial capacity: a quiet process costs almost nothing,
// and a ring grows by doubling up to its maximum as output arrives.
const minCap = 4 << 10

// Ring holds the most recent bytes of one stream. Use NewRing; it is safe for
// concurrent use.
type Ring struct {
	mu     sync.Mutex
	buf    []byte // len(buf) is the current capacity, ≤ max
	max    int
	held   int   // bytes held: offsets [total-held, total)
	total  int64 // bytes ever written: the offset of the next byte
	closed bool
	wait   chan struct{} // closed at the next write or close, if anyone waits
}

// NewRing returns an empty ring that holds at most limit bytes (at least 1).
func NewRing(limit int) *Ring {
	return &Ring{max: max(limit, 1)}
}

// newRingAt returns an empty ring whose first byte will have offset base.
func newRingAt(limit int, base int64) *Ring {
	return &Ring{max: max(limit, 1), total: base}
}

// Write appends p, dropping the oldest bytes beyond the ring's maximum, and
// returns how many bytes became unavailable through this write (held bytes
// evicted plus bytes of p that never fit). Bytes written after Close are
// discarded.
func (r *Ring) Write(p []byte) (dropped int64) {
	if len(p) == 0 {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0
	}
	before := r.total - int64(r.held)
	n := len(p)
	if len(p) > r.max {
		p = p[len(p)-r.max:] // only the tail can be held
	}
	r.grow(r.held + len(p))
	c := len(r.buf)
	r.held = min(r.held, c-len(p))
	pos := int((r.total + int64(n-len(p))) % int64(c))
	k := copy(r.buf[pos:], p)
	copy(r.buf, p[k:])
	r.total += int64(n)
	r.held += len(p)
	r.wake()
	return (r.total - int64(r.held)) - before
}

// grow enlarges the buffer toward need bytes (within max), keeping each held
// byte at its offset modulo the new capacity.
func (r *Ring) grow(need int) {
	c := len(r.buf)
	if need <= c || c == r.max {
		return
	}
	nc := max(c, min(minCap, r.max))
	for nc < need && nc < r.max {
		nc *= 2
	}
	nc = min(nc, r.max)
	nb := make([]byte, nc)
	start := r.total - int64(r.held)
	for done := 0; done < r.held; {
		off := start + int64(done)
		so, do := int(off%int64(c)), int(off%int64(nc))
		k := min(r.held-done, c-so, nc-do)
		copy(nb[do:do+k], r.buf[so:so+k])
		done += k
	}
	r.buf = nb
}

// skip moves the ring n bytes on without holding them: every byte held so
// far is dropped with them. A stream's hold buffer skips bytes every
// session already has.
func (r *Ring) skip(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || n == 0 {
		return
	}
	r.total += int64(n)
	r.held = 0
	r.wake()
}

// Close marks the end of the stream: readers at the end see EOF.
func (r *Ring) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.wake()
}

func (r *Ring) wake() {
	if r.wait != nil {
		close(r.wait)
		r.wait = nil
	}
}

// Info returns the bytes written so far, the oldest offset still held (equal
// to the bytes dropped) and whether the stream has ended.
func (r *Ring) Info() (total, oldest int64, closed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total, r.total - int64(r.held), r.closed
}

// ReadAt copies held bytes starting at offset off into p. If off is older
// than the oldest held byte, reading starts at the oldest one instead: start
// is the offset of p[0], and start-off is the number of bytes the caller
// missed. eof is true when off has reached the end of a closed stream.
func (r *Ring) ReadAt(p []byte, off int64) (n int, start int64, eof bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start = max(off, r.total-int64(r.held))
	if start >= r.total {
		return 0, r.total, r.closed
	}
	c := int64(len(r.buf))
	for n < len(p) && start+int64(n) < r.total {
		pos := (start + int64(n)) % c
		k := min(int64(len(p)-n), c-pos, r.total-start-int64(n))
		copy(p[n:], r.buf[pos:pos+k])
		n += int(k)
	}
	return n, start, false
}

// Wait returns a channel that is closed once bytes beyond offset off exist or
// the stream has ended (at once if either is already true).
func (r *Ring) Wait(off int64) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.total > off || r.closed {
		return closedChan
	}
	if r.wait == nil {
		r.wait = make(chan struct{})
	}
	return r.wait
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()
