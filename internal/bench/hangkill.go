//go:build linux

package bench

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/procd/procd/proto/procd/v1"
)

// P2: hang-kill latency with 1,000 watched processes: from each hang
// deadline (start + timeout + extra_buffer) to the process's death, as a
// pidfd of this program's own sees it, and to the signal_sent event.
func p2HangKill(cfg Config, t *Table) error {
	// Long on purpose: one measurement, from its daemon and stopwatch thread to its figures.
	n := 1000
	base := 10 * time.Second // every process is started before the first deadline
	if cfg.Quick {
		n, base = 20, time.Second
	}
	dm, err := startDaemon(cfg)
	if err != nil {
		return err
	}
	defer dm.stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ev, err := dm.c.WatchEvents(ctx, &pb.WatchEventsRequest{Types: []pb.EventType{pb.EventType_EVENT_TYPE_SIGNAL_SENT}})
	if err != nil {
		return err
	}
	deaths, err := newDeathWatch(n)
	if err != nil {
		return err
	}
	defer deaths.close()
	due := map[string]time.Time{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var startErr error
	next := atomic.Int64{}
	for range 8 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				timeout := base + time.Duration(i)*time.Millisecond
				s, err := dm.c.StartProcess(ctx, &pb.StartProcessRequest{Spec: &pb.ProcessSpec{Command: []string{"sleep", "1000"},
					Timeout: durationpb.New(timeout), ExtraBuffer: durationpb.New(0)}})
				if err == nil {
					err = deaths.add(s.GetProcess().GetId(), int(s.GetProcess().GetPid()))
				}
				mu.Lock()
				if err != nil {
					startErr = err
				} else {
					due[s.GetProcess().GetId()] = s.GetProcess().GetStartedAt().AsTime().Add(timeout)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if startErr != nil {
		return startErr
	}
	var sigLat []time.Duration
	for len(sigLat) < n {
		msg, err := ev.Recv()
		if err != nil {
			return err
		}
		e := msg.GetEvent()
		if strings.Contains(e.GetDetail(), "(hung)") {
			sigLat = append(sigLat, e.GetTime().AsTime().Sub(due[e.GetProcessId()]))
		}
	}
	died, err := deaths.wait(30 * time.Second)
	if err != nil {
		return err
	}
	var deathLat []time.Duration
	for id, at := range died {
		deathLat = append(deathLat, at.Sub(due[id]))
	}
	p99 := percentile(deathLat, 0.99)
	t.Rows = append(t.Rows, Row{ID: "P2", Measure: fmt.Sprintf("hang deadline → process dead (pidfd), %d watched", n),
		Figure:   fmt.Sprintf("p50 %s, p99 %s, max %s", ms(percentile(deathLat, 0.5)), ms(p99), ms(percentile(deathLat, 1))),
		Baseline: "the deadline itself", Ratio: "-", Goal: "p99 ≤ 2 ms", Verdict: verdict(p99 <= 2*time.Millisecond)})
	t.Rows = append(t.Rows, Row{ID: "P2", Measure: "same, deadline → signal_sent event",
		Figure:   fmt.Sprintf("p50 %s, p99 %s, max %s", ms(percentile(sigLat, 0.5)), ms(percentile(sigLat, 0.99)), ms(percentile(sigLat, 1))),
		Baseline: "the deadline itself", Ratio: "-", Goal: "(for comparison)"})
	t.Notes = append(t.Notes, "P2: "+loadNote())
	return nil
}

// deathWatch stamps the moment each process dies: a pidfd per process, in
// an epoll set read by a goroutine on a thread of its own, so the stamp
// owes nothing to procd's own exit handling.
type deathWatch struct {
	ep   int
	mu   sync.Mutex
	ids  map[int32]string // pidfd → process id
	died map[string]time.Time
	want int
	done chan struct{}
	err  error
}

func newDeathWatch(want int) (*deathWatch, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	w := &deathWatch{ep: ep, ids: map[int32]string{}, died: map[string]time.Time{}, want: want, done: make(chan struct{})}
	go w.run()
	return w, nil
}

// add watches the process id with the given pid, which must be alive.
func (w *deathWatch) add(id string, pid int) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open %d (%s): %w", pid, id, err)
	}
	w.mu.Lock()
	w.ids[int32(fd)] = id
	w.mu.Unlock()
	return unix.EpollCtl(w.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(fd)})
}

func (w *deathWatch) run() {
	// The stopwatch's own wake-up should not count: its thread is woken
	// by the kernel (epoll_wait blocks on it, not on Go's poller) and,
	// when allowed, runs real-time, so a busy machine delays it no more
	// than it must. The processes and procd keep their usual priority.
	runtime.LockOSThread()
	if unix.SchedSetAttr(0, &unix.SchedAttr{Policy: unix.SCHED_FIFO, Priority: 1}, 0) != nil {
		unix.Setpriority(unix.PRIO_PROCESS, 0, -20)
	}
	defer close(w.done)
	evs := make([]unix.EpollEvent, 64)
	for {
		k, err := unix.EpollWait(w.ep, evs, -1)
		now := time.Now()
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			w.err = err
			return
		}
		w.mu.Lock()
		for _, e := range evs[:k] {
			w.died[w.ids[e.Fd]] = now
			unix.Close(int(e.Fd))
		}
		all := len(w.died) >= w.want
		w.mu.Unlock()
		if all {
			return
		}
	}
}

// wait returns the deaths once every watched process died, or fails after d.
func (w *deathWatch) wait(d time.Duration) (map[string]time.Time, error) {
	select {
	case <-w.done:
	case <-time.After(d):
		w.mu.Lock()
		defer w.mu.Unlock()
		return nil, fmt.Errorf("%d of %d processes seen dead after %v", len(w.died), w.want, d)
	}
	if w.err != nil {
		return nil, w.err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.died, nil
}

func (w *deathWatch) close() { unix.Close(w.ep) }

// loadNote describes how busy the machine was: the kernel's load averages
// (these VMs are shared, and latency rows depend on it).
func loadNote() string {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return "load unknown"
	}
	l := func(v uint64) float64 { return float64(v) / (1 << unix.SI_LOAD_SHIFT) }
	return fmt.Sprintf("load average %.2f, %.2f, %.2f (1, 5, 15 min) on %d cores at the end of the row", l(si.Loads[0]), l(si.Loads[1]), l(si.Loads[2]), runtime.NumCPU())
}
