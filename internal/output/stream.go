package output

import (
	"math"
	"sync"
	"time"
)

// DrainSlack is how far past its window a stream's sessions may fall once
// the stream drains (see Stream.Drain): enough for whatever a pipe still
// buffers when its writers are gone (a pipe holds at most 1 MiB unless
// raised by root, and the runtime's final drain reads at most 4 MiB).
const DrainSlack = 4 << 20

// Unlimited is the Room of a stream without sessions.
const Unlimited = math.MaxInt

// Stream is one captured stream: its ring, a log file when the process
// asked for one, and the sessions reading it.
//
// The log file is written by a goroutine of its own, fed from Write (see
// logFeed): the writer of the stream never waits for a disk, and a log
// that falls LogBacklog behind skips bytes and says so to its readers.
//
// Records and sessions differ (README, "records may drop; sessions never
// do"): the ring and the log are records, written at full speed, dropping
// their oldest bytes under pressure and counting them. A Session is a pipe:
// every byte from its start, in order. While sessions are open the stream
// also keeps the bytes the slowest of them has not read yet, in a hold
// buffer of at most window (+DrainSlack) bytes, and Room tells the writer
// how much more it may capture before a session would lose a byte (nothing,
// while a session's local pipe is full and Run delivers what it holds: see
// Pipe); the writer (the runtime's pipe reader) stops reading the process's
// pipe at zero, so the process blocks in write(2) as on a direct pipe, and
// resumes when the callback set by OnRoom runs.
type Stream struct {
	ring   *Ring
	log    *LogFile // nil: ring only
	feed   *logFeed // the log's writer; nil without a log
	window int

	mu       sync.Mutex
	hold     *Ring // bytes from holdBase on, while sessions are open
	holdBase int64
	sessions map[*Session]struct{}
	draining bool
	blocked  bool   // Room returned 0: call onRoom once there is room
	onRoom   func() // set by the writer
	pipes    []*Pipe
	// teed bytes of the next Write are in teePipe already (see Tee).
	teed    int
	teePipe *Pipe
}

// NewStream returns a stream over ring and log (which may be nil) whose
// sessions may fall at most window bytes behind (at least 64 KiB).
func NewStream(ring *Ring, log *LogFile, window int) *Stream {
	s := &Stream{ring: ring, log: log, window: max(window, 64<<10)}
	if log != nil {
		s.feed = newLogFeed(log)
	}
	return s
}

// OnLogDrop sets a function called once, when the log file first falls
// LogBacklog behind and skips bytes (the disk is too slow). It is called
// from Write, without locks held. Call it before the first Write.
func (s *Stream) OnLogDrop(f func()) {
	if s.feed != nil {
		s.feed.mu.Lock()
		s.feed.onDrop = f
		s.feed.mu.Unlock()
	}
}

// LogMissed is the number of bytes the log file skipped because it fell
// behind.
func (s *Stream) LogMissed() int64 {
	if s.log == nil {
		return 0
	}
	return s.log.Missed()
}

// WaitLog waits up to d, after Close, for the log file to hold everything
// written; it reports whether it does (true without a log).
func (s *Stream) WaitLog(d time.Duration) bool {
	if s.feed == nil {
		return true
	}
	return s.feed.wait(d)
}

// Write captures p and returns the bytes the ring dropped (still readable
// from the log when there is one). The writer keeps len(p) within Room;
// should it not, the hold buffer drops its oldest bytes and a session that
// had not read them is told so, like any reader.
func (s *Stream) Write(p []byte) int64 {
	// Under mu, so a session opening now sees p either in the ring before
	// its hold buffer starts or in the hold buffer, never in neither.
	s.mu.Lock()
	defer s.mu.Unlock()
	at, _, _ := s.ring.Info()
	if s.feed != nil {
		s.feed.write(p, at)
	}
	teed, tp := min(s.teed, len(p)), s.teePipe
	s.teed, s.teePipe = 0, nil
	for _, pp := range s.pipes {
		if pp == tp {
			pp.wasTeed(p, teed, at)
			continue
		}
		pp.written(p, at) // straight into caught-up clients' pipes
	}
	if s.hold != nil {
		if s.allPast(at + int64(len(p))) {
			s.hold.skip(len(p)) // no session needs a copy
		} else {
			s.hold.Write(p)
		}
	}
	return s.ring.Write(p)
}

// Tee copies up to limit bytes waiting in the pipe fd, without consuming
// them, into the pipe of one caught-up session (tee(2)), and returns how
// many: the next Write must start with exactly those bytes (proc.TeeSink).
// The client's bytes then never pass through procd's memory; the ring and
// the log still get them from Write.
func (s *Stream) Tee(fd, limit int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pipes) == 0 {
		return 0
	}
	at, _, _ := s.ring.Info()
	for _, pp := range s.pipes {
		if n := pp.tee(fd, limit, at); n > 0 {
			s.teed, s.teePipe = n, pp
			return n
		}
	}
	return 0
}

// allPast reports whether every session has read up to off; s.mu is held.
func (s *Stream) allPast(off int64) bool {
	for ss := range s.sessions {
		if ss.off < off {
			return false
		}
	}
	return true
}

// Close marks the end of the stream.
func (s *Stream) Close() {
	s.mu.Lock()
	s.teed, s.teePipe = 0, nil
	s.ring.Close()
	if s.hold != nil {
		s.hold.Close()
	}
	for _, pp := range s.pipes {
		pp.kick()
	}
	s.mu.Unlock()
	if s.feed != nil {
		s.feed.close() // its writer closes the log once it has caught up
	}
}

// Info returns the bytes written, the oldest offset still readable (from
// the ring or the log) and whether the stream has ended.
func (s *Stream) Info() (total, oldest int64, closed bool) {
	total, oldest, closed = s.ring.Info()
	if s.log != nil {
		oldest = min(oldest, s.log.Oldest())
	}
	return total, oldest, closed
}

// RingDropped is the number of bytes the ring no longer holds.
func (s *Stream) RingDropped() int64 {
	_, oldest, _ := s.ring.Info()
	return oldest
}

// ReadAt reads from offset off like Ring.ReadAt, falling back to the log
// for offsets older than the ring (and to what the log's writer still
// holds for the log, when the disk lags). start-off is what the caller
// missed: bytes neither the ring nor the log holds any more, nor ever will.
func (s *Stream) ReadAt(p []byte, off int64) (n int, start int64, eof bool) {
	for s.log != nil {
		_, ringOldest, _ := s.ring.Info()
		if off >= ringOldest {
			break
		}
		n, start, ok := s.readLog(p, off)
		if !ok {
			break
		}
		if start <= ringOldest {
			return n, start, false
		}
		// The log skipped [off, start) (it fell behind), and the ring
		// holds [ringOldest, start): read them there, unless the ring has
		// moved past start meanwhile (then the log is first again).
		if n, rstart, eof := s.ring.ReadAt(p, off); rstart <= start {
			return n, rstart, eof
		}
	}
	return s.ring.ReadAt(p, off)
}

// readLog reads off from the log's writer's queue, else from the log: ok is
// false when neither holds off or anything after it.
func (s *Stream) readLog(p []byte, off int64) (n int, start int64, ok bool) {
	// The queue before the log: bytes leave the queue only once the log
	// has them.
	if n, start, ok := s.feed.readAt(p, off); ok {
		return n, start, true
	}
	n, start, err := s.log.ReadAt(p, off)
	return n, start, err == nil && n > 0
}

// Wait is Ring.Wait.
func (s *Stream) Wait(off int64) <-chan struct{} { return s.ring.Wait(off) }

// Remove deletes the log files, if any. A writer still at work stops: a
// closed log takes no more bytes.
func (s *Stream) Remove() {
	if s.log != nil {
		s.feed.close()
		s.log.Remove()
	}
}

// DiskUsage is the bytes in the log files.
func (s *Stream) DiskUsage() int64 {
	if s.log == nil {
		return 0
	}
	return s.log.DiskUsage()
}

// OnRoom sets the function called, without locks held, when Room has
// returned 0 and there is room again.
func (s *Stream) OnRoom(f func()) {
	s.mu.Lock()
	s.onRoom = f
	s.mu.Unlock()
}

// Room is how many more bytes the stream may capture now without a session
// losing one: Unlimited without sessions, else what is left of the window
// behind the slowest session. At 0 the writer must stop until OnRoom's
// function runs.
func (s *Stream) Room() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	room := s.roomLocked()
	s.blocked = room == 0
	return room
}

func (s *Stream) roomLocked() int {
	if len(s.sessions) == 0 {
		return Unlimited
	}
	for _, pp := range s.pipes {
		if pp.isLagging() && !s.draining {
			return 0
		}
	}
	total, _, _ := s.ring.Info()
	slowest := total
	for ss := range s.sessions {
		slowest = min(slowest, max(ss.off, s.holdBase))
	}
	limit := int64(s.window)
	if s.draining {
		limit += DrainSlack
	}
	return int(max(limit-(total-slowest), 0))
}

// Drain lets sessions fall DrainSlack bytes further behind: the writers of
// the pipe are gone (the process tree ended), and what the pipe still holds
// should be captured now rather than keep the final record waiting on the
// slowest client.
func (s *Stream) Drain() {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	s.wakeWriter()
}

// wakeWriter calls onRoom if the writer is waiting and there is room now.
func (s *Stream) wakeWriter() {
	s.mu.Lock()
	f := s.onRoom
	wake := s.blocked && s.roomLocked() > 0
	if wake {
		s.blocked = false
	}
	s.mu.Unlock()
	if wake && f != nil {
		f()
	}
}

// Session is a lossless reader of a stream (see Stream). It is not safe for
// concurrent use; different sessions are independent.
type Session struct {
	s      *Stream
	off    int64 // next offset to read; guarded by s.mu
	closed bool
}

// OpenSession starts a session at offset from (clamped to the stream's
// end). Every byte captured from now on reaches it; bytes before now are
// read from the ring or the log like any reader's, and may be gone.
func (s *Stream) OpenSession(from int64) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	total, _, closed := s.ring.Info()
	if s.hold == nil {
		s.hold = newRingAt(s.window+DrainSlack, total)
		s.holdBase = total
		if closed {
			s.hold.Close()
		}
	}
	if s.sessions == nil {
		s.sessions = make(map[*Session]struct{})
	}
	ss := &Session{s: s, off: min(max(from, 0), total)}
	s.sessions[ss] = struct{}{}
	return ss
}

// Offset is the offset of the next byte the session reads.
func (ss *Session) Offset() int64 {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	return ss.off
}

// Available is how many bytes the session could read now.
func (ss *Session) Available() int64 {
	total, _, _ := ss.s.ring.Info()
	return total - ss.Offset()
}

// Read copies the bytes at the session's offset into p and moves past them,
// giving the writer room. start is the offset of p[0]; start minus the
// offset before the read is what the session missed (only bytes from before
// it opened can be missed). eof is true at the end of a closed stream.
func (ss *Session) Read(p []byte) (n int, start int64, eof bool) {
	n, start, eof = ss.peek(p)
	if n > 0 {
		ss.advance(start + int64(n))
	}
	return n, start, eof
}

// peek is Read without moving past the bytes.
func (ss *Session) peek(p []byte) (n int, start int64, eof bool) {
	s := ss.s
	s.mu.Lock()
	off, hold := ss.off, s.hold
	s.mu.Unlock()
	if hold == nil || ss.closed {
		return 0, off, true
	}
	if _, oldest, _ := hold.Info(); off >= oldest {
		return hold.ReadAt(p, off)
	}
	return s.ReadAt(p, off) // from before the session opened
}

// advance moves the session to offset to, giving the writer room.
func (ss *Session) advance(to int64) {
	ss.s.mu.Lock()
	ss.off = max(ss.off, to)
	ss.s.mu.Unlock()
	ss.s.wakeWriter()
}

// Wait returns a channel closed once the session has bytes to read or the
// stream has ended.
func (ss *Session) Wait() <-chan struct{} { return ss.s.ring.Wait(ss.Offset()) }

// Close ends the session: it no longer holds the writer back.
func (ss *Session) Close() {
	s := ss.s
	s.mu.Lock()
	if !ss.closed {
		ss.closed = true
		delete(s.sessions, ss)
		if len(s.sessions) == 0 {
			s.hold = nil // its memory goes with the last session
		}
	}
	s.mu.Unlock()
	s.wakeWriter()
}
