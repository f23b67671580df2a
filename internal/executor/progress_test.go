package executor

import (
	"math/rand/v2"
	"testing"

	"github.com/procd/procd/internal/manager"
)

// reader replays what a Progress hands out the way procctl's progress line
// counts it, and checks the contract: each job's updates in order, no
// finish of a started attempt lost, every job's last update delivered.
type reader struct {
	t        *testing.T
	running  int
	last     map[int]Attempt // per job, the last update taken
	started  map[int]int     // per job, the attempt whose start was taken and not its end
	messages int
}

func newReader(t *testing.T) *reader {
	return &reader{t: t, last: map[int]Attempt{}, started: map[int]int{}}
}

func (r *reader) take(p *Progress) {
	for _, a := range p.Take(nil) {
		r.messages++
		if prev, ok := r.last[a.Index]; ok && (a.Attempt < prev.Attempt || a.Attempt == prev.Attempt && prev.Started == a.Started) {
			r.t.Fatalf("job %d: %+v after %+v", a.Index, a, prev)
		}
		if n, ok := r.started[a.Index]; ok && (a.Started || a.Attempt != n) {
			r.t.Fatalf("job %d: attempt %d started was taken, then %+v before its end", a.Index, n, a)
		}
		r.last[a.Index] = a
		switch {
		case a.Started:
			r.running++
			r.started[a.Index] = a.Attempt
		case a.Info.ID != "":
			if _, ok := r.started[a.Index]; ok {
				r.running--
				delete(r.started, a.Index)
			}
		}
		if r.running < 0 {
			r.t.Fatalf("running count went negative at %+v", a)
		}
	}
}

// update is one attempt update of a simulated job.
func update(job, attempt int, started, retry bool) Attempt {
	return Attempt{Index: job, Attempt: attempt, Started: started, Retry: retry, Info: manager.Info{ID: "p"}}
}

// A reader that takes nothing until the end gets at most one attempt per
// job (its last), however many attempts the job made.
func TestProgressCoalescesALaggingReader(t *testing.T) {
	p := NewProgress()
	const jobs, attempts = 50, 40
	for n := 1; n <= attempts; n++ {
		for j := range jobs {
			p.Put(update(j, n, true, false))
			p.Put(update(j, n, false, n < attempts))
		}
	}
	r := newReader(t)
	r.take(p)
	if r.messages != 2*jobs {
		t.Fatalf("%d messages for %d jobs, want each job's last attempt only", r.messages, jobs)
	}
	for j := range jobs {
		if a := r.last[j]; a.Attempt != attempts || a.Started || a.Retry {
			t.Fatalf("job %d: last update %+v, want the final finish of attempt %d", j, a, attempts)
		}
	}
	if r.running != 0 || p.Dropped() != 2*jobs*(attempts-1) {
		t.Fatalf("running %d, dropped %d", r.running, p.Dropped())
	}
}

// Random interleavings of updates and reads keep the contract and the bound
// (three pending updates per job).
func TestProgressRandomInterleavings(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 500 {
		p := NewProgress()
		r := newReader(t)
		jobs := 1 + rng.IntN(8)
		attempt := make([]int, jobs)
		final := make([]bool, jobs)
		for left := jobs; left > 0; {
			j := rng.IntN(jobs)
			if final[j] {
				continue
			}
			attempt[j]++
			last := rng.IntN(4) == 0
			if rng.IntN(5) > 0 { // sometimes the attempt fails to start
				p.Put(update(j, attempt[j], true, false))
			} else {
				p.Put(Attempt{Index: j, Attempt: attempt[j], Outcome: StartFailed, Retry: !last})
				if last {
					final[j] = true
					left--
				}
				goto read
			}
			if rng.IntN(3) == 0 {
				r.take(p)
			}
			p.Put(update(j, attempt[j], false, !last))
			if last {
				final[j] = true
				left--
			}
		read:
			p.mu.Lock()
			pending := 0
			for _, st := range p.jobs {
				for _, a := range []*Attempt{st.owed, st.started, st.finished} {
					if a != nil {
						pending++
					}
				}
			}
			p.mu.Unlock()
			if pending > 3*jobs {
				t.Fatalf("round %d: %d updates pending for %d jobs", round, pending, jobs)
			}
			if rng.IntN(4) == 0 {
				r.take(p)
			}
		}
		r.take(p)
		for j := range jobs {
			if a := r.last[j]; a.Attempt != attempt[j] || a.Started || a.Retry {
				t.Fatalf("round %d job %d: last update %+v, want the end of attempt %d", round, j, a, attempt[j])
			}
		}
		if r.running != 0 {
			t.Fatalf("round %d: %d still running for the reader", round, r.running)
		}
	}
}
