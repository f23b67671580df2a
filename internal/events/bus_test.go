package events

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/procd/procd/internal/errdefs"
)

func seqs(evs []Event) []uint64 {
	var out []uint64
	for _, e := range evs {
		out = append(out, e.Seq)
	}
	return out
}

func drain(t *testing.T, s *Subscription) []Event {
	t.Helper()
	var all []Event
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		evs, err := s.Next(ctx, make([]Event, 0, 3))
		cancel()
		all = append(all, evs...)
		if errors.Is(err, context.DeadlineExceeded) {
			return all
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestResumeReplaysExactlyTheMissedEvents(t *testing.T) {
	b := NewBus(16, nil)
	for range 5 {
		b.Publish(Event{Type: Started})
	}
	after := uint64(2)
	s, err := b.Subscribe(Filter{}, &after)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b.Publish(Event{Type: Exited})
	got := seqs(drain(t, s))
	want := []uint64{3, 4, 5, 6}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestLiveSubscriptionSeesOnlyNewEvents(t *testing.T) {
	b := NewBus(16, nil)
	b.Publish(Event{Type: Started})
	s, _ := b.Subscribe(Filter{}, nil)
	defer s.Close()
	b.Publish(Event{Type: Started})
	if got := seqs(drain(t, s)); len(got) != 1 || got[0] != 2 {
		t.Fatalf("got %v, want [2]", got)
	}
}

func TestResumeTooOldOrFromTheFutureIsOutOfRange(t *testing.T) {
	b := NewBus(4, nil)
	for range 10 {
		b.Publish(Event{Type: Started})
	}
	for _, after := range []uint64{0, 5, 11} {
		_, err := b.Subscribe(Filter{}, &after)
		if !errors.Is(err, errdefs.ErrOutOfRange) {
			t.Errorf("after %d: err %v, want out of range", after, err)
		}
	}
	after := uint64(6) // oldest retained is 7
	if _, err := b.Subscribe(Filter{}, &after); err != nil {
		t.Fatalf("after 6: %v", err)
	}
}

func TestSlowSubscriberIsLaggedOthersUnaffected(t *testing.T) {
	b := NewBus(8, nil)
	slow, _ := b.Subscribe(Filter{}, nil)
	fast, _ := b.Subscribe(Filter{}, nil)
	defer fast.Close()
	for i := range 20 {
		b.Publish(Event{Type: Started})
		if evs, err := fast.Next(context.Background(), make([]Event, 0, 8)); err != nil || len(evs) != 1 || evs[0].Seq != uint64(i+1) {
			t.Fatalf("fast subscriber: %v %v", seqs(evs), err)
		}
	}
	select {
	case <-slow.Lagged():
	default:
		t.Fatal("slow subscriber not flagged")
	}
	if _, err := slow.Next(context.Background(), nil); !IsLagged(err) {
		t.Fatalf("slow Next: %v, want ErrLagged", err)
	}
	if st := b.Stats(); st.SlowTotal != 1 || st.Subscribers != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFilter(t *testing.T) {
	b := NewBus(32, nil)
	s, _ := b.Subscribe(Filter{Types: []Type{Exited}, Labels: map[string]string{"campaign": "a"}}, nil)
	defer s.Close()
	b.Publish(Event{Type: Started, Labels: map[string]string{"campaign": "a"}})
	b.Publish(Event{Type: Exited, Labels: map[string]string{"campaign": "b"}})
	b.Publish(Event{Type: Exited, Labels: map[string]string{"campaign": "a"}, ProcessID: "p-1"})
	b.Publish(Event{Type: Exited})
	got := drain(t, s)
	if len(got) != 1 || got[0].ProcessID != "p-1" {
		t.Fatalf("got %+v", got)
	}
}

func TestNextWakesOnPublishAndOnCancel(t *testing.T) {
	b := NewBus(4, nil)
	s, _ := b.Subscribe(Filter{}, nil)
	defer s.Close()
	done := make(chan []Event)
	go func() {
		evs, _ := s.Next(context.Background(), nil)
		done <- evs
	}()
	b.Publish(Event{Type: Hung})
	if evs := <-done; len(evs) != 1 || evs[0].Type != Hung {
		t.Fatalf("got %+v", evs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, err := s.Next(ctx, nil); done <- nil; _ = err }()
	cancel()
	<-done
}

// A bus resumed from an earlier run continues its numbers, reserves them a
// block at a time before use, resumes a subscriber that was caught up, and
// refuses an older resume point naming this run's first event.
func TestResumedSequenceContinuesAndReserves(t *testing.T) {
	b := NewBus(4, nil)
	var reserved []uint64
	b.Resume(100, 100, 10, func(upTo uint64) { reserved = append(reserved, upTo) })

	caughtUp := uint64(100)
	s, err := b.Subscribe(Filter{}, &caughtUp)
	if err != nil {
		t.Fatalf("resume from the last seq of the earlier run: %v", err)
	}
	defer s.Close()
	old := uint64(99)
	_, err = b.Subscribe(Filter{}, &old)
	if !errors.Is(err, errdefs.ErrOutOfRange) || !strings.Contains(err.Error(), "oldest available is seq 101") {
		t.Fatalf("resume from before the restart: %v, want OUT_OF_RANGE naming seq 101", err)
	}

	for range 3 {
		b.Publish(Event{Type: Started})
	}
	if got := seqs(drain(t, s)); !slices.Equal(got, []uint64{101, 102, 103}) {
		t.Fatalf("caught-up subscriber got %v, want 101..103", got)
	}
	for range 8 {
		b.Publish(Event{Type: Started})
	}
	// 101..110 then 111..120: each reserved before its first number is used.
	if !slices.Equal(reserved, []uint64{110, 120}) {
		t.Fatalf("reservations %v, want [110 120]", reserved)
	}
	if st := b.Stats(); st.LastSeq != 111 || st.OldestSeq != 108 {
		t.Fatalf("stats %+v, want last 111, oldest 108", st)
	}
	old = 105
	if _, err = b.Subscribe(Filter{}, &old); !errors.Is(err, errdefs.ErrOutOfRange) || !strings.Contains(err.Error(), "oldest available is seq 108") {
		t.Fatalf("resume from an evicted seq of this run: %v", err)
	}
}

// A coalescing subscription gets an event after a quiet spell at once, and
// events that follow within the window together, once it has passed.
func TestCoalesceHoldsEventsWithinTheWindow(t *testing.T) {
	const window = 2 * time.Second
	b, s := coalescing(t, window)
	ctx := context.Background()
	b.Publish(Event{Type: Started})
	t0 := time.Now()
	evs, err := s.Next(ctx, make([]Event, 0, 8))
	if err != nil || len(evs) != 1 {
		t.Fatalf("first event: %v, %v", seqs(evs), err)
	}
	if d := time.Since(t0); d >= window {
		t.Fatalf("an event after a quiet spell was held for %v", d)
	}
	returned := time.Now()
	b.Publish(Event{Type: Exited})
	type result struct {
		evs []Event
		err error
	}
	res := make(chan result, 1)
	go func() {
		evs, err := s.Next(ctx, make([]Event, 0, 8))
		res <- result{evs, err}
	}()
	b.Publish(Event{Type: Started})
	r := <-res
	if r.err != nil || len(r.evs) != 2 || r.evs[0].Seq != 2 || r.evs[1].Seq != 3 {
		t.Fatalf("events within the window: got %v, %v; want [2 3] together", seqs(r.evs), r.err)
	}
	if d := time.Since(returned); d < window {
		t.Fatalf("the second batch came %v after the first, inside the %v window", d, window)
	}
}

// A subscription holding events for its window still learns at once that
// the ring overtook it, and never returns an overwritten event.
func TestCoalesceHoldingSubscriptionLags(t *testing.T) {
	b := NewBus(2, nil)
	s, err := b.Subscribe(Filter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Coalesce(time.Hour)
	ctx := context.Background()
	b.Publish(Event{Type: Started})
	if evs, err := s.Next(ctx, make([]Event, 0, 8)); err != nil || len(evs) != 1 {
		t.Fatalf("first event: %v, %v", seqs(evs), err)
	}
	b.Publish(Event{Type: Exited}) // seq 2: held for an hour
	res := make(chan []Event, 1)
	go func() {
		evs, err := s.Next(ctx, make([]Event, 0, 8))
		if !IsLagged(err) {
			t.Errorf("Next while the ring overtook a held subscription: %v, want lagged", err)
		}
		res <- evs
	}()
	for range 3 {
		b.Publish(Event{Type: Started}) // overwrites seq 2
	}
	if got := seqs(<-res); len(got) > 1 || len(got) == 1 && got[0] != 2 {
		t.Fatalf("a lagged held subscription returned %v, want [2] or nothing", got)
	}
}

// A coalescing subscription that was busy (it sleeps out its window before
// looking again) still returns an event that follows a quiet spell at once,
// and one that came while it slept at the window's end.
func TestCoalesceAfterABusySpell(t *testing.T) {
	const window = 300 * time.Millisecond
	b, s := coalescing(t, window)
	ctx := context.Background()
	next := func() ([]Event, time.Duration) {
		t.Helper()
		t0 := time.Now()
		evs, err := s.Next(ctx, make([]Event, 0, 8))
		if err != nil {
			t.Fatal(err)
		}
		return evs, time.Since(t0)
	}
	b.Publish(Event{Type: Started})
	next()
	returned := time.Now()
	b.Publish(Event{Type: Exited}) // within the window: busy
	if evs, _ := next(); len(evs) != 1 || evs[0].Seq != 2 || time.Since(returned) < window {
		t.Fatalf("an event within the window came %v after the previous return: %v", time.Since(returned), seqs(evs))
	}
	go func() {
		time.Sleep(3 * window) // the quiet spell under test, not a wait for a condition
		b.Publish(Event{Type: Started})
	}()
	evs, _ := next()
	if len(evs) != 1 || evs[0].Seq != 3 {
		t.Fatalf("after the quiet spell: %v, want [3]", seqs(evs))
	}
	if held := time.Since(evs[0].Time); held >= window {
		t.Fatalf("an event after a quiet spell was held %v", held)
	}
}

// coalescing is a small bus and one subscription to it coalescing at window.
func coalescing(t *testing.T, window time.Duration) (*Bus, *Subscription) {
	t.Helper()
	b := NewBus(16, nil)
	s, err := b.Subscribe(Filter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.Coalesce(window)
	return b, s
}

// Many subscribers read the ring while several publishers write: each subscriber gets every event once, in order, none
// misses a wake-up (each would otherwise wait here until the test's
// deadline), Close wakes every waiter, and a publish after Close is
// harmless.
func TestManySubscribersSeeEveryEventAndClose(t *testing.T) {
	const subs, pubs, each = 50, 4, 200
	b := NewBus(subs*pubs*each, nil)
	errs := make(chan error, subs)
	for range subs {
		s, err := b.Subscribe(Filter{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer s.Close()
			var want uint64 = 1
			for {
				evs, err := s.Next(context.Background(), make([]Event, 0, 7))
				for _, e := range evs {
					if e.Seq != want {
						errs <- errors.New("out of order or missed")
						return
					}
					want++
				}
				if errors.Is(err, ErrClosed) {
					if want != pubs*each+1 {
						errs <- errors.New("closed before every event arrived")
						return
					}
					errs <- nil
					return
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	for range pubs {
		go func() {
			for range each {
				b.Publish(Event{Type: Started})
			}
			done <- struct{}{}
		}()
	}
	for range pubs {
		<-done
	}
	b.Close()
	for range subs {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(time.Minute):
			t.Fatal("a subscriber still waits after Close: a wake-up was lost")
		}
	}
	b.Publish(Event{Type: Exited}) // after Close: must not panic
	b.Close()
}
