// Package events is procd's event bus: a bounded ring of sequenced events
// with filtered, resumable subscriptions.
//
// The ring is the only buffer. Publishing never waits for subscribers and
// never allocates per subscriber; each subscription is a cursor into the
// ring. A subscriber that resumes with a sequence number gets every retained
// event after it, in order, without gaps or duplicates, or ErrOutOfRange if
// the ring no longer holds them. A subscriber whose cursor is overwritten
// before it consumed it is told so (Lagged) and must resubscribe: never a
// silent drop, never an unbounded queue (pitfall 8, after Nomad's broker).
//
// The package knows nothing of processes or gRPC: event payloads (Data) are
// values of types owned by the publisher.
package events

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/procd/procd/internal/errdefs"
)

// Type is an event's kind.
type Type int

// Event kinds. Their numbers are the bus's own: internal/server maps each
// to procd.v1.EventType by name (enums.go), never by number.
const (
	Started Type = iota + 1
	Exited
	SignalSent
	Escalated
	Leftovers
	OutputDropped
	Removed
	Slow
	Hung
	Deadline
	ActivityReady
	Recovered
	NotifyStatus
	BatchStarted
	JobFinished
	BatchFinished
	OOMKilled
	Ready // a starting process passed its readiness check
	Restarting
)

var typeNames = map[Type]string{
	Started: "started", Exited: "exited", SignalSent: "signal_sent", Escalated: "escalated",
	Leftovers: "leftovers", OutputDropped: "output_dropped", Removed: "removed", Slow: "slow",
	Hung: "hung", Deadline: "deadline", ActivityReady: "activity_ready", Recovered: "recovered",
	NotifyStatus: "notify_status", BatchStarted: "batch_started", JobFinished: "job_finished",
	BatchFinished: "batch_finished", OOMKilled: "oom_killed", Ready: "ready", Restarting: "restarting",
}

func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("type(%d)", int(t))
}

// Event is one published event. Labels and Data are shared with every
// subscriber and must not be modified after Publish.
type Event struct {
	Seq       uint64
	Time      time.Time
	Type      Type
	ProcessID string
	PID       int
	Name      string
	Labels    map[string]string
	Signal    string        // signal_sent, escalated
	Stream    string        // output_dropped: "stdout" or "stderr"
	Detail    string        // human-readable
	Idle      time.Duration // slow, hung, deadline: idle time when decided
	BatchID   string        // batch events
	JobIndex  int           // job_finished
	Delay     time.Duration // restarting: the wait before the next run
	Attempt   int           // started: the run's number (1: the first); restarting: the next run's
	Data      any           // publisher-owned payload (the exit record for Exited)
}

// Filter selects events; each empty field matches everything, and the fields
// are ANDed.
type Filter struct {
	Types      []Type
	ProcessIDs []string
	Names      []string
	Labels     map[string]string
}

func (f *Filter) match(e *Event) bool {
	if len(f.Types) > 0 && !slices.Contains(f.Types, e.Type) {
		return false
	}
	if len(f.ProcessIDs) > 0 && !slices.Contains(f.ProcessIDs, e.ProcessID) {
		return false
	}
	if len(f.Names) > 0 && !slices.Contains(f.Names, e.Name) {
		return false
	}
	for k, v := range f.Labels {
		if got, ok := e.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// ErrLagged is returned by Next when the subscription fell so far behind
// that the ring overwrote events it had not consumed.
var ErrLagged = errdefs.Errorf(errdefs.ErrResourceExhausted, "subscriber too slow")

// ErrClosed is returned by Next after the bus was closed.
var ErrClosed = errdefs.Errorf(errdefs.ErrUnavailable, "event bus closed")

// Bus is the event ring. Use NewBus; it is safe for concurrent use.
type Bus struct {
	now func() time.Time

	mu     sync.Mutex
	ring   []Event
	next   uint64 // seq of the next event; the first is 1
	subs   map[*Subscription]struct{}
	wait   chan struct{} // closed at the next publish, if anyone waits
	closed bool
	slow   int64

	// A sequence resumed from an earlier run (Resume): first is the seq
	// of this run's first event; seqs up to reserved are on record as
	// used, and reserve extends that before a larger one is published.
	first    uint64
	reserved uint64
	block    uint64
	reserve  func(upTo uint64)
}

// NewBus returns a bus retaining the last size events (at least 1). now
// stamps events; nil means time.Now.
func NewBus(size int, now func() time.Time) *Bus {
	if now == nil {
		now = time.Now
	}
	return &Bus{
		now:   now,
		ring:  make([]Event, max(size, 1)),
		next:  1,
		first: 1,
		subs:  make(map[*Subscription]struct{}),
	}
}

// Resume continues the sequence of an earlier daemon run, so that numbers
// never go back or repeat across runs: this run's first event gets seq
// last+1. Before a seq above reserved is published, reserve is called
// (under the bus's lock) to put the next block of numbers on record as
// used; it must be durable when it returns, and it reports its own
// failures (the bus goes on regardless). Call Resume before any Publish or
// Subscribe.
func (b *Bus) Resume(last, reserved, block uint64, reserve func(upTo uint64)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next, b.first = last+1, last+1
	b.reserved, b.block, b.reserve = max(reserved, last), max(block, 1), reserve
}

// oldest returns the seq of the oldest retained event (next if none).
func (b *Bus) oldest() uint64 {
	if n := uint64(len(b.ring)); b.next > b.first+n {
		return b.next - n
	}
	return b.first
}

// Publish stamps e with the next sequence number and the time, stores it and
// wakes subscribers. It returns the sequence number.
func (b *Bus) Publish(e Event) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	e.Seq = b.next
	if b.reserve != nil && e.Seq > b.reserved {
		b.reserved = e.Seq - 1 + b.block
		b.reserve(b.reserved)
	}
	e.Time = b.now()
	n := uint64(len(b.ring))
	if e.Seq > n {
		evicted := e.Seq - n
		for s := range b.subs {
			if s.next <= evicted {
				b.lag(s)
			}
		}
	}
	b.ring[e.Seq%n] = e
	b.next++
	if b.wait != nil {
		close(b.wait)
		b.wait = nil
	}
	return e.Seq
}

// lag marks s as too slow; b.mu is held.
func (b *Bus) lag(s *Subscription) {
	delete(b.subs, s)
	close(s.lagged)
	b.slow++
}

// Subscribe starts a subscription. With after == nil it receives events
// published from now on; otherwise every retained event with seq > *after
// first. It fails with an error wrapping errdefs.ErrOutOfRange when events
// after *after are no longer retained, or when *after lies beyond the last
// event (a resume point from an earlier daemon).
func (b *Bus) Subscribe(f Filter, after *uint64) (*Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	s := &Subscription{bus: b, filter: f, next: b.next, startAfter: b.next - 1, lagged: make(chan struct{})}
	if after != nil {
		a := *after
		last := b.next - 1
		switch {
		case a > last:
			return nil, errdefs.Errorf(errdefs.ErrOutOfRange, "after_seq %d is beyond the last event (seq %d); was it from an earlier daemon run?", a, last)
		case a+1 < b.first:
			return nil, errdefs.Errorf(errdefs.ErrOutOfRange, "events after seq %d are from before the daemon restarted (its events start at seq %d) and are not retained; the oldest available is seq %d", a, b.first, b.oldest())
		case a+1 < b.oldest():
			return nil, errdefs.Errorf(errdefs.ErrOutOfRange, "events after seq %d are no longer retained; the oldest available is seq %d", a, b.oldest())
		}
		s.next = a + 1
		s.startAfter = a
	}
	b.subs[s] = struct{}{}
	return s, nil
}

// Close ends every subscription (Next returns ErrClosed once caught up).
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.wait != nil {
		close(b.wait)
		b.wait = nil
	}
}

// Stats describes the bus.
type Stats struct {
	LastSeq, OldestSeq uint64
	Size               int
	Subscribers        int
	SlowTotal          int64
}

// Stats returns the bus's current figures.
func (b *Bus) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Stats{LastSeq: b.next - 1, OldestSeq: b.oldest(), Size: len(b.ring), Subscribers: len(b.subs), SlowTotal: b.slow}
}

// Subscription is a cursor into the bus. It is used by one goroutine at a
// time, except Lagged and Close which may be called from any.
type Subscription struct {
	bus    *Bus
	filter Filter
	next   uint64        // seq of the next event to consume; guarded by bus.mu
	lagged chan struct{} // closed when the ring overwrote next

	startAfter uint64 // the seq the subscription started after

	every time.Duration // Coalesce's window; 0: none
	last  time.Time     // when Next last returned events, for every
}

// StartAfter is the sequence number the subscription started after: a
// client that received nothing yet resumes from here.
func (s *Subscription) StartAfter() uint64 { return s.startAfter }

// Lagged is closed when the subscription fell behind the ring. Next then
// returns ErrLagged; a caller blocked elsewhere (sending to a slow client)
// can watch it to give up at once.
func (s *Subscription) Lagged() <-chan struct{} { return s.lagged }

// Coalesce makes Next return at most once per d: events that arrive within
// d of the previous return are held until d has passed and then come
// together (up to the batch limit). An event after a quiet spell still
// comes at once; under load a subscriber wakes once per d instead of once
// per event, which is what costs when there are many. Call it before the
// first Next; 0 (the default) returns every event as soon as it is there.
func (s *Subscription) Coalesce(d time.Duration) { s.every = d }

// Next appends to buf up to cap(buf)-len(buf) matching events (at least one,
// waiting for them if needed) and returns it. Non-matching events are
// skipped without counting toward the limit. With Coalesce, events that
// were already consumed into buf are returned along with the error if the
// subscription lags or ctx ends while they are held.
func (s *Subscription) Next(ctx context.Context, buf []Event) ([]Event, error) {
	limit := max(cap(buf)-len(buf), 1)
	b := s.bus
	for {
		b.mu.Lock()
		select {
		case <-s.lagged:
			b.mu.Unlock()
			return buf, ErrLagged
		default:
		}
		var got int
		buf, got = s.take(buf, limit)
		if got > 0 {
			b.mu.Unlock()
			return s.hold(ctx, buf, limit-got)
		}
		if b.closed {
			b.mu.Unlock()
			return buf, ErrClosed
		}
		if b.wait == nil {
			b.wait = make(chan struct{})
		}
		w := b.wait
		b.mu.Unlock()
		select {
		case <-w:
		case <-s.lagged:
		case <-ctx.Done():
			return buf, ctx.Err()
		}
	}
}

// take appends up to limit matching events after the cursor; b.mu is held.
func (s *Subscription) take(buf []Event, limit int) ([]Event, int) {
	b := s.bus
	n := uint64(len(b.ring))
	got := 0
	for s.next < b.next && got < limit {
		e := &b.ring[s.next%n]
		s.next++
		if s.filter.match(e) {
			buf = append(buf, *e)
			got++
		}
	}
	return buf, got
}

// hold keeps buf (holding events) until the coalescing window since the
// previous return has passed, adding what arrives meanwhile (up to room
// more), and returns it.
func (s *Subscription) hold(ctx context.Context, buf []Event, room int) ([]Event, error) {
	if s.every <= 0 {
		return buf, nil
	}
	wait := time.Until(s.last.Add(s.every))
	if wait > 0 && room > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.lagged:
			return buf, ErrLagged
		case <-ctx.Done():
			return buf, ctx.Err()
		}
		s.bus.mu.Lock()
		select {
		case <-s.lagged:
			s.bus.mu.Unlock()
			return buf, ErrLagged
		default:
		}
		buf, _ = s.take(buf, room)
		s.bus.mu.Unlock()
	}
	s.last = time.Now()
	return buf, nil
}

// Close ends the subscription; it no longer counts as a subscriber.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	delete(s.bus.subs, s)
}

// IsLagged reports whether err is the lag error.
func IsLagged(err error) bool { return errors.Is(err, ErrLagged) }
