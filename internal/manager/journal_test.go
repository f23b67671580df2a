//go:build linux

package manager

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/testutil"
)

// memStore is a RecordStore in memory; commit runs the pending encoders,
// as the real store's writer does.
type memStore struct {
	mu       sync.Mutex
	pending  map[string]func() []byte
	values   map[string][]byte
	ceilings map[string]uint64
}

func newMemStore() *memStore {
	return &memStore{pending: map[string]func() []byte{}, values: map[string][]byte{}, ceilings: map[string]uint64{}}
}

func (s *memStore) Put(key string, enc func() []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending[key] = enc
}

func (s *memStore) Delete(key string) { s.Put(key, nil) }

func (s *memStore) Reserve(name string, upTo uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ceilings[name] = max(s.ceilings[name], upTo)
	return nil
}

// commit applies what is pending and returns a copy of the values: what a
// daemon killed right after this commit leaves on disk.
func (s *memStore) commit() map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, enc := range s.pending {
		if enc == nil {
			delete(s.values, k)
		} else if v := enc(); v != nil {
			s.values[k] = v
		}
	}
	clear(s.pending)
	return maps.Clone(s.values)
}

func valuesOf(vals map[string][]byte) func(func(string, []byte) error) error {
	return func(fn func(string, []byte) error) error {
		keys := make([]string, 0, len(vals))
		for k := range vals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := fn(k, vals[k]); err != nil {
				return err
			}
		}
		return nil
	}
}

// After a crash: finished records come back as they were, running ones are
// LOST with their last state, and ids continue past every reserved one.
func TestRecoverAfterCrash(t *testing.T) {
	// Long on purpose: one crash-and-recover scenario, step by step.
	st := newMemStore()
	m1, _ := newManager(t, Config{Store: st})
	done := mustStart(t, m1, sh("exit 3"))
	want := wait(t, m1, done.ID)
	live := mustStart(t, m1, sh("sleep 300"))
	stopping := mustStart(t, m1, Spec{Command: []string{"sh", "-c", `trap "" TERM; echo ready; sleep 300`}, Grace: time.Minute})
	testutil.WaitFor(t, "the TERM trap", func() bool { return strings.Contains(stdout(t, m1, stopping.ID), "ready") })
	go m1.Stop(testutil.Context(t), Ref{ID: stopping.ID}, nil, StopOptions{})
	testutil.WaitFor(t, "the stop to begin", func() bool { info, _ := m1.Get(Ref{ID: stopping.ID}); return info.State == Stopping })
	removed := mustStart(t, m1, sh("true"))
	wait(t, m1, removed.ID)
	if _, err := m1.Remove(Ref{ID: removed.ID}); err != nil {
		t.Fatal(err)
	}
	vals := st.commit() // the daemon dies here
	var now time.Duration
	m1.Stop(testutil.Context(t), Ref{ID: stopping.ID}, nil, StopOptions{Grace: &now})

	// A crash leaves the reserved ceiling as the last id that may be used.
	m2, _ := newManager(t, Config{Store: st})
	rec, err := m2.Recover(valuesOf(vals), st.ceilings[IDCounter], st.ceilings[IDCounter])
	if err != nil {
		t.Fatal(err)
	}
	if rec.Finished != 1 || len(rec.Lost) != 2 || rec.Dropped != 0 {
		t.Fatalf("recovered %+v, want 1 finished and 2 lost", rec)
	}
	got, err := m2.Get(Ref{ID: done.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != Exited || got.Exit == nil || got.Exit.Code != 3 || !got.Restored || !got.FinishedAt.Equal(want.FinishedAt) {
		t.Fatalf("finished record after recovery: %+v", got)
	}
	for id, last := range map[string]State{live.ID: Running, stopping.ID: Stopping} {
		got, err := m2.Get(Ref{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		if got.State != Lost || got.LastState != last || got.Exit != nil || got.LostAt.IsZero() || got.PID == 0 {
			t.Fatalf("%s after recovery: state %v last %v exit %v lost at %v, want LOST from %v", id, got.State, got.LastState, got.Exit, got.LostAt, last)
		}
	}
	if _, err := m2.Get(Ref{ID: removed.ID}); err == nil {
		t.Fatalf("removed record %s came back", removed.ID)
	}
	// Following a restored record's output ends at once: it has none.
	rd, err := m2.OpenOutput(Ref{ID: done.ID}, OutputOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan map[StreamID][]byte, 1)
	go func() { read <- readAll(t, rd) }()
	select {
	case out := <-read:
		if len(out[Stdout])+len(out[Stderr]) != 0 {
			t.Fatalf("output of a restored record: %v", out)
		}
	case <-time.After(10 * time.Second):
		rd.Close()
		t.Fatal("following the output of a restored record did not end")
	}
	rd.Close()
	// A lost record is final: stop returns it, signals and removal work on it.
	res, err := m2.Stop(testutil.Context(t), Ref{ID: live.ID}, nil, StopOptions{})
	if err != nil || res[0].Info.State != Lost {
		t.Fatalf("stop of a lost process: %+v %v", res, err)
	}
	if sr, _ := m2.Signal(Ref{ID: live.ID}, nil, 15, false); sr[0].Delivered {
		t.Fatal("a signal was delivered to a lost process")
	}
	if _, err := m2.Remove(Ref{ID: live.ID}); err != nil {
		t.Fatalf("remove a lost record: %v", err)
	}
	// New ids never reuse an old one, even one the crash left unrecorded.
	next := mustStart(t, m2, sh("true"))
	if n := idNumber(t, next.ID); n <= idNumber(t, removed.ID) || n <= 4096 {
		t.Fatalf("first id after the crash is %s; want one past the reserved block", next.ID)
	}
	wait(t, m2, next.ID)
	// The store now holds the LOST marks (not RUNNING) and no removed record.
	after := st.commit()
	if _, ok := after[recordKeyPrefix+live.ID]; ok {
		t.Fatalf("removed lost record %s still stored", live.ID)
	}
	if !strings.Contains(string(after[recordKeyPrefix+stopping.ID]), `"State":7`) {
		t.Fatalf("stored record of %s is not LOST: %s", stopping.ID, after[recordKeyPrefix+stopping.ID])
	}
}

// After a clean stop the records show the processes the daemon stopped,
// with reason DAEMON_SHUTDOWN, and ids continue without a gap.
func TestRecoverAfterCleanShutdown(t *testing.T) {
	st := newMemStore()
	bus1 := events.NewBus(64, nil)
	m1 := New(Config{Store: st}, rt, bus1, nil)
	live := mustStart(t, m1, sh("sleep 300"))
	stopped := mustStart(t, m1, Spec{Command: []string{"sleep", "300"}, Restart: RestartPolicy{Mode: RestartAlways}})
	server := mustStart(t, m1, Spec{Command: []string{"sleep", "300"}, Restart: RestartPolicy{Mode: RestartAlways}})
	if _, err := m1.Stop(testutil.Context(t), Ref{ID: stopped.ID}, nil, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	m1.Shutdown(testutil.Context(t))
	bus1.Close()
	vals := st.commit()

	m2, _ := newManager(t, Config{Store: st, RetainFinished: 5})
	if _, err := m2.Recover(valuesOf(vals), m1.LastID(), st.ceilings[IDCounter]); err != nil {
		t.Fatal(err)
	}
	got, err := m2.Get(Ref{ID: live.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != Exited || got.Exit == nil || got.Exit.Reason != ReasonShutdown {
		t.Fatalf("record of a process stopped at shutdown: %+v", got)
	}
	// With a restart policy, what the shutdown stopped runs again; what
	// the user stopped does not.
	if got, _ := m2.Get(Ref{ID: server.ID}); got.State != Running || got.Attempt != 2 || got.Runs[0].Exit.Reason != ReasonShutdown {
		t.Fatalf("process with a restart policy stopped by the shutdown, after the restart: %+v", got)
	}
	if got, _ := m2.Get(Ref{ID: stopped.ID}); got.State != Exited || got.Exit.Reason != ReasonStopped {
		t.Fatalf("process with a restart policy stopped by the user, after the restart: %+v", got)
	}
	next := mustStart(t, m2, sh("true"))
	if idNumber(t, next.ID) != idNumber(t, server.ID)+1 {
		t.Fatalf("first id after a clean restart is %s, after %s", next.ID, live.ID)
	}
	wait(t, m2, next.ID)
}

// Retention applies to records read back: the oldest beyond the limit go,
// from the table and from the store.
func TestRecoverAppliesRetention(t *testing.T) {
	st := newMemStore()
	m1, _ := newManager(t, Config{Store: st})
	var ids []string
	for range 6 {
		info := mustStart(t, m1, sh("true"))
		wait(t, m1, info.ID)
		ids = append(ids, info.ID)
	}
	vals := st.commit()
	m2, _ := newManager(t, Config{Store: st, RetainFinished: 4})
	rec, err := m2.Recover(valuesOf(vals), 6, st.ceilings[IDCounter])
	if err != nil {
		t.Fatal(err)
	}
	if rec.Dropped != 2 || len(m2.List(ListFilter{})) != 4 {
		t.Fatalf("recovered %+v with %d records, want 2 dropped and 4 kept", rec, len(m2.List(ListFilter{})))
	}
	after := st.commit()
	for i, id := range ids {
		if _, ok := after[recordKeyPrefix+id]; ok != (i >= 2) {
			t.Fatalf("record %s stored: %v, want %v", id, ok, i >= 2)
		}
	}
}

func idNumber(t *testing.T, id string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(id, "p-%d", &n); err != nil {
		t.Fatalf("id %q: %v", id, err)
	}
	return n
}

// A process with a restart policy that was running when the daemon died
// runs again, once, as the next run under its id; one that was being
// stopped stays LOST. A second crash starts it once more, never twice.
func TestRecoverResumesRestartPolicies(t *testing.T) {
	st := newMemStore()
	always := RestartPolicy{Mode: RestartAlways}
	m1, _ := newManager(t, Config{Store: st})
	live := mustStart(t, m1, Spec{Command: []string{"sleep", "300"}, Name: "live", Restart: always})
	stopping := mustStart(t, m1, Spec{Command: []string{"sh", "-c", `trap "" TERM; echo ready; sleep 300`}, Grace: time.Minute, Restart: always})
	waitUntil(t, "the TERM trap", func() bool { return strings.Contains(stdout(t, m1, stopping.ID), "ready") })
	go m1.Stop(ctxFor(t), Ref{ID: stopping.ID}, nil, StopOptions{})
	waitUntil(t, "the stop to begin", func() bool { info, _ := m1.Get(Ref{ID: stopping.ID}); return info.State == Stopping })
	vals := st.commit() // the daemon dies here
	var now time.Duration
	m1.Stop(ctxFor(t), Ref{ID: stopping.ID}, nil, StopOptions{Grace: &now})

	prevPID := live.PID
	for attempt := 2; attempt <= 3; attempt++ {
		m, _ := newManager(t, Config{Store: st})
		rec, err := m.Recover(valuesOf(vals), st.ceilings[IDCounter], st.ceilings[IDCounter])
		if err != nil {
			t.Fatal(err)
		}
		wantLost := []string{stopping.ID} // found lost at the first restart, LOST since
		if attempt > 2 {
			wantLost = nil
		}
		if !slices.Equal(rec.Resumed, []string{live.ID}) || !slices.Equal(rec.Lost, wantLost) {
			t.Fatalf("crash %d: resumed %v, lost %v; want %s resumed and %v lost", attempt-1, rec.Resumed, rec.Lost, live.ID, wantLost)
		}
		if info, _ := m.Get(Ref{ID: stopping.ID}); info.State != Lost || info.LastState != Stopping {
			t.Fatalf("crash %d: the process being stopped: %v from %v, want LOST from STOPPING", attempt-1, info.State, info.LastState)
		}
		got, err := m.Get(Ref{ID: live.ID})
		if err != nil {
			t.Fatal(err)
		}
		if got.State != Running || got.Attempt != attempt || got.PID == prevPID || !alive(got.PID) || len(got.Runs) != attempt {
			t.Fatalf("crash %d: resumed process %+v, want run %d with a new pid", attempt-1, got, attempt)
		}
		if lost := got.Runs[attempt-2]; lost.PID != prevPID || lost.FinishedAt.IsZero() || lost.Exit != nil {
			t.Fatalf("crash %d: the lost run in the history: %+v", attempt-1, lost)
		}
		if n := len(m.List(ListFilter{})); n != 2 {
			t.Fatalf("crash %d: %d records, want 2 (one per id)", attempt-1, n)
		}
		prevPID = got.PID
		vals = st.commit() // and dies again
	}
}
