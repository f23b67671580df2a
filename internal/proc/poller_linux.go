package proc

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

const (
	readChunk = 64 << 10 // one pipe's default capacity
	// readsPerWake bounds how much one chatty pipe is read before the loop
	// serves the others (level-triggered epoll reports it again).
	readsPerWake = 4
	// drainLimit bounds the final read of a pipe closed early: a descendant
	// still writing must not keep WaitOutput busy forever.
	drainLimit = 4 << 20
)

// poller is one epoll loop over every pidfd and output pipe of the Runtime.
// Entries are identified by a token that is never reused, not by fd number:
// an event that was already fetched for an entry closed meanwhile (whose fd
// number may have been reused) finds no entry and is ignored.
type poller struct {
	epfd   int
	wakefd int // eventfd: wakes the loop for close

	mu      sync.Mutex
	entries map[uint64]*pollEntry
	next    uint64
	closing bool
	exits   map[int]uint64 // pidfd → token, to remove exit watches

	buf  []byte // scratch for the loop goroutine only
	big  *pipeBudget
	done chan struct{}
}

type pollEntry struct {
	token  uint64
	fd     int
	onExit func() // set for pidfd entries
	pipe   *pipe  // set for pipe entries
}

// pipe is one output pipe's read end.
type pipe struct {
	token uint64
	sink  Sink
	flow  FlowSink      // sink, if it can hold the pipe back; else nil
	tee   TeeSink       // sink, if it takes tees; else nil
	done  chan struct{} // closed at EOF or early close

	mu     sync.Mutex // serialises reads, writes to sink and close
	fd     int
	closed bool
	paused bool // out of the epoll set until the sink has room
	raised bool // made bigPipeSize (see pipeBudget)
}

const wakeToken = 0

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("proc: epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("proc: eventfd: %w", err)
	}
	p := &poller{
		epfd:    epfd,
		wakefd:  wakefd,
		entries: make(map[uint64]*pollEntry),
		exits:   make(map[int]uint64),
		next:    wakeToken + 1,
		buf:     make([]byte, readChunk),
		big:     newPipeBudget(),
		done:    make(chan struct{}),
	}
	if err := p.ctl(unix.EPOLL_CTL_ADD, wakefd, wakeToken, unix.EPOLLIN); err != nil {
		unix.Close(wakefd)
		unix.Close(epfd)
		return nil, err
	}
	return p, nil
}

func (p *poller) ctl(op, fd int, token uint64, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(uint32(token)), Pad: int32(uint32(token >> 32))}
	if err := unix.EpollCtl(p.epfd, op, fd, &ev); err != nil {
		return fmt.Errorf("proc: epoll_ctl(%d, fd %d): %w", op, fd, err)
	}
	return nil
}

func (p *poller) register(e *pollEntry, events uint32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return fmt.Errorf("proc: runtime closed")
	}
	e.token = p.next
	p.next++
	if e.pipe != nil {
		e.pipe.token = e.token // before the loop can see the entry
	}
	p.entries[e.token] = e
	if err := p.ctl(unix.EPOLL_CTL_ADD, e.fd, e.token, events); err != nil {
		delete(p.entries, e.token)
		return err
	}
	return nil
}

func (p *poller) addExit(pidfd int, fn func()) error {
	e := &pollEntry{fd: pidfd, onExit: fn}
	if err := p.register(e, unix.EPOLLIN); err != nil {
		return err
	}
	p.mu.Lock()
	p.exits[pidfd] = e.token
	p.mu.Unlock()
	return nil
}

// removeExit forgets an exit watch before its pidfd is closed.
func (p *poller) removeExit(pidfd int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	token, ok := p.exits[pidfd]
	if !ok {
		return
	}
	delete(p.exits, pidfd)
	if _, ok := p.entries[token]; ok {
		delete(p.entries, token)
		unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, pidfd, nil)
	}
}

// addPipe starts reading pp's fd (non-blocking, owned by the poller from
// now on) into its sink.
func (p *poller) addPipe(pp *pipe) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.closed || pp.token != 0 {
		return
	}
	if f, ok := pp.sink.(FlowSink); ok {
		pp.flow = f
		f.SetResume(func() { p.resume(pp) })
	}
	pp.tee, _ = pp.sink.(TeeSink)
	e := &pollEntry{fd: pp.fd, pipe: pp}
	if err := p.register(e, unix.EPOLLIN|unix.EPOLLRDHUP); err != nil {
		// Closed runtime: nothing will ever read this pipe.
		unix.Close(pp.fd)
		pp.closed = true
		pp.sink.Close()
		close(pp.done)
	}
}

func (p *poller) loop() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			panic(fmt.Sprintf("proc: epoll_wait: %v", err)) // a bad epfd is a bug
		}
		for i := range n {
			token := uint64(uint32(events[i].Fd)) | uint64(uint32(events[i].Pad))<<32
			if token == wakeToken {
				p.mu.Lock()
				closing := p.closing
				p.mu.Unlock()
				if closing {
					return
				}
				continue
			}
			p.mu.Lock()
			e := p.entries[token]
			if e != nil && e.onExit != nil {
				// One notification per exit: stop watching before calling.
				delete(p.entries, token)
				delete(p.exits, e.fd)
				unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, e.fd, nil)
			}
			p.mu.Unlock()
			switch {
			case e == nil:
			case e.onExit != nil:
				e.onExit()
			default:
				p.readPipe(e.pipe, nil, 0, false)
			}
		}
	}
}

// readPipe reads what pp has, up to limit bytes, into its sink, and closes it
// at end of file. Unless force, it reads no more than the sink has room for
// and pauses the pipe when that is nothing, and it stops at a read shorter
// than asked (the pipe is empty then, or nearly: level-triggered epoll
// reports what came meanwhile, and a read that only finds EAGAIN would
// cost every small write one more system call). It reports whether the
// pipe is closed now. A nil buf is the loop's call: its own buffer, the
// bigger one for a raised pipe, readsPerWake times over.
func (p *poller) readPipe(pp *pipe, buf []byte, limit int, force bool) bool {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.closed {
		return true
	}
	if buf == nil {
		buf = p.big.buf(pp, p.buf)
		limit = readsPerWake * len(buf)
	}
	for read := 0; read < limit; {
		want := buf
		if pp.flow != nil && !force {
			room := pp.flow.Room()
			if room == 0 {
				p.pause(pp)
				return false
			}
			want = buf[:min(len(buf), room)]
		}
		if pp.tee != nil {
			pp.tee.Tee(pp.fd, len(want)) // the read below takes at least those bytes
		}
		n, err := readRetry(pp.fd, want)
		if n > 0 {
			pp.sink.Write(buf[:n])
			read += n
			if n < len(want) && !force {
				return false
			}
			if n == readChunk && !force {
				// Its writer outpaces a wake-up per 64 KiB: a bigger
				// pipe, read in bigger chunks, wakes the loop less.
				p.big.raise(pp)
			}
			continue
		}
		if err == unix.EAGAIN {
			return false
		}
		// n == 0 is end of file; any other error ends the pipe too.
		p.finishPipe(pp)
		return true
	}
	return false
}

// readRetry is read(2), again after EINTR (a tee before it must be
// followed by the read that takes its bytes).
func readRetry(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Read(fd, b)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// pause takes pp out of the epoll set until resume; pp.mu is held. The
// entry stays, so a resume re-adds it under the same token.
func (p *poller) pause(pp *pipe) {
	if pp.paused || pp.token == 0 {
		return
	}
	pp.paused = true
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, pp.fd, nil)
}

// resume puts a paused pipe back into the epoll set if its sink has room
// now (level-triggered: bytes already waiting are reported at once).
func (p *poller) resume(pp *pipe) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if !pp.paused || pp.closed || pp.flow.Room() == 0 {
		return
	}
	if err := p.ctl(unix.EPOLL_CTL_ADD, pp.fd, pp.token, unix.EPOLLIN|unix.EPOLLRDHUP); err != nil {
		// Only when the runtime closes: nothing reads this pipe any more.
		return
	}
	pp.paused = false
}

// finishPipe closes pp; pp.mu is held.
func (p *poller) finishPipe(pp *pipe) {
	if pp.token != 0 { // registered
		p.mu.Lock()
		delete(p.entries, pp.token)
		p.mu.Unlock()
		if !pp.paused {
			unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, pp.fd, nil)
		}
	}
	unix.Close(pp.fd)
	p.big.release(pp)
	pp.closed = true
	pp.sink.Close()
	close(pp.done)
}

// closePipe drains what pp holds now (bounded, whatever the sink's room:
// the record gets the bytes, and sessions are told what they miss) and
// closes it. It reports whether it had to close the pipe before end of file.
func (p *poller) closePipe(pp *pipe) bool {
	select {
	case <-pp.done:
		return false
	default:
	}
	buf := make([]byte, readChunk)
	if p.readPipe(pp, buf, drainLimit, true) {
		return false // reached end of file while draining
	}
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.closed {
		return true
	}
	p.finishPipe(pp)
	return true
}

// close stops the loop and closes every pipe still registered.
func (p *poller) close() {
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	var one = []byte{1, 0, 0, 0, 0, 0, 0, 0}
	unix.Write(p.wakefd, one)
	<-p.done
	p.mu.Lock()
	var pipes []*pipe
	for _, e := range p.entries {
		if e.pipe != nil {
			pipes = append(pipes, e.pipe)
		}
	}
	p.mu.Unlock()
	for _, pp := range pipes {
		pp.mu.Lock()
		if !pp.closed {
			p.finishPipe(pp)
		}
		pp.mu.Unlock()
	}
	unix.Close(p.wakefd)
	unix.Close(p.epfd)
}
