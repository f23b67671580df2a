package output

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/procd/procd/internal/testutil"
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
	// Meanwhile a reader gets what the log will hold, from its writer's
	// queue, then is told what the log and the ring both missed.
	early, skipped := followRecord(t, s, 0)
	queued := int64(len(early)) - 1<<20 // the rest came from the ring
	if queued < LogBacklog || int64(len(early))+skipped != total {
		t.Fatalf("while the disk stalled: read %d bytes, told %d were missed, of %d", len(early), skipped, total)
	}
	s.Close()
	close(stall) // the disk recovers
	if !s.WaitLog(time.Minute) {
		t.Fatal("the log writer did not finish")
	}
	written := log.DiskUsage()
	if written != queued || written+s.LogMissed() != total {
		t.Fatalf("the log wrote %d (%d were read from its queue) and missed %d of %d bytes", written, queued, s.LogMissed(), total)
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

// followRecord reads s from off through a record follower (what a non-follow
// ReadOutput does), returning the bytes and the total the reader was told
// it missed.
func followRecord(t *testing.T, s *Stream, off int64) ([]byte, int64) {
	t.Helper()
	rd := NewReader(false, nil)
	defer rd.Close()
	rd.Add(1, s, off, false)
	var out []byte
	var skipped int64
	for {
		ch, err := rd.Next(context.Background(), 128<<10)
		if errors.Is(err, io.EOF) {
			return out, skipped
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ch.Data...)
		skipped += ch.Skipped
	}
}

// Bytes older than the ring that the log's writer has taken but not yet
// written (a slow disk) are read from the writer's queue, neither reported
// as missed nor cut short: after the stream ends, a reader sees everything
// the log will ever hold, whether or not its writer has drained (the final
// record waits for it only up to --pipe-wait).
func TestLaggingLogWriterIsReadFromItsQueue(t *testing.T) {
	log, err := OpenLog(t.TempDir(), "stdout", 64<<10, 64)
	if err != nil {
		t.Fatal(err)
	}
	var stalled atomic.Bool
	blocked, stall := make(chan struct{}, 1), make(chan struct{})
	release := sync.OnceFunc(func() { stalled.Store(false); close(stall) })
	t.Cleanup(release)
	log.delay = func(int) {
		if stalled.Load() {
			blocked <- struct{}{}
			<-stall
		}
	}
	s := NewStream(NewRing(64<<10), log, 0)
	rng := rand.New(rand.NewPCG(5, 6))
	all := make([]byte, 1<<20)
	for i := range all {
		all[i] = byte(rng.IntN(256))
	}
	// On disk: the first 100 KiB. In the writer's hands, stalled mid-write:
	// the next 200 KiB. Queued behind it: the rest, of which the ring holds
	// the last 64 KiB.
	s.Write(all[:100<<10])
	testutil.WaitFor(t, "the first bytes on disk", func() bool { return log.DiskUsage() == 100<<10 })
	stalled.Store(true)
	s.Write(all[100<<10 : 300<<10])
	<-blocked
	for p := all[300<<10:]; len(p) > 0; p = p[min(len(p), 9000):] {
		s.Write(p[:min(len(p), 9000)])
	}
	s.Close()
	if s.WaitLog(10 * time.Millisecond) {
		t.Fatal("the log's writer finished while its disk was stalled")
	}
	for _, from := range []int{0, 50 << 10, 150 << 10, 500 << 10} {
		got, skipped := followRecord(t, s, int64(from))
		if skipped != 0 || !bytes.Equal(got, all[from:]) {
			t.Fatalf("from %d, the writer stalled: read %d bytes, told %d were missed; want %d bytes, none missed",
				from, len(got), skipped, len(all)-from)
		}
	}
	release()
	if !s.WaitLog(time.Minute) {
		t.Fatal("the log writer did not finish")
	}
	if got, skipped := followRecord(t, s, 0); skipped != 0 || !bytes.Equal(got, all) || log.DiskUsage() != int64(len(all)) {
		t.Fatalf("the writer done: read %d bytes, %d missed; the log holds %d", len(got), skipped, log.DiskUsage())
	}
	s.Remove()
}

// Regression: a log that skipped bytes (its writer fell LogBacklog behind)
// and resumed at offset S must not hide the bytes before S that the ring
// still holds. A reader of a skipped offset older than the ring is told
// it missed only what neither the log nor the ring holds, then reads the
// ring from its oldest byte, not from S (the log's queue used to answer
// first with S, and the reader lost the ring's bytes before it).
func TestReaderOfASkippedOffsetGetsTheRingBeforeTheLogResumes(t *testing.T) {
	log, err := OpenLog(t.TempDir(), "stdout", 64<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	blocked, next := make(chan struct{}), make(chan struct{})
	log.delay = func(int) { blocked <- struct{}{}; <-next }
	s := NewStream(NewRing(64<<10), log, 0)
	rng := rand.NewChaCha8([32]byte{7, 8})
	var all []byte
	write := func(n int) {
		p := make([]byte, n)
		rng.Read(p)
		s.Write(p)
		all = append(all, p...)
	}
	write(64 << 10) // the writer takes it and stalls on the disk
	<-blocked
	for range LogBacklog/(64<<10) + 4 { // fills the queue, then 256 KiB are skipped
		write(64 << 10)
	}
	skipFrom := int64(64<<10 + LogBacklog)
	next <- struct{}{} // the first write lands; the writer takes the queue and stalls
	<-blocked
	write(16 << 10) // queued at S: the ring holds the 48 KiB skipped before it
	total := int64(len(all))
	ringOldest := total - 64<<10

	check := func(when string) {
		t.Helper()
		buf := make([]byte, 1<<20)
		n, start, _ := s.ReadAt(buf, skipFrom)
		if start != ringOldest || int64(n) != total-ringOldest || !bytes.Equal(buf[:n], all[start:]) {
			t.Errorf("%s: a read from %d (skipped) starts at %d with %d bytes; want the ring's %d from %d (the log resumes at %d)",
				when, skipFrom, start, n, total-ringOldest, ringOldest, total-16<<10)
		}
	}
	check("the log's writer stalled")
	s.Close()
	close(next)
	go func() {
		for range blocked {
		}
	}()
	if !s.WaitLog(time.Minute) {
		t.Fatal("the log writer did not finish")
	}
	close(blocked)
	if log.Missed() != 256<<10 {
		t.Fatalf("the log missed %d bytes, want %d", log.Missed(), 256<<10)
	}
	check("the log written")
	s.Remove()
}
