package watchdog

import (
	"sync"
	"time"
)

// Probe reads a value that grows while a process makes progress: its tree's
// CPU time, a file's modification time. ok is false when it cannot be read
// now (the file does not exist yet).
type Probe func() (v int64, ok bool)

// Sampler runs the probes of the sampled sources (cpu, file) every
// interval and records activity when a value grew. Its ticker runs only
// while something is sampled, so it costs nothing otherwise.
type Sampler struct {
	clock    Clock
	interval time.Duration

	mu      sync.Mutex
	items   map[sampleKey]*sample
	running bool
	stop    chan struct{}
	done    chan struct{}
}

type sampleKey struct {
	id  string
	src Source
}

type sample struct {
	act   *Activity
	probe Probe
	last  int64
	have  bool
}

// NewSampler returns a sampler with the given period (check_interval).
func NewSampler(clock Clock, interval time.Duration) *Sampler {
	return &Sampler{clock: clock, interval: interval, items: make(map[sampleKey]*sample)}
}

// Add samples probe for process id as activity source src.
func (s *Sampler) Add(id string, src Source, act *Activity, probe Probe) {
	it := &sample{act: act, probe: probe}
	it.last, it.have = probe() // the baseline: only growth after start counts
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[sampleKey{id, src}] = it
	if !s.running && s.interval > 0 {
		s.running = true
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		go s.run(s.stop, s.done)
	}
}

// Remove stops sampling process id.
func (s *Sampler) Remove(id string) {
	s.mu.Lock()
	for k := range s.items {
		if k.id == id {
			delete(s.items, k)
		}
	}
	stop, done := s.stopIfIdleLocked()
	s.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

// stopIfIdleLocked hands back the loop's channels when nothing is sampled.
func (s *Sampler) stopIfIdleLocked() (chan struct{}, chan struct{}) {
	if !s.running || len(s.items) > 0 {
		return nil, nil
	}
	s.running = false
	return s.stop, s.done
}

// Len is the number of sampled (process, source) pairs.
func (s *Sampler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

// Close stops sampling everything.
func (s *Sampler) Close() {
	s.mu.Lock()
	clear(s.items)
	stop, done := s.stopIfIdleLocked()
	s.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

func (s *Sampler) run(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.sampleAll()
		case <-stop:
			return
		}
	}
}

// SampleAll runs every probe once (the ticker calls it; tests may too).
func (s *Sampler) sampleAll() {
	s.mu.Lock()
	items := make(map[sampleKey]*sample, len(s.items))
	for k, v := range s.items {
		items[k] = v
	}
	s.mu.Unlock()
	for k, it := range items {
		v, ok := it.probe() // outside the lock: probes read /proc or stat files
		if !ok {
			continue
		}
		if it.have && v > it.last {
			it.act.Touch(s.clock.Now(), k.src)
		}
		it.last, it.have = v, true
	}
}
