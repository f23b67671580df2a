package server_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/testutil"
	pb "github.com/procd/procd/proto/procd/v1"
)

// recvThrough receives events until one with seq last arrived.
func recvThrough(t *testing.T, s pb.ProcessService_WatchEventsClient, last uint64) []*pb.Event {
	t.Helper()
	var out []*pb.Event
	for len(out) == 0 || out[len(out)-1].GetSeq() < last {
		msg, err := s.Recv()
		if err != nil {
			t.Fatalf("watch: %v after %d events (want through seq %d)", err, len(out), last)
		}
		out = append(out, msg.GetEvent())
	}
	return out
}

// wantSeqs checks that evs carry exactly the seqs from..to, in order.
func wantSeqs(t *testing.T, what string, evs []*pb.Event, from, to uint64) {
	t.Helper()
	var got []uint64
	for _, e := range evs {
		got = append(got, e.GetSeq())
	}
	var want []uint64
	for s := from; s <= to; s++ {
		want = append(want, s)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: seqs %v; want %d..%d", what, got, from, to)
	}
}

func (h *harness) startAndWait(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		p := h.start(t, &pb.ProcessSpec{Command: []string{"true"}, Name: "t"})
		h.wait(t, p.GetId())
		ids = append(ids, p.GetId())
	}
	return ids
}

// startedIDs returns the process ids of the started events, in order.
func startedIDs(evs []*pb.Event) []string {
	var ids []string
	for _, e := range evs {
		if e.GetType() == pb.EventType_EVENT_TYPE_STARTED {
			ids = append(ids, e.GetProcessId())
		}
	}
	return ids
}

// Must-show 7: a subscriber that disconnects and resumes with after_seq
// gets exactly the events it missed, in order, with no gap and no
// duplicate, and then live events continue seamlessly.
func TestWatchEventsResume(t *testing.T) {
	h := newHarness(t, manager.Config{}, nil, false)
	ctx, cancel := context.WithCancel(testutil.Context(t))
	s, err := h.c.WatchEvents(ctx, &pb.WatchEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// Without after_seq only new events come: wait until the server has
	// subscribed before publishing any.
	testutil.WaitFor(t, "the subscription", func() bool { return h.bus.Stats().Subscribers == 1 })
	first := h.startAndWait(t, 3)
	last := h.stats(t).GetEvents().GetLastSeq()
	got := recvThrough(t, s, last)
	wantSeqs(t, "first subscription", got, 1, last)
	if ids := startedIDs(got); !slices.Equal(ids, first) {
		t.Fatalf("started events for %v; want %v", ids, first)
	}
	for _, e := range got {
		if e.GetTime() == nil || e.GetPid() <= 0 || e.GetName() != "t" {
			t.Fatalf("event %v lacks time, pid or name", e)
		}
		if e.GetType() == pb.EventType_EVENT_TYPE_EXITED && (e.GetExit() == nil || e.GetExit().ExitCode == nil) {
			t.Fatalf("exited event without its exit status: %v", e)
		}
	}
	cancel()
	testutil.WaitFor(t, "the first subscription to end", func() bool { return h.bus.Stats().Subscribers == 0 })

	missed := h.startAndWait(t, 2)
	last2 := h.stats(t).GetEvents().GetLastSeq()
	if last2 <= last {
		t.Fatalf("no events published while disconnected (last seq %d, then %d)", last, last2)
	}
	s, err = h.c.WatchEvents(testutil.Context(t), &pb.WatchEventsRequest{AfterSeq: &last})
	if err != nil {
		t.Fatal(err)
	}
	got = recvThrough(t, s, last2)
	wantSeqs(t, "resumed subscription", got, last+1, last2)
	if ids := startedIDs(got); !slices.Equal(ids, missed) {
		t.Fatalf("replayed started events for %v; want %v", ids, missed)
	}
	// The replay hands over to live events without a gap or duplicate.
	live := h.start(t, &pb.ProcessSpec{Command: []string{"sleep", "300"}})
	got = recvThrough(t, s, last2+1)
	if len(got) != 1 || got[0].GetSeq() != last2+1 || got[0].GetType() != pb.EventType_EVENT_TYPE_STARTED || got[0].GetProcessId() != live.GetId() {
		t.Fatalf("first live event after the replay: %v", got)
	}
}

// Resuming from before the ring, or from beyond the last event, is
// OUT_OF_RANGE naming what is available; resuming from just before the
// oldest retained event replays the whole ring.
func TestWatchEventsResumeOutOfRange(t *testing.T) {
	h := newHarness(t, manager.Config{}, events.NewBus(16, nil), false)
	h.startAndWait(t, 10) // 20 events: started and exited for each
	ev := h.stats(t).GetEvents()
	last, oldest := ev.GetLastSeq(), ev.GetOldestSeq()
	if last != 20 || oldest != last-15 || ev.GetRingSize() != 16 {
		t.Fatalf("event stats %v", ev)
	}
	recvErr := func(after uint64) error {
		s, err := h.c.WatchEvents(testutil.Context(t), &pb.WatchEventsRequest{AfterSeq: &after})
		if err != nil {
			return err
		}
		_, err = s.Recv()
		return err
	}
	wantStatus(t, "after_seq 0", recvErr(0), codes.OutOfRange, fmt.Sprintf("oldest available is seq %d", oldest))
	wantStatus(t, "after_seq before the ring", recvErr(oldest-2), codes.OutOfRange, fmt.Sprintf("seq %d", oldest))
	wantStatus(t, "after_seq beyond the last", recvErr(last+1000), codes.OutOfRange, strconv.FormatUint(last+1000, 10), fmt.Sprintf("seq %d", last))

	after := oldest - 1
	s, err := h.c.WatchEvents(testutil.Context(t), &pb.WatchEventsRequest{AfterSeq: &after})
	if err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, "replay of the whole ring", recvThrough(t, s, last), oldest, last)
}

// Must-show 7: a client that stops reading is ended with
// RESOURCE_EXHAUSTED naming the seq to resume after, once the ring
// overtakes it; meanwhile another subscriber gets every event and unary
// calls keep answering.
func TestWatchEventsSlowSubscriber(t *testing.T) {
	// Long on purpose: one scenario whose steps share the stalled stream.
	bus := events.NewBus(64, nil)
	h := newHarness(t, manager.Config{}, bus, false)
	// A fixed flow-control window (which turns off BDP window growth) bounds
	// how much the stalled client's transport buffers for it.
	stalledConn := h.dial(t, grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	zero := uint64(0)
	stalled, err := pb.NewProcessServiceClient(stalledConn).WatchEvents(testutil.Context(t), &pb.WatchEventsRequest{AfterSeq: &zero})
	if err != nil {
		t.Fatal(err)
	}
	reader, err := h.c.WatchEvents(testutil.Context(t), &pb.WatchEventsRequest{AfterSeq: &zero})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "both subscriptions", func() bool { return bus.Stats().Subscribers == 2 })

	var (
		mu      sync.Mutex
		seen    []uint64
		readErr error
		moved   = make(chan struct{}, 1)
	)
	go func() {
		for {
			msg, err := reader.Recv()
			mu.Lock()
			if err != nil {
				readErr = err
				mu.Unlock()
				return
			}
			seen = append(seen, msg.GetEvent().GetSeq())
			mu.Unlock()
			select {
			case moved <- struct{}{}:
			default:
			}
		}
	}()
	readThrough := func(seq uint64) bool {
		mu.Lock()
		defer mu.Unlock()
		return readErr == nil && len(seen) > 0 && seen[len(seen)-1] >= seq
	}

	// Publish in batches well under the ring size, letting the reader catch
	// up after each, until the stalled subscriber has been found too slow.
	detail := strings.Repeat("d", 200)
	const batch, limit = 16, 200000
	var published uint64
	for bus.Stats().SlowTotal == 0 {
		if published >= limit {
			t.Fatalf("the stalled subscriber was not ended after %d events", published)
		}
		for range batch {
			published = bus.Publish(events.Event{Type: events.Started, ProcessID: "p-slow", PID: 1, Name: "slow", Detail: detail})
		}
		deadline := time.After(20 * time.Second)
		for !readThrough(published) {
			select {
			case <-moved:
			case <-deadline:
				mu.Lock()
				n, err := len(seen), readErr
				mu.Unlock()
				t.Fatalf("reader stuck after %d events (error %v) while %d were published", n, err, published)
			}
		}
		if published%(batch*16) == 0 {
			h.stats(t) // unary calls keep answering
		}
	}
	t.Logf("the stalled subscriber was ended after %d events", published)

	// The stalled stream: the events the transport had buffered, in order
	// from seq 1, then RESOURCE_EXHAUSTED naming the last one delivered.
	var got []uint64
	var endErr error
	for {
		msg, err := stalled.Recv()
		if err != nil {
			endErr = err
			break
		}
		got = append(got, msg.GetEvent().GetSeq())
	}
	wantStatus(t, "stalled subscriber", endErr, codes.ResourceExhausted, "resume after seq")
	m := regexp.MustCompile(`resume after seq (\d+)`).FindStringSubmatch(status.Convert(endErr).Message())
	if m == nil {
		t.Fatalf("no resume point in %q", status.Convert(endErr).Message())
	}
	resume, _ := strconv.ParseUint(m[1], 10, 64)
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("stalled stream: event %d has seq %d (received %v...)", i, s, got[:i+1])
		}
	}
	if resume != uint64(len(got)) {
		t.Fatalf("told to resume after seq %d, but received events 1..%d", resume, len(got))
	}
	if resume >= published {
		t.Fatalf("resume point %d is not behind the %d published events", resume, published)
	}

	// The reader got every event, in order, without a gap.
	mu.Lock()
	read := slices.Clone(seen)
	mu.Unlock()
	for i, s := range read {
		if s != uint64(i+1) {
			t.Fatalf("reader: event %d has seq %d", i, s)
		}
	}
	if uint64(len(read)) != published {
		t.Fatalf("reader got %d events of %d", len(read), published)
	}

	st := h.stats(t).GetEvents()
	if st.GetSlowSubscribersTotal() != 1 || st.GetSubscribers() != 1 || st.GetLastSeq() != published {
		t.Fatalf("event stats %v", st)
	}
	// The resume point it was given is long gone from the ring.
	s, err := h.c.WatchEvents(testutil.Context(t), &pb.WatchEventsRequest{AfterSeq: &resume})
	if err == nil {
		_, err = s.Recv()
	}
	wantStatus(t, "resume after being too slow", err, codes.OutOfRange, "oldest available")
}

// Filters apply to replayed and live events alike.
func TestWatchEventsFilters(t *testing.T) {
	h := newHarness(t, manager.Config{}, nil, false)
	tagged := func() *pb.Process {
		return h.start(t, &pb.ProcessSpec{Command: []string{"true"}, Name: "tagged", Labels: map[string]string{"target": "png"}})
	}
	plain := func() *pb.Process { return h.start(t, &pb.ProcessSpec{Command: []string{"true"}, Name: "plain"}) }
	first, second := tagged(), plain()
	h.wait(t, second.GetId())
	h.wait(t, first.GetId())
	zero := uint64(0)
	s, err := h.c.WatchEvents(testutil.Context(t), &pb.WatchEventsRequest{
		AfterSeq: &zero,
		Types:    []pb.EventType{pb.EventType_EVENT_TYPE_EXITED},
		Labels:   map[string]string{"target": "png"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*pb.Process{first, nil} {
		if want == nil { // live: an unmatched process first, then a matched one
			h.wait(t, plain().GetId())
			want = tagged()
		}
		msg, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		e := msg.GetEvent()
		if e.GetType() != pb.EventType_EVENT_TYPE_EXITED || e.GetProcessId() != want.GetId() || e.GetName() != "tagged" ||
			e.GetLabels()["target"] != "png" || e.GetExit().ExitCode == nil {
			t.Fatalf("filtered event %v; want the exit of %s", e, want.GetId())
		}
	}
	byName, err := h.c.WatchEvents(testutil.Context(t), &pb.WatchEventsRequest{AfterSeq: &zero, Names: []string{"plain"}, ProcessIds: []string{second.GetId()}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []pb.EventType{pb.EventType_EVENT_TYPE_STARTED, pb.EventType_EVENT_TYPE_EXITED} {
		msg, err := byName.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if e := msg.GetEvent(); e.GetType() != want || e.GetProcessId() != second.GetId() || e.GetName() != "plain" {
			t.Fatalf("event %v; want %v of %s", e, want, second.GetId())
		}
	}
}

// Regression: output that overflows the ring at once made the manager
// publish output_dropped from the poll loop while Start was still filling
// in the record (a data race on its pid, internal/manager start.go vs
// manager.go publish), so the event could carry pid 0 and come before the
// process's started event. Every event of a process must follow its started
// event and carry its pid. The race detector flags the unsynchronized
// access only on some runs; the order check needs an unlucky schedule.
func TestOutputDroppedEventFollowsStarted(t *testing.T) {
	h := newHarness(t, manager.Config{RingSize: 1}, nil, false)
	zero := uint64(0)
	// The subscription lasts the whole test, 320 starts and exits: more
	// than one step's Deadline on a loaded 2-core machine (it ran out at
	// load 28 under -race).
	ctx, cancel := context.WithTimeout(context.Background(), 4*testutil.Deadline)
	defer cancel()
	s, err := h.c.WatchEvents(ctx, &pb.WatchEventsRequest{AfterSeq: &zero})
	if err != nil {
		t.Fatal(err)
	}
	// Concurrent starts make it likelier that a starting goroutine is
	// descheduled inside the window.
	const workers, each = 8, 40
	const n = workers * each
	procs := map[string]*pb.Process{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				resp, err := h.c.StartProcess(testutil.Context(t), &pb.StartProcessRequest{Spec: &pb.ProcessSpec{Command: []string{"head", "-c", "65536", "/dev/zero"}}})
				if err != nil {
					t.Errorf("start: %v", err)
					return
				}
				mu.Lock()
				procs[resp.GetProcess().GetId()] = resp.GetProcess()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	started := map[string]bool{}
	exited := 0
	for exited < n {
		msg, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		e := msg.GetEvent()
		p := procs[e.GetProcessId()]
		if p == nil {
			t.Fatalf("event for an unknown process: %v", e)
		}
		if e.GetPid() != p.GetPid() {
			t.Errorf("%v event of %s carries pid %d; want %d", e.GetType(), p.GetId(), e.GetPid(), p.GetPid())
		}
		switch e.GetType() {
		case pb.EventType_EVENT_TYPE_STARTED:
			started[p.GetId()] = true
		case pb.EventType_EVENT_TYPE_EXITED:
			exited++
			fallthrough
		default:
			if !started[p.GetId()] {
				t.Errorf("%v event (seq %d) of %s came before its started event", e.GetType(), e.GetSeq(), p.GetId())
			}
		}
	}
}

// A batch subscription gets the same events, in order and without gaps,
// several per message when they are ready together (here: a replay), and
// a live event on its own.
func TestWatchEventsBatch(t *testing.T) {
	h := newHarness(t, manager.Config{}, nil, false)
	h.startAndWait(t, 5)
	last := h.stats(t).GetEvents().GetLastSeq()
	zero := uint64(0)
	s, err := h.c.WatchEvents(testutil.Context(t), &pb.WatchEventsRequest{AfterSeq: &zero, Batch: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []*pb.Event
	msgs := 0
	for len(got) == 0 || got[len(got)-1].GetSeq() < last {
		msg, err := s.Recv()
		if err != nil {
			t.Fatalf("watch: %v after %d events", err, len(got))
		}
		if msg.GetEvent() != nil || len(msg.GetEvents()) == 0 {
			t.Fatalf("batch message without events or with event set: %v", msg)
		}
		got = append(got, msg.GetEvents()...)
		msgs++
	}
	wantSeqs(t, "batched replay", got, 1, last)
	if msgs >= len(got) {
		t.Fatalf("%d replayed events came in %d messages: not batched", len(got), msgs)
	}
	h.start(t, &pb.ProcessSpec{Command: []string{"sleep", "300"}})
	msg, err := s.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if evs := msg.GetEvents(); len(evs) != 1 || evs[0].GetSeq() != last+1 || evs[0].GetType() != pb.EventType_EVENT_TYPE_STARTED {
		t.Fatalf("live event in a batch subscription: %v", msg)
	}
}

// Headers arrive once the subscription is registered: after them, an
// event the client causes is never missed.
func TestWatchEventsHeadersMeanSubscribed(t *testing.T) {
	h := newHarness(t, manager.Config{}, nil, false)
	for range 20 {
		ctx, cancel := context.WithCancel(testutil.Context(t))
		s, err := h.c.WatchEvents(ctx, &pb.WatchEventsRequest{Types: []pb.EventType{pb.EventType_EVENT_TYPE_STARTED}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Header(); err != nil {
			t.Fatal(err)
		}
		p := h.start(t, &pb.ProcessSpec{Command: []string{"true"}})
		msg, err := s.Recv()
		if err != nil || msg.GetEvent().GetProcessId() != p.GetId() {
			t.Fatalf("first event after the headers: %v, %v; want %s started", msg, err, p.GetId())
		}
		cancel()
	}
}
