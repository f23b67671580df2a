package client

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/procd/procd/proto/procd/v1"
)

// finish records what a job's stream on one daemon came to: a result, a
// loss (the job goes back to the queue while attempts remain), our own
// cancellation, or a refusal that ends the fan-out.
func (s *scheduler) finish(done *jobDone) {
	i, j, d := done.index, &s.jobs[done.index], s.daemons[done.daemon]
	earlier := j.attempts
	j.attempts += done.started
	if done.started > 0 {
		j.daemon = done.daemon
	}
	switch {
	case done.fatal != nil:
		if s.fatal == nil {
			s.fatal, s.stopped = done.fatal, "refused"
			s.cancel()
		}
		j.result = s.cancelled(i, done.fatal.Error())
	case done.lost != "":
		s.lose(i, d, done)
	case done.result == nil:
		j.result = s.cancelled(i, "stopped while it ran: "+s.stopped)
	default:
		r := done.result
		r.Index, r.Attempts = uint32(i), r.GetAttempts()+earlier
		if earlier > 0 {
			r.Duration = durationpb.New(time.Since(j.started))
		}
		j.result, j.attempts = r, r.Attempts
		failed := r.GetOutcome() != pb.JobOutcome_JOB_OUTCOME_SUCCEEDED && r.GetOutcome() != pb.JobOutcome_JOB_OUTCOME_CANCELLED
		if failed && s.f.Request.GetFailFast() && s.stopped == "" {
			s.stopped = "fail_fast"
			s.cancel()
		}
	}
}

// lose handles a job whose daemon went away: the daemon is dropped, and the
// job goes to the front of the queue if the retry policy has attempts left
// (an attempt that never started there costs none).
func (s *scheduler) lose(i int, d *daemonState, done *jobDone) {
	j := &s.jobs[i]
	if d.lost == "" {
		d.lost = done.lost
	}
	d.lostJobs++
	lj := &LostJob{Index: uint32(i), Reason: done.lost}
	if done.started > done.finished {
		lj.Attempt = j.attempts
	}
	lj.Retried = s.stopped == "" && (done.started == 0 || j.attempts < s.max)
	if lj.Retried {
		s.queue = append([]int{i}, s.queue...)
		s.rerouted++
	} else {
		why := "lost: " + done.lost
		if s.stopped == "" {
			why += "; no attempts left under the retry policy (--retries)"
		}
		j.result = s.cancelled(i, why)
	}
	s.emit(FanoutEvent{Daemon: d.conn.opts.Where(), Lost: lj})
}

func (s *scheduler) cancelled(i int, why string) *pb.JobResult {
	j := &s.jobs[i]
	r := &pb.JobResult{Index: uint32(i), Outcome: pb.JobOutcome_JOB_OUTCOME_CANCELLED, Attempts: j.attempts, Error: why}
	if !j.started.IsZero() {
		r.Duration = durationpb.New(time.Since(j.started))
	}
	return r
}

// cancelQueued ends the jobs that will not be sent.
func (s *scheduler) cancelQueued() {
	why := map[string]string{
		"cancelled": "the batch was cancelled before it ran",
		"deadline":  "the batch's deadline passed before it ran",
		"fail_fast": "another job failed first (--fail-fast)",
		"refused":   "a daemon refused a job of the batch",
	}[s.stopped]
	if s.stopped == StoppedNoDaemon {
		var losses []string
		for _, d := range s.daemons {
			losses = append(losses, d.lost)
		}
		why = "no daemon left to run it (" + strings.Join(losses, "; ") + ")"
	}
	for _, i := range s.queue {
		s.jobs[i].result = s.cancelled(i, why)
	}
	s.queue = nil
}

func (s *scheduler) summary() *FanoutSummary {
	sum := &pb.BatchSummary{BatchId: s.id, WallTime: durationpb.New(time.Since(s.t0)), Stopped: s.stopped}
	out := &FanoutSummary{Summary: sum, Placement: make([]string, len(s.jobs)), Rerouted: s.rerouted}
	for _, d := range s.daemons {
		out.Daemons = append(out.Daemons, DaemonTally{Addr: d.conn.opts.Where(), Lost: d.lost, LostJobs: d.lostJobs})
	}
	for i := range s.jobs {
		j := &s.jobs[i]
		r := j.result
		if r == nil { // only when RunFanout returns early
			r = s.cancelled(i, "never ran")
		}
		sum.Jobs = append(sum.Jobs, r)
		sum.Retries += max(r.GetAttempts()-1, 0)
		ok := r.GetOutcome() == pb.JobOutcome_JOB_OUTCOME_SUCCEEDED
		switch {
		case ok:
			sum.Succeeded++
			sum.Results = append(sum.Results, uint32(i))
		case r.GetOutcome() == pb.JobOutcome_JOB_OUTCOME_CANCELLED:
			sum.Cancelled++
			sum.Errors = append(sum.Errors, uint32(i))
		default:
			sum.Failed++
			sum.Errors = append(sum.Errors, uint32(i))
		}
		if j.daemon >= 0 {
			out.Placement[i] = out.Daemons[j.daemon].Addr
			out.Daemons[j.daemon].Jobs++
			if ok {
				out.Daemons[j.daemon].Succeeded++
			}
		}
	}
	return out
}

// fanoutID names a fan-out in its jobs' procd.fanout label.
func fanoutID() string {
	var b [6]byte
	rand.Read(b[:])
	return "f-" + hex.EncodeToString(b[:])
}
