// Package watchdog decides when a process is slow, hung or past its
// deadline. It keeps the original ProcessWatchdog's rules — with idle = now −
// last activity: idle > timeout is slow; idle > timeout + extra_buffer is
// hung (one event per hang episode) and, with auto_kill, killed; with
// auto_kill off a hung process is force-killed once idle > max_hang_time —
// but replaces its scan of every process every check_interval with one timer
// per process in a heap, on a monotonic clock.
//
// Activity is recorded lock-free (an atomic store per event, however many
// bytes of output arrive); an entry's timer fires at the earliest moment a
// rule could apply, and if activity moved that moment, the entry is simply
// rescheduled. So a busy process costs one wakeup per timeout period, an
// idle one a wakeup per rule, and the daemon's idle CPU does not grow with
// the number of watched processes.
//
// The package only decides; it ends nothing itself. Its owner (the manager)
// receives Actions and runs the usual stop escalation. The core (Tick) takes
// the time as an argument, so tests drive it without sleeping.
package watchdog

import (
	"container/heap"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Source is an activity source.
type Source uint8

// Activity sources.
const (
	Heartbeat Source = 1 << iota // the UpdateActivity RPC
	Notify                       // WATCHDOG=1 on the sd_notify socket
	Output                       // any captured byte
	CPU                          // the tree used CPU since the last sample
	File                         // a file's modification time advanced
)

// Sources is a set of activity sources.
type Sources uint8

// DefaultSources are heartbeat, notify and output.
const DefaultSources = Sources(Heartbeat | Notify | Output)

var sourceNames = []struct {
	s    Source
	name string
}{{Heartbeat, "heartbeat"}, {Notify, "notify"}, {Output, "output"}, {CPU, "cpu"}, {File, "file"}}

func (s Source) String() string {
	for _, n := range sourceNames {
		if n.s == s {
			return n.name
		}
	}
	return "start"
}

// Has reports whether src is in the set.
func (s Sources) Has(src Source) bool { return s&Sources(src) != 0 }

func (s Sources) String() string {
	var names []string
	for _, n := range sourceNames {
		if s.Has(n.s) {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

// ParseSource resolves a source name.
func ParseSource(name string) (Source, error) {
	for _, n := range sourceNames {
		if strings.EqualFold(strings.TrimSpace(name), n.name) {
			return n.s, nil
		}
	}
	return 0, fmt.Errorf("unknown activity source %q (use heartbeat, notify, output, cpu or file)", name)
}

// Settings are one process's watchdog settings, defaults already applied.
type Settings struct {
	Timeout     time.Duration // 0 disables hang detection
	ExtraBuffer time.Duration
	MaxHangTime time.Duration
	AutoKill    bool
	Deadline    time.Duration // wall-clock limit since start; 0: none
	Sources     Sources
	File        string // for the File source
}

// Enabled reports whether anything is watched at all.
func (s *Settings) Enabled() bool { return s.Timeout > 0 || s.Deadline > 0 }

// Activity is a process's last-activity stamp, shared by every source. Touch
// is lock-free and may be called from any goroutine.
type Activity struct {
	at      atomic.Int64  // monotonic nanoseconds (see Clock)
	src     atomic.Uint32 // Source of the last touch
	sources Sources

	// alert is set while the process is slow or hung: the first activity
	// then wakes the watchdog, because the episode's end must be seen at
	// once (a new episode may start before the next rule's time).
	alert   atomic.Bool
	onAlert atomic.Pointer[func()]
}

// NewActivity returns a stamp set to now (the process start) that accepts the
// given sources.
func NewActivity(now time.Duration, sources Sources) *Activity {
	a := &Activity{sources: sources}
	a.at.Store(int64(now))
	return a
}

// Touch records activity from src at now. It returns false, recording
// nothing, when src is not one of the process's sources.
func (a *Activity) Touch(now time.Duration, src Source) bool {
	if !a.sources.Has(src) {
		return false
	}
	a.at.Store(int64(now))
	a.src.Store(uint32(src))
	if a.alert.Load() && a.alert.CompareAndSwap(true, false) {
		if f := a.onAlert.Load(); f != nil {
			(*f)()
		}
	}
	return true
}

// Restart sets the stamp to now with no source, as at start: the idle
// clock starts again (when a process becomes ready, its start-up was not
// idleness).
func (a *Activity) Restart(now time.Duration) {
	a.at.Store(int64(now))
	a.src.Store(0)
}

// Last returns the time and source of the last activity (source 0: none
// since start).
func (a *Activity) Last() (time.Duration, Source) {
	return time.Duration(a.at.Load()), Source(a.src.Load())
}

// Sources returns the accepted sources.
func (a *Activity) Sources() Sources { return a.sources }

// Kind is what the watchdog decided about a process.
type Kind int

// Decisions, in the order they can happen within one episode.
const (
	Slow      Kind = iota + 1 // idle > timeout
	Hung                      // idle > timeout + extra_buffer (once per episode)
	Kill                      // hung with auto_kill: terminate (TERM, grace, KILL)
	ForceKill                 // hung without auto_kill and idle > max_hang_time: SIGKILL now
	Deadline                  // the wall-clock deadline passed: terminate
	Recovered                 // activity resumed after slow or hung: the episode ended
)

func (k Kind) String() string {
	return [...]string{"?", "slow", "hung", "kill", "force-kill", "deadline", "recovered"}[k]
}

// Action is one decision. Due is when the rule's threshold was crossed;
// firing happens at Due or later, and Due..now is the watchdog's latency.
type Action struct {
	ID   string
	Kind Kind
	Idle time.Duration // idle time when decided
	Due  time.Duration
}

// entry is one watched process.
type entry struct {
	id    string
	s     Settings
	act   *Activity
	start time.Duration

	index int           // in the heap; -1 when not queued
	due   time.Duration // next time a rule may apply

	epoch    time.Duration // activity stamp the current episode started from
	slow     bool
	hung     bool
	killed   bool // Kill, ForceKill or Deadline was issued; nothing more to decide
	deadline bool
}

// Status is a snapshot of one process's watchdog state.
type Status struct {
	Settings Settings
	Idle     time.Duration
	Last     time.Duration // monotonic time of the last activity
	Source   Source
	Slow     bool
	Hung     bool
	Deadline time.Duration // monotonic time of the deadline, 0 if none
}

// Watchdog watches processes. Use New; it is safe for concurrent use.
type Watchdog struct {
	clock    Clock
	onAction func(Action)

	mu      sync.Mutex
	entries map[string]*entry
	queue   queue
	alarm   *alarm      // wakes the loop at the earliest due
	poked   atomic.Bool // the earliest due may have moved
	counts  map[Kind]int64

	started  atomic.Bool
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// New returns a watchdog. onAction is called, outside the watchdog's lock,
// from the watchdog's goroutine (see Start), for every decision; it must not
// block for long.
func New(clock Clock, onAction func(Action)) *Watchdog {
	return &Watchdog{
		clock:    clock,
		onAction: onAction,
		entries:  make(map[string]*entry),
		alarm:    newAlarm(),
		counts:   make(map[Kind]int64),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// Watch starts watching process id from start with the given settings and
// activity stamp. Settings that watch nothing are ignored.
func (w *Watchdog) Watch(id string, s Settings, act *Activity, start time.Duration) {
	if !s.Enabled() {
		return
	}
	last, _ := act.Last()
	e := &entry{id: id, s: s, act: act, start: start, index: -1, epoch: last}
	e.due = e.nextDue(last)
	nudge := func() { w.nudge(e) }
	act.onAlert.Store(&nudge)
	w.mu.Lock()
	if old, ok := w.entries[id]; ok && old.index >= 0 {
		heap.Remove(&w.queue, old.index)
	}
	w.entries[id] = e
	heap.Push(&w.queue, e)
	first := w.queue[0] == e
	w.mu.Unlock()
	if first {
		w.poke()
	}
}

// Unwatch stops watching id (when it exits).
func (w *Watchdog) Unwatch(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.entries[id]
	if !ok {
		return
	}
	delete(w.entries, id)
	if e.index >= 0 {
		heap.Remove(&w.queue, e.index)
	}
}

// nudge makes e due now: it was slow or hung and showed activity.
func (w *Watchdog) nudge(e *entry) {
	w.mu.Lock()
	if w.entries[e.id] != e || e.index < 0 {
		w.mu.Unlock()
		return
	}
	if now := w.clock.Now(); now < e.due {
		e.due = now
		heap.Fix(&w.queue, e.index)
	}
	w.mu.Unlock()
	w.poke()
}

// Status returns the state of a watched process.
func (w *Watchdog) Status(id string) (Status, bool) {
	now := w.clock.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.entries[id]
	if !ok {
		return Status{}, false
	}
	last, src := e.act.Last()
	st := Status{Settings: e.s, Idle: now - last, Last: last, Source: src, Slow: e.slow, Hung: e.hung}
	if e.s.Deadline > 0 {
		st.Deadline = e.start + e.s.Deadline
	}
	return st, true
}

// Stats are the watchdog's figures.
type Stats struct {
	Watched int
	Slow    int
	Hung    int
	Queue   int // timers queued
	Counts  map[Kind]int64
}

// Stats returns the current figures.
func (w *Watchdog) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := Stats{Watched: len(w.entries), Queue: len(w.queue), Counts: make(map[Kind]int64, len(w.counts))}
	for _, e := range w.entries {
		if e.slow {
			st.Slow++
		}
		if e.hung {
			st.Hung++
		}
	}
	for k, v := range w.counts {
		st.Counts[k] = v
	}
	return st
}

// thresholds of one episode, strictly greater than: a rule applies at the
// first instant idle exceeds its limit, one nanosecond after it.
func (e *entry) nextDue(last time.Duration) time.Duration {
	const never = time.Duration(1<<63 - 1)
	due := never
	if e.s.Deadline > 0 && !e.deadline {
		due = e.start + e.s.Deadline + 1
	}
	if e.s.Timeout <= 0 || e.killed {
		return due
	}
	var limit time.Duration
	switch {
	case !e.slow:
		limit = e.s.Timeout
	case !e.hung:
		limit = e.s.Timeout + e.s.ExtraBuffer
	case !e.s.AutoKill:
		limit = max(e.s.MaxHangTime, e.s.Timeout+e.s.ExtraBuffer)
	default:
		return due
	}
	return min(due, last+limit+1)
}

// Tick applies every rule due at now and returns the decisions. It is the
// whole of the watchdog's logic; Start only calls it at the right times.
func (w *Watchdog) Tick(now time.Duration) []Action {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Action
	for len(w.queue) > 0 && w.queue[0].due <= now {
		e := w.queue[0]
		out = e.evaluate(now, out)
		e.act.alert.Store((e.slow || e.hung) && !e.killed)
		if e.due = e.nextDue(e.epoch); e.due == time.Duration(1<<63-1) {
			heap.Pop(&w.queue)
		} else {
			heap.Fix(&w.queue, 0)
		}
	}
	for _, a := range out {
		w.counts[a.Kind]++
	}
	return out
}

// evaluate applies the rules to e at now.
func (e *entry) evaluate(now time.Duration, out []Action) []Action {
	if e.s.Deadline > 0 && !e.deadline && now > e.start+e.s.Deadline {
		e.deadline, e.killed = true, true
		last, _ := e.act.Last()
		return append(out, Action{ID: e.id, Kind: Deadline, Idle: now - last, Due: e.start + e.s.Deadline + 1})
	}
	if e.s.Timeout <= 0 || e.killed {
		return out
	}
	last, _ := e.act.Last()
	if last != e.epoch {
		// Activity since the episode began: it ended, a new one starts now.
		if e.slow || e.hung {
			out = append(out, Action{ID: e.id, Kind: Recovered, Idle: now - last, Due: now})
		}
		e.epoch, e.slow, e.hung = last, false, false
	}
	idle := now - last
	if !e.slow && idle > e.s.Timeout {
		e.slow = true
		out = append(out, Action{ID: e.id, Kind: Slow, Idle: idle, Due: last + e.s.Timeout + 1})
	}
	if !e.hung && idle > e.s.Timeout+e.s.ExtraBuffer {
		e.hung = true
		due := last + e.s.Timeout + e.s.ExtraBuffer + 1
		out = append(out, Action{ID: e.id, Kind: Hung, Idle: idle, Due: due})
		if e.s.AutoKill {
			e.killed = true
			return append(out, Action{ID: e.id, Kind: Kill, Idle: idle, Due: due})
		}
	}
	if e.hung && !e.s.AutoKill {
		if limit := max(e.s.MaxHangTime, e.s.Timeout+e.s.ExtraBuffer); idle > limit {
			e.killed = true
			out = append(out, Action{ID: e.id, Kind: ForceKill, Idle: idle, Due: last + limit + 1})
		}
	}
	return out
}

// Start runs the timer loop until Close: it sleeps until the earliest due
// entry, ticks, and hands decisions to onAction.
func (w *Watchdog) Start() {
	w.started.Store(true)
	go w.run()
}

func (w *Watchdog) run() {
	lockThread()
	defer close(w.done)
	defer w.alarm.close()
	for {
		for _, a := range w.Tick(w.clock.Now()) {
			w.onAction(a)
		}
		select {
		case <-w.stop:
			return
		default:
		}
		w.mu.Lock()
		wait := time.Duration(-1)
		if len(w.queue) > 0 {
			wait = max(w.queue[0].due-w.clock.Now(), 0)
		}
		w.mu.Unlock()
		w.alarm.set(wait)
		// A poke after the alarm was set re-set it to now; one before
		// might have been overwritten, so it is looked at here.
		if w.poked.Swap(false) {
			continue
		}
		w.alarm.wait()
		w.poked.Store(false)
	}
}

// poke wakes the loop to recompute its sleep.
func (w *Watchdog) poke() {
	w.poked.Store(true)
	w.alarm.set(0)
}

// Close stops the loop started by Start and waits for it.
func (w *Watchdog) Close() {
	w.stopOnce.Do(func() {
		close(w.stop)
		w.poke()
	})
	if w.started.Load() {
		<-w.done
	} else {
		w.alarm.close()
	}
}
