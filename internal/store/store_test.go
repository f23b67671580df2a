package store

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, time.Second, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// crash abandons s as a killed daemon would: nothing more is written, and
// no exact counter values are saved.
func crash(s *Store) {
	close(s.quit)
	<-s.done
	s.db.Close()
}

func values(t *testing.T, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := s.Values(func(k string, v []byte) error { out[k] = string(v); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func val(v string) func() []byte { return func() []byte { return []byte(v) } }

func TestPutDeleteSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.Put("a", val("1"))
	s.Put("b", val("2"))
	s.Put("a", val("3")) // the newest wins
	s.Delete("b")
	s.Put("c", func() []byte { return nil }) // skipped
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(nil); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer s.Close(nil)
	if got := values(t, s); len(got) != 1 || got["a"] != "3" {
		t.Fatalf("values after reopen: %v, want only a=3", got)
	}
}

// The encoder runs on the writer, once per commit: a value changed many
// times between two commits is encoded once, with its latest content.
func TestEncodeRunsAtCommit(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close(nil)
	var mu sync.Mutex
	cur, calls := "old", 0
	enc := func() []byte {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return []byte(cur)
	}
	s.mu.Lock() // hold the writer off while the changes pile up
	s.pending["k"] = enc
	s.seqNoted++
	s.mu.Unlock()
	mu.Lock()
	cur = "new"
	mu.Unlock()
	s.Put("k", enc)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := values(t, s)["k"]; got != "new" || calls != 1 {
		t.Fatalf("k = %q after %d encodes, want new after 1", got, calls)
	}
}

// Many writers at once: every change is there after Flush.
func TestConcurrentPutsAreGroupCommitted(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close(nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				s.Put(fmt.Sprintf("%d-%d", g, i), val("x"))
			}
		})
	}
	wg.Wait()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := len(values(t, s)); got != 1600 {
		t.Fatalf("%d values, want 1600", got)
	}
}

// After a clean close a counter resumes from its exact last number; after a
// crash from its ceiling; and a crash after a clean restart does not reuse
// the old exact value.
func TestCountersNeverGoBack(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if c := s.Counter("seq"); c != (Counter{}) {
		t.Fatalf("new counter: %+v", c)
	}
	if err := s.Reserve("seq", 100); err != nil {
		t.Fatal(err)
	}
	if err := s.Reserve("seq", 50); err != nil { // never goes down
		t.Fatal(err)
	}
	if err := s.Close(map[string]uint64{"seq": 42}); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	if c := s.Counter("seq"); c != (Counter{Last: 42, Ceiling: 100, Clean: true}) {
		t.Fatalf("after a clean close: %+v, want last 42 of ceiling 100", c)
	}
	crash(s)

	s = open(t, dir)
	if c := s.Counter("seq"); c != (Counter{Last: 100, Ceiling: 100}) {
		t.Fatalf("after a crash: %+v, want last = ceiling = 100", c)
	}
	if err := s.Reserve("seq", 200); err != nil {
		t.Fatal(err)
	}
	crash(s)
	s = open(t, dir)
	defer s.Close(nil)
	if c := s.Counter("seq"); c.Last != 200 {
		t.Fatalf("after a second crash: %+v, want last 200", c)
	}
}

// A second opener waits for the first, then gives up with an error that
// names the file.
func TestOpenWhileHeld(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close(nil)
	if _, err := Open(dir, 50*time.Millisecond, nil); err == nil {
		t.Fatal("a second Open of a held store succeeded")
	}
}
