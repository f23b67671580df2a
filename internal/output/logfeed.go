package output

import (
	"sync"
	"time"
)

// LogBacklog is how far a stream's log file may fall behind its stream
// before it drops bytes. The backlog is memory held only while the log lags
// (a log that keeps up holds nothing), so a disk that stalls costs at most
// this much per stream writing to it.
const LogBacklog = 8 << 20

// keepSpare is the largest buffer a caught-up log writer keeps for reuse;
// a larger one (left from a backlog) goes back to the garbage collector.
const keepSpare = 256 << 10

// logFeed carries a stream's bytes to its log file through a goroutine of
// its own, so the writer of the stream (the runtime's single epoll loop)
// never waits for a disk: a slow disk delays only this log. Bytes are
// queued up to LogBacklog; beyond that the log skips them, and readers of
// those offsets are told what they missed, as with any follower that falls
// behind. Until the log holds them, queued bytes are read from memory
// (readAt): a reader is never told a byte is gone that the log will hold.
type logFeed struct {
	log *LogFile

	mu       sync.Mutex
	pending  []byte // queued bytes, from offset start
	start    int64
	busy     []byte // the bytes being written to the log now, from busyAt
	busyAt   int64
	logged   int64  // the log holds (or has skipped) every offset before this
	end      int64  // the offset after the last byte written to the stream
	spare    []byte // the writer's last buffer, for reuse
	dropping bool   // bytes were skipped since pending was last emptied
	closed   bool
	onDrop   func() // called once, at the first skipped byte
	dropped  bool

	wake chan struct{} // capacity 1: there is something to do
	done chan struct{} // closed once everything queued is written and the log closed
}

func newLogFeed(log *LogFile) *logFeed {
	f := &logFeed{log: log, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go f.run()
	return f
}

// write queues p, whose first byte has offset off. It never blocks on the
// disk.
func (f *logFeed) write(p []byte, off int64) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.end = off + int64(len(p))
	// Appending after a skip would break the queue's offsets: wait until
	// the writer has emptied it.
	if len(f.pending)+len(p) > LogBacklog || (f.dropping && len(f.pending) > 0) {
		f.dropping = true
		notify := !f.dropped
		f.dropped = true
		onDrop := f.onDrop
		f.mu.Unlock()
		if notify && onDrop != nil {
			onDrop()
		}
		return
	}
	if len(f.pending) == 0 {
		f.start, f.dropping = off, false
	}
	f.pending = append(f.pending, p...)
	f.mu.Unlock()
	f.poke()
}

func (f *logFeed) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// close ends the feed: the writer writes what is queued, then closes the
// log.
func (f *logFeed) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.poke()
}

// run is the log's writer: it takes the whole queue at a time and writes it
// with the lock released.
func (f *logFeed) run() {
	defer close(f.done)
	defer f.log.Close()
	for {
		f.mu.Lock()
		for len(f.pending) == 0 && !f.closed {
			f.mu.Unlock()
			<-f.wake
			f.mu.Lock()
		}
		if len(f.pending) == 0 { // closed, and everything queued is written
			end := f.end
			f.mu.Unlock()
			f.log.Skip(end) // what was skipped last is missed too
			return
		}
		buf, start := f.pending, f.start
		f.pending, f.spare = f.spare[:0], nil
		f.busy, f.busyAt = buf, start // readable until the log has it
		f.mu.Unlock()

		f.log.Skip(start) // nothing when no byte was skipped
		f.log.Write(buf)

		f.mu.Lock()
		f.busy, f.logged = nil, start+int64(len(buf))
		if cap(buf) <= keepSpare {
			f.spare = buf[:0]
		}
		f.mu.Unlock()
	}
}

// readAt copies bytes from offset off that the log does not hold yet but
// will: those its writer is writing now or has queued. Bytes between off
// and the first queued byte after it were skipped (start says so). ok is
// false when the log has offset off already, or never will and nothing
// after it is queued: the caller reads the log, then the ring.
func (f *logFeed) readAt(p []byte, off int64) (n int, start int64, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off < f.logged {
		return 0, off, false
	}
	for _, q := range [2]struct {
		at int64
		b  []byte
	}{{f.busyAt, f.busy}, {f.start, f.pending}} {
		if len(q.b) > 0 && off < q.at+int64(len(q.b)) {
			start = max(off, q.at)
			return copy(p, q.b[start-q.at:]), start, true
		}
	}
	return 0, off, false
}

// wait waits up to d for the writer to finish after close; it reports
// whether it did.
func (f *logFeed) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.done:
		return true
	case <-t.C:
		return false
	}
}
