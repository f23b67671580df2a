package output

// Stream is one captured stream: its ring, and a log file when the process
// asked for one. Reads by offset come from the ring, and from the log for
// offsets the ring no longer holds.
type Stream struct {
	ring *Ring
	log  *LogFile // nil: ring only
}

// NewStream returns a stream over ring and log (which may be nil).
func NewStream(ring *Ring, log *LogFile) *Stream { return &Stream{ring: ring, log: log} }

// Write captures p and returns the bytes the ring dropped (still readable
// from the log when there is one).
func (s *Stream) Write(p []byte) int64 {
	if s.log != nil {
		s.log.Write(p)
	}
	return s.ring.Write(p)
}

// Close marks the end of the stream.
func (s *Stream) Close() {
	s.ring.Close()
	if s.log != nil {
		s.log.Close()
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
// for offsets older than the ring. start-off is what the caller missed:
// bytes neither the ring nor the log holds any more.
func (s *Stream) ReadAt(p []byte, off int64) (n int, start int64, eof bool) {
	if s.log != nil {
		if _, ringOldest, _ := s.ring.Info(); off < ringOldest {
			if n, start, err := s.log.ReadAt(p, off); err == nil && n > 0 {
				// Never return bytes beyond what the ring says exists yet.
				return n, start, false
			}
		}
	}
	return s.ring.ReadAt(p, off)
}

// Wait is Ring.Wait.
func (s *Stream) Wait(off int64) <-chan struct{} { return s.ring.Wait(off) }

// Remove deletes the log files, if any.
func (s *Stream) Remove() {
	if s.log != nil {
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
