package output

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// writeWithin writes p the way the runtime's pipe reader does: never more
// than Room at a time, stopping when Room is 0. It returns what it wrote.
func writeWithin(s *Stream, p []byte) int {
	done := 0
	for done < len(p) {
		room := s.Room()
		if room == 0 {
			break
		}
		n := min(room, len(p)-done, 64<<10)
		s.Write(p[done : done+n])
		done += n
	}
	return done
}

func randomBytes(n int, seed byte) []byte {
	p := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(p)
	return p
}

func TestSessionIsLosslessWhileTheRingDrops(t *testing.T) {
	const window = 256 << 10
	s := NewStream(NewRing(4<<10), nil, window)
	var woke atomic.Int32
	s.OnRoom(func() { woke.Add(1) })
	ss := s.OpenSession(0)
	defer ss.Close()

	data := randomBytes(3<<20, 1)
	var got []byte
	buf := make([]byte, 10000)
	written := 0
	for written < len(data) {
		n := writeWithin(s, data[written:])
		written += n
		// The writer stopped: the session lags by exactly the window.
		if written < len(data) {
			if lag := int64(written) - ss.Offset(); lag != window {
				t.Fatalf("writer stopped with the session %d bytes behind, want the window %d", lag, window)
			}
		}
		before := woke.Load()
		for ss.Available() > 0 {
			n, start, _ := ss.Read(buf)
			if start != int64(len(got)) {
				t.Fatalf("session read at %d, want %d (a gap)", start, len(got))
			}
			got = append(got, buf[:n]...)
		}
		if written < len(data) && woke.Load() == before {
			t.Fatal("the session caught up but the writer was not woken")
		}
	}
	s.Close()
	if n, _, eof := ss.Read(buf); n != 0 || !eof {
		t.Fatalf("after the end: n=%d eof=%v, want 0, true", n, eof)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("session got %d bytes, differing from the %d written", len(got), len(data))
	}
	if d := s.RingDropped(); d != int64(len(data)-4<<10) {
		t.Fatalf("ring dropped %d, want %d: the record keeps its own semantics", d, len(data)-4<<10)
	}
}

func TestSlowestSessionSetsThePace(t *testing.T) {
	s := NewStream(NewRing(1<<10), nil, 64<<10)
	fast, slow := s.OpenSession(0), s.OpenSession(0)
	defer fast.Close()
	if got := s.Room(); got != 64<<10 {
		t.Fatalf("room %d, want the window", got)
	}
	s.Write(make([]byte, 64<<10))
	buf := make([]byte, 128<<10)
	fast.Read(buf)
	if got := s.Room(); got != 0 {
		t.Fatalf("room %d with one session a window behind, want 0", got)
	}
	slow.Read(buf[:1000])
	if got := s.Room(); got != 1000 {
		t.Fatalf("room %d, want 1000 after the slowest read 1000 bytes", got)
	}
	slow.Close()
	if got := s.Room(); got != 64<<10 {
		t.Fatalf("room %d after the slow session left, want the window (the fast one is level)", got)
	}
	fast.Close()
	if got := s.Room(); got != Unlimited {
		t.Fatalf("room %d without sessions, want Unlimited", got)
	}
}

func TestDrainGivesSlackAndWakes(t *testing.T) {
	s := NewStream(NewRing(1<<10), nil, 64<<10)
	woke := make(chan struct{}, 1)
	s.OnRoom(func() { woke <- struct{}{} })
	ss := s.OpenSession(0)
	defer ss.Close()
	s.Write(make([]byte, 64<<10))
	if s.Room() != 0 {
		t.Fatal("want no room a window behind")
	}
	s.Drain()
	select {
	case <-woke:
	default:
		t.Fatal("Drain did not wake the blocked writer")
	}
	if got := s.Room(); got != DrainSlack {
		t.Fatalf("room %d while draining, want DrainSlack", got)
	}
}

func TestSessionOpenedLateReadsTheRecordBeforeIt(t *testing.T) {
	s := NewStream(NewRing(1<<10), nil, 64<<10)
	s.Write(bytes.Repeat([]byte("a"), 4<<10)) // the ring keeps the last 1 KiB
	ss := s.OpenSession(0)
	defer ss.Close()
	buf := make([]byte, 8<<10)
	n, start, _ := ss.Read(buf)
	if start != 3<<10 || n != 1<<10 {
		t.Fatalf("first read: %d bytes at %d, want the ring's 1 KiB at 3072 (3 KiB missed, said by start)", n, start)
	}
	s.Write([]byte("bbbb"))
	n, start, _ = ss.Read(buf)
	if start != 4<<10 || string(buf[:n]) != "bbbb" {
		t.Fatalf("second read: %q at %d, want bbbb at 4096", buf[:n], start)
	}
}

func TestReaderFollowsBothStreamsLosslessly(t *testing.T) {
	out := NewStream(NewRing(1<<10), nil, 64<<10)
	errs := NewStream(NewRing(1<<10), nil, 64<<10)
	done := make(chan struct{})
	r := NewReader(true, done)
	r.Add(1, out, 0, true)
	r.Add(2, errs, 0, true)
	defer r.Close()

	want := map[int][]byte{1: randomBytes(1<<20, 2), 2: randomBytes(300<<10, 3)}
	room := make(chan struct{}, 2)
	for _, s := range []*Stream{out, errs} {
		s.OnRoom(func() {
			select {
			case room <- struct{}{}:
			default:
			}
		})
	}
	go func() {
		// A writer that waits for room, like the pipe reader.
		streams := map[int]*Stream{1: out, 2: errs}
		pos := map[int]int{}
		for pos[1] < len(want[1]) || pos[2] < len(want[2]) {
			progress := 0
			for id, s := range streams {
				n := writeWithin(s, want[id][pos[id]:])
				pos[id] += n
				progress += n
			}
			if progress == 0 {
				<-room
			}
		}
		out.Close()
		errs.Close()
		close(done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := map[int][]byte{}
	for {
		ch, err := r.Next(ctx, 32<<10)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ch.Skipped != 0 || ch.Offset != int64(len(got[ch.Stream])) {
			t.Fatalf("stream %d: chunk at %d skipping %d, want %d and none", ch.Stream, ch.Offset, ch.Skipped, len(got[ch.Stream]))
		}
		got[ch.Stream] = append(got[ch.Stream], ch.Data...)
	}
	for id := range want {
		if !bytes.Equal(got[id], want[id]) {
			t.Fatalf("stream %d: got %d bytes, want the %d written", id, len(got[id]), len(want[id]))
		}
	}
}

func TestRecordReaderReportsWhatItMissed(t *testing.T) {
	s := NewStream(NewRing(1<<10), nil, 0)
	s.Write(make([]byte, 5000))
	s.Close()
	r := NewReader(false, nil)
	r.Add(1, s, 0, false)
	ch, err := r.Next(context.Background(), 64<<10)
	if err != nil || ch.Skipped != 5000-1024 || len(ch.Data) != 1024 {
		t.Fatalf("got %d bytes skipping %d (%v), want 1024 skipping 3976", len(ch.Data), ch.Skipped, err)
	}
	if _, err := r.Next(context.Background(), 64<<10); !errors.Is(err, io.EOF) {
		t.Fatalf("second Next: %v, want EOF", err)
	}
}
