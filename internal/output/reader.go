package output

import (
	"context"
	"io"
)

// Reader reads one or more streams of a process from offsets, each either
// as a record follower (what the ring and log still hold; gaps are reported
// in Chunk.Skipped, and the writer is never held back) or through a Session
// (every byte, the writer held back while the reader lags). It is not safe
// for concurrent use.
type Reader struct {
	curs   []*cursor
	follow bool
	done   <-chan struct{}
	next   int // the cursor served first next time, for fairness
}

type cursor struct {
	id   int
	s    *Stream
	sess *Session // nil: a record follower
	off  int64
	eof  bool
}

// Chunk is one piece of a stream.
type Chunk struct {
	Stream  int   // the id given to Add
	Offset  int64 // of Data[0]
	Data    []byte
	Skipped int64 // bytes before Offset the reader asked for but that were gone
}

// NewReader returns a reader. With follow, Next waits for more output until
// every stream has ended and done (closed when the process's final record
// is published) is closed; without, it returns io.EOF once it has read what
// is there.
func NewReader(follow bool, done <-chan struct{}) *Reader {
	return &Reader{follow: follow, done: done}
}

// Add reads s from offset from, under the caller's stream id (a reader
// follows at most two streams: a process's stdout and stderr). lossless
// opens a Session (Close ends it).
func (r *Reader) Add(id int, s *Stream, from int64, lossless bool) {
	c := &cursor{id: id, s: s, off: from}
	if lossless {
		c.sess = s.OpenSession(from)
		c.off = c.sess.Offset()
	}
	r.curs = append(r.curs, c)
}

// Close ends the reader's sessions, so they hold no writer back.
func (r *Reader) Close() {
	for _, c := range r.curs {
		if c.sess != nil {
			c.sess.Close()
		}
	}
}

// Next returns the next chunk of at most limit bytes, waiting for one when
// following. It returns io.EOF at the end, and context.Cause(ctx) when ctx
// ends first. A chunk's Data is its own (never reused by the reader).
func (r *Reader) Next(ctx context.Context, limit int) (Chunk, error) {
	for {
		for i := range r.curs {
			c := r.curs[(r.next+i)%len(r.curs)]
			if ch, ok := c.read(limit); ok {
				r.next = (r.next + i + 1) % len(r.curs)
				return ch, nil
			}
		}
		if !r.follow {
			return Chunk{}, io.EOF
		}
		var waits []<-chan struct{}
		for _, c := range r.curs {
			if !c.eof {
				waits = append(waits, c.wait())
			}
		}
		if len(waits) == 0 {
			// Every stream ended and was read in full; following lasts
			// until the process has exited (it may have closed its output
			// and gone on running).
			select {
			case <-r.done:
				return Chunk{}, io.EOF
			case <-ctx.Done():
				return Chunk{}, context.Cause(ctx)
			}
		}
		waits = append(waits, nil) // pad: a nil channel never fires
		select {
		case <-waits[0]:
		case <-waits[1]:
		case <-ctx.Done():
			return Chunk{}, context.Cause(ctx)
		}
	}
}

// read returns the next chunk of c, if it has one now.
func (c *cursor) read(limit int) (Chunk, bool) {
	if c.eof {
		return Chunk{}, false
	}
	// Size the buffer to what is there (a chunk handed out must not change
	// afterwards, so buffers cannot be reused): an echo line should not cost
	// a large allocation.
	var avail int64
	if c.sess != nil {
		avail = c.sess.Available()
	} else {
		total, oldest, _ := c.s.Info()
		avail = total - max(c.off, oldest)
	}
	buf := make([]byte, min(max(avail, 1), int64(limit)))
	var n int
	var start int64
	var eof bool
	if c.sess != nil {
		n, start, eof = c.sess.Read(buf)
	} else {
		n, start, eof = c.s.ReadAt(buf, c.off)
	}
	if eof {
		c.eof = true
	}
	if n == 0 {
		return Chunk{}, false
	}
	ch := Chunk{Stream: c.id, Offset: start, Data: buf[:n], Skipped: start - c.off}
	c.off = start + int64(n)
	return ch, true
}

func (c *cursor) wait() <-chan struct{} {
	if c.sess != nil {
		return c.sess.Wait()
	}
	return c.s.Wait(c.off)
}

// Session returns the session reading stream id, or nil when the reader
// follows it as a record (or does not read it).
func (r *Reader) Session(id int) *Session {
	for _, c := range r.curs {
		if c.id == id {
			return c.sess
		}
	}
	return nil
}
