package output

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

func readStream(s *Stream, off int64) ([]byte, int64) {
	var out []byte
	buf := make([]byte, 7000)
	first := int64(-1)
	for {
		n, start, _ := s.ReadAt(buf, off)
		if n == 0 {
			return out, first
		}
		if first < 0 {
			first = start
		}
		if start != off && len(out) > 0 {
			panic("gap in the middle of a read")
		}
		out = append(out, buf[:n]...)
		off = start + int64(n)
	}
}

// The ring plus the log give back every byte the log still holds, and the
// log stays within count × size.
func TestStreamReadsOlderBytesFromTheLog(t *testing.T) {
	dir := t.TempDir()
	log, err := OpenLog(dir, "stdout", 64<<10, 4)
	if err != nil {
		t.Fatal(err)
	}
	s := NewStream(NewRing(16<<10), log, 0)
	rng := rand.New(rand.NewPCG(3, 4))
	var all []byte
	for len(all) < 200<<10 {
		p := make([]byte, 1+rng.IntN(9000))
		for i := range p {
			p[i] = byte(rng.IntN(256))
		}
		s.Write(p)
		all = append(all, p...)
	}
	s.Close()
	if !s.WaitLog(time.Minute) {
		t.Fatal("the log writer did not finish")
	}
	if u := s.DiskUsage(); u > 4*64<<10 {
		t.Fatalf("disk usage %d over the cap", u)
	}
	total, oldest, _ := s.Info()
	if total != int64(len(all)) || oldest != total-s.DiskUsage() {
		t.Fatalf("info total %d oldest %d (disk %d, written %d)", total, oldest, s.DiskUsage(), len(all))
	}
	got, first := readStream(s, 0)
	if first != oldest || !bytes.Equal(got, all[oldest:]) {
		t.Fatalf("read %d bytes from %d; want %d from %d", len(got), first, int64(len(all))-oldest, oldest)
	}
	// From the middle of an old segment.
	mid := oldest + 100_000
	got, first = readStream(s, mid)
	if first != mid || !bytes.Equal(got, all[mid:]) {
		t.Fatalf("middle read from %d: %d bytes", first, len(got))
	}
	s.Remove()
}

// A log whose disk stalls holds up neither the stream's writer nor its
// ring: Write returns at once, the log queues LogBacklog bytes and skips
// the rest, says so once, and its readers are told what it missed.
func TestStalledLogDelaysOnlyTheLog(t *testing.T) {
	log, err := OpenLog(t.TempDir(), "stdout", 64<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	stall := make(chan struct{})
	log.delay = func(int) { <-stall }
	s := NewStream(NewRing(1<<20), log, 0)
	drops := 0
	s.OnLogDrop(func() { drops++ })
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	const total = 4 * LogBacklog
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range total / len(chunk) {
			s.Write(chunk)
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Write waited for a stalled disk")
	}
	if n, _, _ := s.ring.Info(); n != total {
		t.Fatalf("the ring took %d bytes, want %d", n, total)
	}
	if drops != 1 {
		t.Fatalf("the drop was reported %d times, want once", drops)
	}
	s.Close()
	close(stall) // the disk recovers
	if !s.WaitLog(time.Minute) {
		t.Fatal("the log writer did not finish")
	}
	written := log.DiskUsage()
	if written < LogBacklog-int64(len(chunk)) || written+s.LogMissed() != total {
		t.Fatalf("the log wrote %d and missed %d of %d bytes", written, s.LogMissed(), total)
	}
	// A reader from offset 0 gets the log's bytes, then is told what the
	// log and the ring both missed.
	buf := make([]byte, 1<<20)
	var off, got int64
	for off < total {
		n, start, _ := s.ReadAt(buf, off)
		if n == 0 {
			break
		}
		if start > off && got != written {
			t.Fatalf("a gap at %d after %d bytes read, before the log's %d", off, got, written)
		}
		got += int64(n)
		off = start + int64(n)
	}
	if off != total {
		t.Fatalf("the read ended at %d, want %d", off, total)
	}
}
