package watchdog

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

const s = time.Second

// fakeClock only matters for Status; Tick takes the time directly.
type fakeClock struct{ now time.Duration }

func (c *fakeClock) Now() time.Duration             { return c.now }
func (c *fakeClock) Wall(d time.Duration) time.Time { return time.Unix(0, 0).Add(d) }

func seed() Settings {
	return Settings{Timeout: 30 * s, ExtraBuffer: 5 * s, MaxHangTime: 60 * s, AutoKill: true, Sources: DefaultSources}
}

func kinds(as []Action) []Kind {
	var out []Kind
	for _, a := range as {
		out = append(out, a.Kind)
	}
	return out
}

func expect(t *testing.T, w *Watchdog, at time.Duration, want ...Kind) []Action {
	t.Helper()
	got := w.Tick(at)
	if !slices.Equal(kinds(got), want) {
		t.Fatalf("at %v: got %v, want %v", at, kinds(got), want)
	}
	return got
}

func newWatched(settings Settings) (*Watchdog, *Activity) {
	w := New(&fakeClock{}, func(Action) {})
	act := NewActivity(0, settings.Sources)
	w.Watch("p", settings, act, 0)
	return w, act
}

// The seed's comparisons are strictly greater: idle == timeout is not slow.
func TestBoundariesAreStrictlyGreater(t *testing.T) {
	w, _ := newWatched(seed())
	expect(t, w, 30*s)
	a := expect(t, w, 30*s+1, Slow)
	if a[0].Due != 30*s+1 || a[0].Idle != 30*s+1 {
		t.Fatalf("slow action %+v", a[0])
	}
	expect(t, w, 35*s)
	a = expect(t, w, 35*s+1, Hung, Kill)
	if a[1].Due != 35*s+1 {
		t.Fatalf("kill due %v", a[1].Due)
	}
	expect(t, w, 1000*s) // killed: nothing more, ever
	if st := w.Stats(); st.Queue != 0 || st.Counts[Kill] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestActivityPostponesAndEndsEpisodes(t *testing.T) {
	set := seed()
	set.AutoKill = false
	w, act := newWatched(set)
	act.Touch(20*s, Output)
	expect(t, w, 30*s+1) // the timer fires, sees the activity, reschedules
	expect(t, w, 50*s+1, Slow)
	expect(t, w, 55*s+1, Hung)
	// Activity during the hang: the episode ends at the next evaluation.
	act.Touch(60*s, Heartbeat)
	expect(t, w, 80*s+1, Recovered) // due was 20+60+1: recovery seen, no force kill
	expect(t, w, 90*s+1, Slow)      // a new episode...
	expect(t, w, 95*s+1, Hung)      // ...with its own single hung event
	expect(t, w, 120*s)
	expect(t, w, 120*s+1, ForceKill) // idle > max_hang_time = 60 since the last activity at 60
	expect(t, w, 500*s)
}

func TestOneHungEventPerEpisodeWithoutAutoKill(t *testing.T) {
	set := seed()
	set.AutoKill = false
	w, _ := newWatched(set)
	var all []Kind
	for at := time.Duration(0); at <= 100*s; at += 100 * time.Millisecond {
		all = append(all, kinds(w.Tick(at))...)
	}
	if !slices.Equal(all, []Kind{Slow, Hung, ForceKill}) {
		t.Fatalf("decisions over 100 s: %v", all)
	}
}

func TestMaxHangTimeBelowHungThresholdKillsAtHung(t *testing.T) {
	set := seed()
	set.AutoKill, set.MaxHangTime = false, 10*s
	w, _ := newWatched(set)
	expect(t, w, 35*s+1, Slow, Hung, ForceKill)
}

func TestDisabledWatchdog(t *testing.T) {
	set := seed()
	set.Timeout = 0
	w, _ := newWatched(set)
	if st := w.Stats(); st.Watched != 0 {
		t.Fatalf("timeout 0 without deadline is watched: %+v", st)
	}
	expect(t, w, 1000*s)

	// Timeout 0 with a deadline: only the deadline applies.
	set.Deadline = 2 * s
	w, act := newWatched(set)
	act.Touch(1*s, Output)
	expect(t, w, 2*s)
	expect(t, w, 2*s+1, Deadline)
	expect(t, w, 100*s)
}

func TestDeadlineIgnoresActivity(t *testing.T) {
	set := seed()
	set.Deadline = 2 * s
	w, act := newWatched(set)
	for at := time.Duration(0); at < 2*s; at += 100 * time.Millisecond {
		act.Touch(at, Output)
		expect(t, w, at)
	}
	expect(t, w, 2*s+1, Deadline)
	expect(t, w, 40*s)
}

func TestSourcesFilterActivity(t *testing.T) {
	act := NewActivity(0, Sources(Heartbeat))
	if act.Touch(5*s, Output) {
		t.Fatal("output accepted although not a source")
	}
	if !act.Touch(6*s, Heartbeat) {
		t.Fatal("heartbeat refused")
	}
	if at, src := act.Last(); at != 6*s || src != Heartbeat {
		t.Fatalf("last %v %v", at, src)
	}
}

func TestUnwatchAndStatus(t *testing.T) {
	w, act := newWatched(seed())
	w.clock.(*fakeClock).now = 31 * s
	w.Tick(31 * s)
	st, ok := w.Status("p")
	if !ok || !st.Slow || st.Hung || st.Idle != 31*s {
		t.Fatalf("status %+v %v", st, ok)
	}
	act.Touch(31*s, Output)
	w.Unwatch("p")
	if _, ok := w.Status("p"); ok {
		t.Fatal("status after unwatch")
	}
	expect(t, w, 1000*s)
}

// The heap must decide exactly what a scan of every entry at every step
// decides, with thousands of entries and constant activity churn.
func TestTimerHeapMatchesFullScanUnderChurn(t *testing.T) {
	const n = 3000
	rng := rand.New(rand.NewPCG(7, 11))
	w := New(&fakeClock{}, func(Action) {})
	model := map[string]*entry{}
	acts := map[string]*Activity{}
	for i := range n {
		set := Settings{
			Timeout:     time.Duration(1+rng.IntN(20)) * 100 * time.Millisecond,
			ExtraBuffer: time.Duration(rng.IntN(10)) * 100 * time.Millisecond,
			MaxHangTime: time.Duration(rng.IntN(40)) * 100 * time.Millisecond,
			AutoKill:    rng.IntN(2) == 0,
			Sources:     DefaultSources,
		}
		if rng.IntN(5) == 0 {
			set.Deadline = time.Duration(1+rng.IntN(50)) * 100 * time.Millisecond
		}
		id := fmt.Sprint("p-", i)
		act := NewActivity(0, set.Sources)
		acts[id] = act
		w.Watch(id, set, act, 0)
		model[id] = &entry{id: id, s: set, act: act, index: -1}
	}
	var heapActs, scanActs []string
	for at := time.Duration(0); at <= 8*s; at += 10 * time.Millisecond {
		for range 200 { // churn: random processes show activity
			id := fmt.Sprint("p-", rng.IntN(n))
			if rng.IntN(3) > 0 {
				acts[id].Touch(at, Output)
			}
		}
		for _, a := range w.Tick(at) {
			heapActs = append(heapActs, fmt.Sprintf("%s %v %v", a.ID, a.Kind, a.Due))
		}
		for _, e := range model {
			for _, a := range e.evaluate(at, nil) {
				scanActs = append(scanActs, fmt.Sprintf("%s %v %v", a.ID, a.Kind, a.Due))
			}
		}
	}
	slices.Sort(heapActs)
	slices.Sort(scanActs)
	h, sc := heapActs, scanActs
	if len(h) < n/2 {
		t.Fatalf("only %d decisions; the test does not exercise the rules", len(h))
	}
	if !slices.Equal(h, sc) {
		for i := range min(len(h), len(sc)) {
			if h[i] != sc[i] {
				t.Fatalf("first difference at %d: heap %q, scan %q (%d vs %d decisions)", i, h[i], sc[i], len(h), len(sc))
			}
		}
		t.Fatalf("heap made %d decisions, scan %d", len(h), len(sc))
	}
}

// The loop wakes at the earliest due time and hands decisions over.
func TestLoopDeliversDecisionsOnTime(t *testing.T) {
	clock := NewClock()
	got := make(chan Action, 4)
	w := New(clock, func(a Action) { got <- a })
	w.Start()
	defer w.Close()
	set := Settings{Timeout: 50 * time.Millisecond, ExtraBuffer: 20 * time.Millisecond, AutoKill: true, Sources: DefaultSources}
	start := clock.Now()
	w.Watch("p", set, NewActivity(start, set.Sources), start)
	var seen []Kind
	for len(seen) < 3 {
		select {
		case a := <-got:
			if late := clock.Now() - a.Due; late < 0 {
				t.Fatalf("%v decided %v before its due time", a.Kind, -late)
			}
			seen = append(seen, a.Kind)
		case <-time.After(5 * time.Second):
			t.Fatalf("decisions so far %v", seen)
		}
	}
	if !slices.Equal(seen, []Kind{Slow, Hung, Kill}) {
		t.Fatalf("decisions %v", seen)
	}
}

// BenchmarkTouch is the cost of recording activity (done for every chunk
// of output a process writes).
func BenchmarkTouch(b *testing.B) {
	act := NewActivity(0, DefaultSources)
	var now time.Duration
	for b.Loop() {
		now++
		act.Touch(now, Output)
	}
}

// BenchmarkTickChurn is the cost of the timer heap with 10,000 processes
// whose activity keeps moving their deadlines.
func BenchmarkTickChurn(b *testing.B) {
	const n = 10000
	w := New(&fakeClock{}, func(Action) {})
	acts := make([]*Activity, n)
	for i := range n {
		set := Settings{Timeout: time.Duration(100+i%50) * time.Millisecond, ExtraBuffer: 10 * time.Millisecond, AutoKill: true, Sources: DefaultSources}
		acts[i] = NewActivity(0, set.Sources)
		w.Watch(fmt.Sprint(i), set, acts[i], 0)
	}
	now := time.Duration(0)
	i := 0
	for b.Loop() {
		now += time.Millisecond
		for range 100 {
			acts[i%n].Touch(now, Output)
			i += 7
		}
		w.Tick(now)
	}
}
