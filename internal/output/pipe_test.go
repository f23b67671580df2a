//go:build unix

package output

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync"
	"testing"
	"time"
)

// A writer like the runtime's pipe reader: within Room, waiting for room
// (the OnRoom callback) when there is none.
func feed(t *testing.T, s *Stream, data []byte, room chan struct{}) {
	t.Helper()
	for done := 0; done < len(data); {
		r := s.Room()
		if r == 0 {
			select {
			case <-room:
			case <-time.After(30 * time.Second):
				t.Errorf("the writer got no room for 30 s with %d bytes left", len(data)-done)
				return
			}
			continue
		}
		// Odd sizes, so the direct path and Run's path interleave mid-line.
		n := min(r, len(data)-done, 1+(done*7919)%(96<<10))
		s.Write(data[done : done+n])
		done += n
	}
	s.Close()
}

func pipeSession(t *testing.T, window int) (*Stream, *Pipe, *os.File, chan struct{}) {
	t.Helper()
	s := NewStream(NewRing(8<<10), nil, window)
	room := make(chan struct{}, 1)
	s.OnRoom(func() {
		select {
		case room <- struct{}{}:
		default:
		}
	})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	p, err := NewPipe(s.OpenSession(0), w)
	if err != nil {
		t.Fatal(err)
	}
	return s, p, r, room
}

// Every byte reaches the client's pipe in order, through the writer's
// direct writes and Run's deliveries alike, while the ring (8 KiB) drops
// almost all of it; a slow client holds the writer back instead.
func TestPipeDeliversEveryByteInOrder(t *testing.T) {
	const window = 128 << 10
	s, p, r, room := pipeSession(t, window)
	data := randomBytes(16<<20, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { _, err := p.Run(ctx); runErr <- err }()
	var wg sync.WaitGroup
	wg.Go(func() { feed(t, s, data, room) })

	var got bytes.Buffer
	buf := make([]byte, 5000)
	for i := 0; ; i++ {
		if i%50 == 0 { // a slow client now and then: the writer must wait
			total, _, _ := s.Info()
			if lag := total - int64(got.Len()); lag > window+(64<<10)*2+int64(len(buf)) {
				t.Fatalf("the stream ran %d bytes ahead of the client, beyond the window and two pipe buffers", lag)
			}
		}
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("the client got %d bytes, not the %d written in order", got.Len(), len(data))
	}
}

// A client that closes its read end stops holding the writer back: the
// rest is discarded for it (the record keeps it), and Run ends at the end
// of the stream without an error.
func TestPipeClientGoneDiscards(t *testing.T) {
	s, p, r, room := pipeSession(t, 64<<10)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { _, err := p.Run(ctx); runErr <- err }()
	r.Close()
	done := make(chan struct{})
	go func() { feed(t, s, randomBytes(4<<20, 4), room); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the writer is still held back by a client that closed its pipe")
	}
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if total, _, _ := s.Info(); total != 4<<20 {
		t.Fatalf("the record got %d bytes, want all of them", total)
	}
}

// Ending Run's context while it waits for a client that reads nothing
// returns at once and detaches the pipe: the writer never writes to its
// descriptor again (it is closed, and its number may be reused).
func TestPipeRunEndsWithItsContext(t *testing.T) {
	s, p, _, room := pipeSession(t, 64<<10)
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { _, err := p.Run(ctx); runErr <- err }()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer p.ss.Close() // the writer gets room again and finishes
	wg.Go(func() { feed(t, s, randomBytes(1<<20, 5), room) })
	// Wait for the pipe (64 KiB) and the window to fill.
	deadline := time.Now().Add(30 * time.Second)
	for s.Room() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stream never filled the window")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-runErr:
		if err == nil {
			t.Fatal("Run returned nil after its context ended mid-stream")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	s.mu.Lock()
	n := len(s.pipes)
	s.mu.Unlock()
	if n != 0 {
		t.Fatalf("the stream still writes to %d pipe(s) after Run ended", n)
	}
}

// A pipe client that keeps up and a plain session that lags, on one
// stream: the stream skips its hold copy only for bytes every session
// has, so the lagging one still gets every byte.
func TestPipeBesideALaggingSession(t *testing.T) {
	s, p, r, room := pipeSession(t, 256<<10)
	slow := s.OpenSession(0)
	defer slow.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go p.Run(ctx)
	data := randomBytes(4<<20, 6)
	var wg sync.WaitGroup
	wg.Go(func() { feed(t, s, data, room) })
	var fast bytes.Buffer
	wg.Go(func() { io.Copy(&fast, r) })
	var lagged bytes.Buffer
	buf := make([]byte, 3000)
	for {
		n, _, eof := slow.Read(buf)
		lagged.Write(buf[:n])
		if eof {
			break
		}
		if n == 0 {
			<-slow.Wait()
		}
	}
	wg.Wait()
	if !bytes.Equal(fast.Bytes(), data) || !bytes.Equal(lagged.Bytes(), data) {
		t.Fatalf("pipe got %d bytes, lagging session %d, of %d (or not in order)", fast.Len(), lagged.Len(), len(data))
	}
}
