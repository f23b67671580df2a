package output

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/procd/procd/internal/testutil"
)

// readLikeTheRuntime reads the pipe src (non-blocking) into s as the
// runtime's poll loop does — within Room, a tee before each read — until
// end of file, and returns the bytes teed.
func readLikeTheRuntime(t *testing.T, s *Stream, src *os.File, room <-chan struct{}) (teed int) {
	t.Helper()
	fd := int(src.Fd())
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		r := s.Room()
		if r == 0 {
			select {
			case <-room:
			case <-time.After(30 * time.Second):
				t.Error("the reader got no room for 30 s")
				return teed
			}
			continue
		}
		want := buf[:min(r, len(buf))]
		n0 := s.Tee(fd, len(want))
		n, err := unix.Read(fd, want)
		if err == unix.EAGAIN {
			if n0 > 0 {
				t.Errorf("tee took %d bytes the read then did not find", n0)
				return teed
			}
			unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 100)
			continue
		}
		if n < n0 {
			t.Errorf("read %d bytes after a tee of %d (err %v)", n, n0, err)
			return teed
		}
		teed += n0
		if n <= 0 {
			s.Close()
			return teed
		}
		s.Write(buf[:n])
	}
}

// The tee path: the client's pipe gets every byte in order, most of them
// teed (never through procd's memory), the rest written or delivered by
// Run after a partial tee, and the ring still records every byte exactly.
func TestTeeKeepsTheRingAndTheClientExact(t *testing.T) {
	const size = 4 << 20
	s := NewStream(NewRing(size), nil, 256<<10)
	room := roomSignal(s)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := NewPipe(s.OpenSession(0), w)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { _, err := p.Run(ctx); runErr <- err }()

	data := randomBytes(size, 7)
	src, sink, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var wg sync.WaitGroup
	wg.Go(func() { // odd-sized writes, so pipe pages split across reads
		defer sink.Close()
		for done := 0; done < len(data); {
			n := min(len(data)-done, 1+(done*7919)%(40<<10))
			sink.Write(data[done : done+n])
			done += n
		}
	})
	var got bytes.Buffer
	wg.Go(func() { // a client in small reads: now behind, now caught up
		buf := make([]byte, 3000)
		for {
			n, err := r.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				return
			}
		}
	})
	teed := readLikeTheRuntime(t, s, src, room)
	wg.Wait()
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("the client got %d bytes, not the %d written in order", got.Len(), len(data))
	}
	rec := make([]byte, size+1)
	n, start, _ := s.ReadAt(rec, 0)
	if start != 0 || !bytes.Equal(rec[:n], data) {
		t.Fatalf("the ring holds %d bytes from %d, not the %d written", n, start, len(data))
	}
	if teed == 0 {
		t.Fatal("no byte was teed: the test did not exercise the tee path")
	}
	t.Logf("%d of %d bytes teed", teed, size)
}

// A tee that fits only part of what the process wrote: the rest is written
// into the session's hold, the stream takes nothing more (Room 0, the
// process's pipe holds the rest) until Run has delivered it, and the client
// and the ring get every byte once.
func TestAPartialTeeHoldsTheWriterUntilRunCatchesUp(t *testing.T) {
	s := NewStream(NewRing(1<<20), nil, 256<<10)
	room := roomSignal(s)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Two pages of room in the client's pipe, three pages waiting.
	if _, err := unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, 2*4096); err != nil {
		t.Fatal(err)
	}
	p, err := NewPipe(s.OpenSession(0), w)
	if err != nil {
		t.Fatal(err)
	}
	src, sink, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	data := randomBytes(3*4096, 8)
	for i := range 3 { // one write per page: three pipe buffers
		sink.Write(data[i*4096 : (i+1)*4096])
	}
	sink.Close()
	fd := int(src.Fd())
	unix.SetNonblock(fd, true)

	teed := s.Tee(fd, 64<<10)
	if teed != 2*4096 {
		t.Fatalf("tee took %d bytes, want the two pages the client's pipe has room for", teed)
	}
	buf := make([]byte, 64<<10)
	n, err := unix.Read(fd, buf)
	if n != len(data) {
		t.Fatalf("read %d bytes (%v), want %d", n, err, len(data))
	}
	s.Write(buf[:n])
	if got := s.Room(); got != 0 {
		t.Fatalf("Room = %d with the client's pipe full and a page held, want 0", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go p.Run(ctx)
	got := make([]byte, len(data))
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the client got the bytes out of order or changed")
	}
	select {
	case <-room: // the writer was called back once Run caught up
	case <-time.After(30 * time.Second):
		t.Fatal("the writer was not given room again after Run delivered the held page")
	}
	testutil.WaitFor(t, "room once Run caught up", func() bool { return s.Room() > 0 })
	rec := make([]byte, 2*len(data))
	if n, start, _ := s.ReadAt(rec, 0); start != 0 || !bytes.Equal(rec[:n], data) {
		t.Fatalf("the ring holds %d bytes from %d, not the %d written", n, start, len(data))
	}
	s.Close()
}

// roomSignal returns a channel signalled when the stream gives its writer
// room again (OnRoom).
func roomSignal(s *Stream) chan struct{} {
	room := make(chan struct{}, 1)
	s.OnRoom(func() {
		select {
		case room <- struct{}{}:
		default:
		}
	})
	return room
}
