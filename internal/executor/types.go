package executor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/manager"
)

// Outcome is how a job attempt, or a job, ended.
type Outcome int

// Outcomes. Their numbers are the executor's own: internal/server maps
// each to procd.v1.JobOutcome by name (enums.go), never by number.
const (
	Succeeded   Outcome = 1
	ExitCode    Outcome = 2 // non-zero exit
	Signal      Outcome = 3
	Timeout     Outcome = 4
	StartFailed Outcome = 5
	Cancelled   Outcome = 6
)

var outcomeNames = [...]string{"?", "succeeded", "exit code", "signal", "timeout", "start failed", "cancelled"}

func (o Outcome) String() string {
	if int(o) < 0 || int(o) >= len(outcomeNames) {
		return fmt.Sprintf("outcome %d", int(o))
	}
	return outcomeNames[o]
}

// Retry is a retry policy.
type Retry struct {
	MaxAttempts int           // attempts in all; ≤ 1: no retries
	Initial     time.Duration // first delay (default 1s)
	Multiplier  float64       // default 2
	Max         time.Duration // cap (default 30s)
	Jitter      float64       // ± fraction of each delay, 0..1 (default 0.1)
	On          []Outcome     // outcomes retried (default: all failures but cancellation)
	NeverCodes  []int         // exit codes never retried
}

// Options configure one batch.
type Options struct {
	Name           string
	MaxConcurrency int           // default 5
	Timeout        time.Duration // per attempt; 0: none
	Retry          Retry
	Deadline       time.Duration // whole batch; 0: none
	FailFast       bool
	Labels         map[string]string
}

// DefaultMaxConcurrency is the original executor's.
const DefaultMaxConcurrency = 5

// MaxAttemptsCap bounds Retry.MaxAttempts. With the backoff capped at 30s
// by default, 100 attempts already keep a job retrying for most of an
// hour; more is a mistake (or a way to keep a batch alive forever).
const MaxAttemptsCap = 100

// Validate checks options and jobs up front: a batch with a bad job never
// starts any.
func Validate(jobs []manager.Spec, o *Options) error {
	if len(jobs) == 0 {
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "the batch has no jobs")
	}
	switch {
	case o.MaxConcurrency < 0:
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "max_concurrency %d is negative", o.MaxConcurrency)
	case o.Timeout < 0 || o.Deadline < 0 || o.Retry.Initial < 0 || o.Retry.Max < 0:
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "timeout, deadline and retry delays must not be negative")
	case o.Retry.MaxAttempts < 0:
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "retry.max_attempts %d is negative", o.Retry.MaxAttempts)
	case o.Retry.MaxAttempts > MaxAttemptsCap:
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "retry.max_attempts %d is above the cap of %d attempts per job", o.Retry.MaxAttempts, MaxAttemptsCap)
	case o.Retry.Multiplier < 0 || math.IsNaN(o.Retry.Multiplier) || math.IsInf(o.Retry.Multiplier, 0):
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "retry.multiplier %v must be a positive number", o.Retry.Multiplier)
	case o.Retry.Jitter < 0 || o.Retry.Jitter > 1 || math.IsNaN(o.Retry.Jitter):
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "retry.jitter %v must be between 0 and 1", o.Retry.Jitter)
	}
	for _, on := range o.Retry.On {
		if on < ExitCode || on > StartFailed {
			return errdefs.Errorf(errdefs.ErrInvalidArgument, "retry.retry_on: %v is not a retryable outcome", on)
		}
	}
	if err := manager.ValidateLabels("labels", o.Labels); err != nil {
		return err
	}
	for i := range jobs {
		if err := jobs[i].Validate(); err != nil {
			return fmt.Errorf("job %d: %w", i, err)
		}
	}
	return nil
}

func (o *Options) withDefaults() {
	if o.MaxConcurrency == 0 {
		o.MaxConcurrency = DefaultMaxConcurrency
	}
	r := &o.Retry
	r.MaxAttempts = max(r.MaxAttempts, 1)
	if r.Initial == 0 {
		r.Initial = time.Second
	}
	if r.Multiplier == 0 {
		r.Multiplier = 2
	}
	if r.Max == 0 {
		r.Max = 30 * time.Second
	}
	if len(r.On) == 0 {
		r.On = []Outcome{ExitCode, Signal, Timeout, StartFailed}
	}
}

// Delay is the backoff before attempt n+1 (n ≥ 1 attempts made so far).
func (r *Retry) Delay(n int, rng *rand.Rand) time.Duration {
	d := float64(r.Initial) * math.Pow(r.Multiplier, float64(n-1))
	d = min(d, float64(r.Max))
	if r.Jitter > 0 {
		d *= 1 + r.Jitter*(2*rng.Float64()-1)
	}
	return time.Duration(max(d, 0))
}

func (r *Retry) retries(out Outcome, code int) bool {
	for _, c := range r.NeverCodes {
		if out == ExitCode && c == code {
			return false
		}
	}
	for _, o := range r.On {
		if o == out {
			return true
		}
	}
	return false
}

// Attempt reports one job attempt.
type Attempt struct {
	Index   int
	Attempt int
	Info    manager.Info // live record when started, final record when finished
	Started bool         // an attempt_started update (else attempt_finished)
	Outcome Outcome      // when finished
	Err     error        // start failure
	Retry   bool         // when finished: will be tried again
	Delay   time.Duration
}

// Result is one job's final result.
type Result struct {
	Index    int
	Outcome  Outcome
	Attempts int
	Info     manager.Info // the last attempt's record (zero if none started)
	Err      string       // start failure or cancellation reason
	Duration time.Duration
}

// Summary ends a batch.
type Summary struct {
	BatchID   string
	Jobs      []Result // index order
	Succeeded int
	Failed    int
	Cancelled int
	Retries   int
	Wall      time.Duration
	Stopped   string // "cancelled", "deadline", "fail_fast", "daemon shutdown" or ""
}

// Results and Errors are the original executor's shape: the indices of
// jobs that succeeded and of those that did not.
func (s *Summary) Results() []int { return s.indices(func(o Outcome) bool { return o == Succeeded }) }

// Errors lists the indices of jobs that did not succeed.
func (s *Summary) Errors() []int { return s.indices(func(o Outcome) bool { return o != Succeeded }) }

func (s *Summary) indices(keep func(Outcome) bool) []int {
	var out []int
	for _, r := range s.Jobs {
		if keep(r.Outcome) {
			out = append(out, r.Index)
		}
	}
	return out
}
