package executor

import "sync"

// Progress is a bounded, coalescing buffer between a batch's workers and a
// reader that may lag (a client on a slow connection). Put never blocks;
// the reader takes what is pending when it can. A job's updates are
// delivered in order, but when the reader lags, an attempt that is over
// before the reader took any of it is dropped as soon as the job's next
// attempt starts: the reader sees every job's last attempt, and for every
// attempt_started it took, the matching attempt_finished. So at most three
// updates per job are pending, however many attempts a job makes: the
// buffer is bounded by the batch's size, never by jobs × attempts.
type Progress struct {
	mu      sync.Mutex
	jobs    map[int]*pending
	order   []int       // jobs with pending updates, in the order they got them
	shown   map[int]int // job → the attempt whose start the reader took
	ready   chan struct{}
	dropped int64
}

// pending is one job's updates not yet taken.
type pending struct {
	owed     *Attempt // the finish of an attempt whose start was taken: never dropped
	started  *Attempt // an attempt's start, not taken
	finished *Attempt // the finish of an attempt whose start was not taken (or that never started)
}

// NewProgress returns an empty buffer.
func NewProgress() *Progress {
	return &Progress{jobs: map[int]*pending{}, shown: map[int]int{}, ready: make(chan struct{}, 1)}
}

// Put adds an update; it never blocks. Updates of one job must come in
// order (the executor's workers run a job's attempts one after another).
func (p *Progress) Put(a Attempt) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.jobs[a.Index]
	if !ok {
		st = &pending{}
		p.jobs[a.Index] = st
		p.order = append(p.order, a.Index)
	}
	// A newer attempt supersedes an earlier one the reader took none of:
	// the reader never counted it as running.
	for _, old := range []**Attempt{&st.started, &st.finished} {
		if *old != nil && (*old).Attempt < a.Attempt {
			*old = nil
			p.dropped++
		}
	}
	switch {
	case a.Started:
		st.started = &a
	case st.started == nil && p.shown[a.Index] == a.Attempt && a.Attempt > 0:
		st.owed = &a // its start was taken: its end is owed
	default:
		st.finished = &a
	}
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

// Ready has a value when updates may be pending.
func (p *Progress) Ready() <-chan struct{} { return p.ready }

// Take appends the pending updates to buf, job by job in the order jobs
// got them and each job's in order, and empties the buffer.
func (p *Progress) Take(buf []Attempt) []Attempt {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, j := range p.order {
		st := p.jobs[j]
		for _, a := range []*Attempt{st.owed, st.started, st.finished} {
			if a != nil {
				buf = append(buf, *a)
			}
		}
		if st.started != nil {
			if st.finished != nil && st.finished.Attempt == st.started.Attempt {
				delete(p.shown, j) // that attempt is complete for the reader
			} else {
				p.shown[j] = st.started.Attempt
			}
		} else if st.owed != nil {
			delete(p.shown, j)
		}
		delete(p.jobs, j)
	}
	p.order = p.order[:0]
	return buf
}

// Dropped counts the updates dropped because the reader lagged.
func (p *Progress) Dropped() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}
