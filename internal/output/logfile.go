package output

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/procd/procd/internal/faults"
)

// LogFile keeps one stream's output on disk in rotated segments, so output
// older than the ring can still be read by offset. Each segment holds a
// known range of offsets; when the current one reaches the size cap a new
// one starts, and beyond the count cap the oldest is deleted. Disk use is
// therefore at most count × size bytes per stream.
type LogFile struct {
	dir, name string
	size      int64 // bytes per segment
	count     int   // segments kept

	mu       sync.Mutex
	segments []segment   // oldest first; the last is being written
	f        *os.File    // the last segment, open for appending
	total    int64       // offset of the next byte
	err      error       // first write error: logging stops, reads still work
	missed   int64       // bytes skipped because the writer fell behind
	delay    func(n int) // before each write of n bytes to disk: a slow disk in tests (faults)
}

type segment struct {
	path       string
	start, end int64 // offsets [start, end)
}

// OpenLog creates a log for one stream: files dir/name.0, dir/name.1, …
// (the number grows with each rotation). size and count are caps (at least
// 4 KiB and 1).
func OpenLog(dir, name string, size int64, count int) (*LogFile, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	l := &LogFile{dir: dir, name: name, size: max(size, 4096), count: max(count, 1), delay: func(int) {}}
	if err := l.rotate(); err != nil {
		return nil, err
	}
	return l, nil
}

// SetFaults slows writes to disk as inj says (PROCD_FAULT
// slow-log-write:N, N ms for every 64 KiB begun; nothing without the
// faults build tag). Call it before the log is shared.
func (l *LogFile) SetFaults(inj *faults.Injector) {
	if d := faults.LogWriteDelay(inj); d > 0 {
		l.delay = func(n int) { time.Sleep(d * time.Duration((n+64<<10-1)/(64<<10))) }
	}
}

// rotate starts a new segment at the current offset; l.mu is held (or l is
// not shared yet).
func (l *LogFile) rotate() error {
	if l.f != nil {
		l.f.Close()
	}
	n := 0
	if len(l.segments) > 0 {
		fmt.Sscanf(filepath.Ext(l.segments[len(l.segments)-1].path), ".%d", &n)
		n++
	}
	path := filepath.Join(l.dir, fmt.Sprintf("%s.%d", l.name, n))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	l.f = f
	l.segments = append(l.segments, segment{path: path, start: l.total, end: l.total})
	for len(l.segments) > l.count {
		os.Remove(l.segments[0].path)
		l.segments = l.segments[1:]
	}
	return nil
}

// Write appends p, rotating as needed. After a write error (a full disk)
// the log stops growing; the error is reported by Err and output keeps
// flowing to the ring. One goroutine writes (the stream's log writer); the
// disk is written without l.mu held, so readers and the stream's figures
// never wait for a slow disk.
func (l *LogFile) Write(p []byte) {
	for len(p) > 0 {
		l.mu.Lock()
		if l.err != nil {
			l.mu.Unlock()
			return
		}
		cur := &l.segments[len(l.segments)-1]
		room := l.size - (cur.end - cur.start)
		if room <= 0 {
			l.err = l.rotate()
			l.mu.Unlock()
			continue
		}
		f, chunk := l.f, p[:min(int64(len(p)), room)]
		l.mu.Unlock()
		l.delay(len(chunk))
		n, err := f.Write(chunk)
		l.mu.Lock()
		cur = &l.segments[len(l.segments)-1]
		cur.end += int64(n)
		l.total += int64(n)
		if err != nil && l.err == nil {
			l.err = err
		}
		l.mu.Unlock()
		p = p[n:]
	}
}

// Skip moves the log on to offset to, past bytes it never got (its writer
// fell too far behind): a reader of those offsets is told it missed them,
// as when the oldest segment is deleted. The next byte written has offset
// to, in a new segment.
func (l *LogFile) Skip(to int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil || to <= l.total {
		return
	}
	l.missed += to - l.total
	cur := &l.segments[len(l.segments)-1]
	l.total = to
	if cur.start == cur.end {
		cur.start, cur.end = to, to // an empty segment just moves on
		return
	}
	l.err = l.rotate()
}

// Missed is the number of bytes the log skipped (see Skip).
func (l *LogFile) Missed() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.missed
}

// Err is the error that stopped the log, if any.
func (l *LogFile) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Oldest is the oldest offset still on disk.
func (l *LogFile) Oldest() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.segments[0].start
}

// ReadAt reads bytes from offset off (or from the oldest kept offset, if
// off is older; start says which) up to the end of the segment holding it.
func (l *LogFile) ReadAt(p []byte, off int64) (n int, start int64, err error) {
	l.mu.Lock()
	var seg segment
	found := false
	for _, s := range l.segments {
		if off < s.end {
			seg, found = s, true
			break
		}
	}
	l.mu.Unlock()
	if !found {
		return 0, off, io.EOF
	}
	start = max(off, seg.start)
	f, err := os.Open(seg.path)
	if err != nil {
		return 0, start, err // rotated away meanwhile: the caller retries
	}
	defer f.Close()
	want := min(int64(len(p)), seg.end-start)
	n, err = f.ReadAt(p[:want], start-seg.start)
	if errors.Is(err, io.EOF) && n > 0 {
		err = nil
	}
	return n, start, err
}

// Close stops writing (the files stay readable).
func (l *LogFile) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	if l.err == nil {
		l.err = errors.New("log closed")
	}
}

// Remove deletes the files.
func (l *LogFile) Remove() {
	l.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.segments {
		os.Remove(s.path)
	}
	os.Remove(l.dir) // when it is the last stream's
}

// DiskUsage is the bytes held in the files.
func (l *LogFile) DiskUsage() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, s := range l.segments {
		n += s.end - s.start
	}
	return n
}
