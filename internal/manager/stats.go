package manager

import (
	"sync"
	"sync/atomic"

	"github.com/procd/procd/internal/proc"
)

// counters are the manager's running totals.
type counters struct {
	started       atomic.Int64
	startFailures atomic.Int64
	bytesCaptured atomic.Int64
	bytesDropped  atomic.Int64
	leftovers     atomic.Int64
	crashLoops    atomic.Int64

	mu        sync.Mutex
	byReason  map[Reason]int64
	restartBy map[Reason]int64 // restarts, by how the run before ended
}

func (c *counters) countRestart(r Reason) {
	c.mu.Lock()
	if c.restartBy == nil {
		c.restartBy = make(map[Reason]int64)
	}
	c.restartBy[r]++
	c.mu.Unlock()
}

func (c *counters) countExit(r Reason, leftovers int) {
	c.leftovers.Add(int64(leftovers))
	c.mu.Lock()
	if c.byReason == nil {
		c.byReason = make(map[Reason]int64)
	}
	c.byReason[r]++
	c.mu.Unlock()
}

// Stats is a snapshot of the manager's figures.
type Stats struct {
	Running, Stopping, Exited int64
	Starting                  int64 // not ready yet
	Backoff, Failed           int64
	StartedTotal              int64
	StartFailuresTotal        int64
	ExitsByReason             map[Reason]int64
	LeftoversKilledTotal      int64
	OrphansReapedTotal        int64
	BytesCapturedTotal        int64
	BytesDroppedTotal         int64
	RingSize                  int
	// RestartsByReason counts the runs a restart policy started, by how
	// the run before ended; CrashLoopsTotal the processes it gave up on.
	RestartsByReason map[Reason]int64
	CrashLoopsTotal  int64
	// DaemonRSS is the daemon's own resident set size in bytes (0 where
	// the OS layer cannot tell), read here so the wire layer reads no
	// /proc itself.
	DaemonRSS int64
}

// Stats returns the current figures.
func (m *Manager) Stats() Stats {
	st := Stats{
		StartedTotal:         m.stats.started.Load(),
		StartFailuresTotal:   m.stats.startFailures.Load(),
		LeftoversKilledTotal: m.stats.leftovers.Load(),
		OrphansReapedTotal:   m.rt.OrphansReaped(),
		BytesCapturedTotal:   m.stats.bytesCaptured.Load(),
		BytesDroppedTotal:    m.stats.bytesDropped.Load(),
		RingSize:             m.cfg.RingSize,
		DaemonRSS:            proc.SelfRSS(),
		ExitsByReason:        map[Reason]int64{},
		RestartsByReason:     map[Reason]int64{},
		CrashLoopsTotal:      m.stats.crashLoops.Load(),
	}
	m.stats.mu.Lock()
	for k, v := range m.stats.byReason {
		st.ExitsByReason[k] = v
	}
	for k, v := range m.stats.restartBy {
		st.RestartsByReason[k] = v
	}
	m.stats.mu.Unlock()
	m.mu.RLock()
	recs := make([]*record, 0, len(m.byID))
	for _, r := range m.byID {
		recs = append(recs, r)
	}
	m.mu.RUnlock()
	for _, r := range recs {
		r.mu.Lock()
		switch r.state {
		case Running:
			st.Running++
		case Starting:
			st.Starting++
		case Stopping:
			st.Stopping++
		case Exited:
			st.Exited++
		case Backoff:
			st.Backoff++
		case Failed:
			st.Failed++
		}
		r.mu.Unlock()
	}
	return st
}

// RestartCounts are the restarts made by restart policies, by how the run
// before ended, and the processes they gave up on as crash loops (the
// metrics' feed; cheaper than Stats).
func (m *Manager) RestartCounts() (byReason map[Reason]int64, crashLoops int64) {
	byReason = map[Reason]int64{}
	m.stats.mu.Lock()
	for k, v := range m.stats.restartBy {
		byReason[k] = v
	}
	m.stats.mu.Unlock()
	return byReason, m.stats.crashLoops.Load()
}
