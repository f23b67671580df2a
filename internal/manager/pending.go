package manager

import (
	"sync"
	"sync/atomic"
	"time"
)

// pendingStarts lets the notify handler wait for a record that a start is
// about to register. A started program runs, and may send READY=1, before
// the fork returns its pid to the manager: its first datagrams can arrive
// while no record has its pid yet, and refusing them would lose the
// process's first words (TestNotifyWatchdogPings caught one lost READY=1 on
// a loaded machine). The wait is bounded, and ends as soon as no start is
// in flight.
type pendingStarts struct {
	inflight atomic.Int64
	waiters  atomic.Int32
	mu       sync.Mutex
	ch       chan struct{} // closed (and replaced) when a start ends while someone waits
}

// begin is called before a fork; end once the start registered its record
// (or failed).
func (p *pendingStarts) begin() { p.inflight.Add(1) }

func (p *pendingStarts) end() {
	p.inflight.Add(-1)
	if p.waiters.Load() == 0 {
		return
	}
	p.mu.Lock()
	if p.ch != nil {
		close(p.ch)
		p.ch = nil
	}
	p.mu.Unlock()
}

// await calls find until it returns a record, no start is in flight, or d
// has passed. A start that ends after find missed either closes the
// channel awaited or, having ended, shows in inflight; a last find then
// sees its record.
func (p *pendingStarts) await(d time.Duration, find func() *record) *record {
	p.waiters.Add(1)
	defer p.waiters.Add(-1)
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		p.mu.Lock()
		if p.ch == nil {
			p.ch = make(chan struct{})
		}
		ch := p.ch
		p.mu.Unlock()
		if r := find(); r != nil {
			return r
		}
		if p.inflight.Load() == 0 {
			return find()
		}
		select {
		case <-ch:
		case <-t.C:
			return find()
		}
	}
}
