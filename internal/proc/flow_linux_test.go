package proc

import (
	"bytes"
	"crypto/sha256"
	"hash"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/procd/procd/internal/testutil"
)

// flowSink is a FlowSink whose room the test hands out.
type flowSink struct {
	mu       sync.Mutex
	room     int
	got      int
	overrun  int // bytes written beyond the room given
	sum      hash.Hash
	resume   func()
	closed   chan struct{}
	resumeOK chan struct{} // SetResume was called
}

func newFlowSink(room int) *flowSink {
	return &flowSink{room: room, sum: sha256.New(), closed: make(chan struct{}), resumeOK: make(chan struct{})}
}

func (f *flowSink) Room() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.room
}

func (f *flowSink) SetResume(resume func()) {
	f.resume = resume
	close(f.resumeOK)
}

func (f *flowSink) Write(p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(p) > f.room {
		f.overrun += len(p) - f.room
		f.room = 0
	} else {
		f.room -= len(p)
	}
	f.got += len(p)
	f.sum.Write(p)
}

func (f *flowSink) Close() { close(f.closed) }

func (f *flowSink) grant(n int) {
	f.mu.Lock()
	f.room += n
	f.mu.Unlock()
	f.resume()
}

func (f *flowSink) received() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got
}

// pipeSize is pp's capacity, 0 once it is closed.
func pipeSize(pp *pipe) int {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.closed {
		return 0
	}
	n, _ := unix.FcntlInt(uintptr(pp.fd), unix.F_GETPIPE_SZ, 0)
	return n
}

// blockedInWrite reports whether pid sleeps in write(2) on a pipe.
func blockedInWrite(pid int) bool {
	wchan, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/wchan")
	return err == nil && strings.Contains(string(wchan), "pipe_write")
}

func TestFlowSinkHoldsTheWriterBackWithoutLosingAByte(t *testing.T) {
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>13)
	}
	file := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	const step = 256 << 10
	sink := newFlowSink(step)
	p, exited := start(t, "exec cat "+file, sink, nil)
	<-sink.resumeOK
	for granted := step; ; granted += step {
		// The reader takes exactly what it was given, then the child
		// blocks in write(2): nothing is read past the room. A busy pipe
		// may have been raised to 1 MiB (a privileged procd), and then
		// the child may finish writing once the rest fits in it.
		testutil.WaitForValue(t, "the reader to take its room and the child to block", func() [3]int {
			b := 0
			if blockedInWrite(p.Pid()) {
				b = 1
			}
			return [3]int{sink.received(), b, pipeSize(p.pipes[0])}
		}, func(v [3]int) bool {
			return v[0] == min(granted, len(data)) && (v[1] == 1 || len(data)-v[0] <= v[2])
		})
		if granted >= len(data) {
			break
		}
		sink.grant(step)
	}
	waitClosed(t, exited, "exit")
	sink.grant(1) // room to read end of file (the manager's Drain, after the leader exits)
	if !p.WaitOutput(10 * time.Second) {
		t.Fatal("the pipe never reached end of file")
	}
	waitClosed(t, sink.closed, "the sink's close")
	if sink.overrun != 0 {
		t.Fatalf("%d bytes were written past the room given", sink.overrun)
	}
	want := sha256.Sum256(data)
	if got := sink.sum.Sum(nil); !bytes.Equal(got, want[:]) {
		t.Fatalf("received %d bytes with a different digest", sink.received())
	}
}

func TestFinalDrainIgnoresRoom(t *testing.T) {
	// The leader exits with bytes left in the pipe and the sink has no room:
	// closing the pipe still captures what the pipe held (the record keeps
	// it; a flow sink copes with the overrun).
	sink := newFlowSink(0)
	p, exited := start(t, "head -c 30000 /dev/zero", sink, nil)
	waitClosed(t, exited, "exit")
	p.WaitOutput(50 * time.Millisecond) // nothing reads until it gives up waiting
	if got := sink.received(); got != 30000 {
		t.Fatalf("the final drain captured %d bytes, want 30000", got)
	}
}
