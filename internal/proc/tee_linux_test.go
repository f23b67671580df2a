package proc

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/procd/procd/internal/testutil"
)

// teeSink tees every read of its pipe into a pipe of its own, drained by
// a goroutine, and checks the TeeSink contract: each Write starts with
// exactly the bytes the Tee before it took.
type teeSink struct {
	buffer
	r, w    *os.File
	mu      sync.Mutex
	pending int          // teed, not yet seen in a Write
	want    bytes.Buffer // the bytes Writes say were teed
	short   int          // Writes shorter than the tee before them
	teed    bytes.Buffer // what reached the tee's pipe
	drained chan struct{}
}

func newTeeSink(t *testing.T) *teeSink {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &teeSink{buffer: buffer{closed: make(chan struct{})}, r: r, w: w, drained: make(chan struct{})}
	go func() {
		defer close(s.drained)
		buf := make([]byte, 64<<10)
		for {
			n, err := r.Read(buf)
			s.teed.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	return s
}

func (s *teeSink) Tee(fd, limit int) int {
	n, err := unix.Tee(fd, int(s.w.Fd()), limit, unix.SPLICE_F_NONBLOCK)
	if err != nil || n <= 0 {
		return 0
	}
	s.mu.Lock()
	s.pending = int(n)
	s.mu.Unlock()
	return int(n)
}

func (s *teeSink) Write(p []byte) {
	s.mu.Lock()
	if len(p) < s.pending {
		s.short++
	}
	s.want.Write(p[:min(s.pending, len(p))])
	s.pending = 0
	s.mu.Unlock()
	s.buffer.Write(p)
}

func (s *teeSink) Close() {
	s.w.Close()
	s.buffer.Close()
}

// The runtime honours a TeeSink: a tee before each read, and the Write
// after it starts with the teed bytes; every byte still reaches Write.
func TestTeeSinkSeesItsTeedBytesFirstInEveryWrite(t *testing.T) {
	data := make([]byte, 2<<20)
	rand.Read(data)
	file := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sink := newTeeSink(t)
	p, exited := start(t, "cat "+file, sink, nil)
	waitClosed(t, exited, "exit")
	if !p.WaitOutput(10 * time.Second) {
		t.Fatal("output did not reach EOF")
	}
	waitClosed(t, sink.drained, "the tee's pipe to drain")
	if sink.String() != string(data) {
		t.Fatalf("Write got %d bytes, not the %d written in order", len(sink.String()), len(data))
	}
	if sink.short != 0 {
		t.Fatalf("%d Writes were shorter than the tee before them", sink.short)
	}
	if sink.teed.Len() == 0 || !bytes.Equal(sink.teed.Bytes(), sink.want.Bytes()) {
		t.Fatalf("the tee's pipe got %d bytes; Writes began with %d teed ones (or they differ)", sink.teed.Len(), sink.want.Len())
	}
}

// A pipe whose reads come back full is raised to 1 MiB when procd may
// (CAP_SYS_RESOURCE), within the budget, which it gets back at the pipe's
// end; without the capability nothing is raised.
func TestABusyPipeIsRaisedWithinTheBudget(t *testing.T) {
	b := rt.poll.big
	b.mu.Lock()
	before := b.left
	b.left = min(b.left, 1) // one raise allowed during this test
	allowed := b.left
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.left += before - allowed
		b.mu.Unlock()
	}()
	var procs []*Process
	var exits []chan struct{}
	var sinks []*counter
	for range 2 { // writers far faster than one wake-up per 64 KiB
		c := &counter{}
		p, exited := start(t, "head -c 1G /dev/zero", c, nil)
		procs, exits, sinks = append(procs, p), append(exits, exited), append(sinks, c)
	}
	raised := func() (n int) {
		for _, p := range procs {
			if pipeSize(p.pipes[0]) == bigPipeSize {
				n++
			}
		}
		return n
	}
	killAll := func() {
		for _, p := range procs {
			p.SignalGroup(unix.SIGKILL)
		}
		for i, e := range exits {
			waitClosed(t, e, "exit")
			procs[i].WaitOutput(10 * time.Second)
		}
	}
	if allowed == 0 {
		if hasCapSysResource() {
			t.Fatal("a privileged procd has no budget for big pipes")
		}
		// Not privileged: nothing may be raised while they write (2 GiB
		// would take longer than waitClosed allows under -race and load).
		testutil.WaitFor(t, "both writers under way", func() bool {
			return sinks[0].n.Load() > 1<<20 && sinks[1].n.Load() > 1<<20
		})
		if n := raised(); n != 0 {
			t.Fatalf("%d pipes raised without CAP_SYS_RESOURCE or CAP_SYS_ADMIN", n)
		}
		killAll()
		return
	}
	testutil.WaitFor(t, "a busy pipe raised to 1 MiB", func() bool { return raised() == 1 })
	if n := raised(); n != 1 {
		t.Fatalf("%d pipes raised with a budget of one", n)
	}
	killAll()
	b.mu.Lock()
	left := b.left
	b.mu.Unlock()
	if left != allowed {
		t.Fatalf("the budget is %d after the pipes closed, want %d back", left, allowed)
	}
}

// counter is a Sink that counts what it is given.
type counter struct{ n atomic.Int64 }

func (c *counter) Write(p []byte) { c.n.Add(int64(len(p))) }
func (*counter) Close()           {}
