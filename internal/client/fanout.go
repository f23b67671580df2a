package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/procd/procd/proto/procd/v1"
)

// A fan-out runs one batch over several daemons. The client is the
// scheduler: it places each job on the daemon with the least outstanding
// work, and each daemon runs it as a batch of one job (RunBatch), so the
// daemon still applies the job's timeout, the retry policy's backoff and
// codes, the labels and the deadline. A batch of one per job costs one
// stream per job, but it keeps --max-concurrency exact (a daemon-side queue
// of many jobs would either run more than the limit, or drain to idle at
// the end of each chunk) and a daemon that goes away takes only its running
// jobs with it: nothing is queued there.

// Labels a fan-out adds to its jobs, beside the per-daemon procd.batch.
const (
	LabelFanout    = "procd.fanout"
	LabelFanoutJob = "procd.fanout.job"
)

// Stopped reason of a fan-out that lost every daemon.
const StoppedNoDaemon = "no daemon left"

// Fanout describes a batch spread over daemons.
type Fanout struct {
	// Daemons to spread the jobs over; at least one.
	Daemons []*Conn
	// Request is the batch: jobs, timeout, retry policy, deadline,
	// fail_fast, labels and name. Its max_concurrency is not used.
	Request *pb.RunBatchRequest
	// PerDaemon caps the jobs running at once on each daemon, Total those
	// running over all of them; 0 leaves a cap out (at least one is set).
	PerDaemon, Total int
	// Progress, when set, is called for every attempt started and finished
	// and every job a lost daemon took, one call at a time.
	Progress func(FanoutEvent)
}

// FanoutEvent is one step of a fan-out. Attempt indices and numbers are
// the fan-out's: the job's index in Request.Jobs and its attempt over all
// daemons.
type FanoutEvent struct {
	Daemon string
	// Exactly one of these is set.
	Started, Finished *pb.JobAttempt
	Lost              *LostJob
}

// LostJob is a job whose daemon went away while it ran or was being sent.
type LostJob struct {
	Index uint32
	// Attempt is the attempt that was running (0: none had started there).
	Attempt int32
	Reason  string
	// Retried: the job goes to another daemon; else it has no attempts left.
	Retried bool
}

// FanoutSummary is a fan-out's result.
type FanoutSummary struct {
	// Summary merges the jobs' results in index order, as one daemon's
	// batch would report them; its batch id is the fan-out's id (the
	// procd.fanout label of every job).
	Summary *pb.BatchSummary
	// Daemons tallies each daemon, in the order given.
	Daemons []DaemonTally
	// Placement names, for each job index, the daemon of its last attempt
	// ("" if it never ran).
	Placement []string
	// Rerouted counts the jobs sent to another daemon after a loss.
	Rerouted int
}

// DaemonTally is what one daemon of a fan-out did.
type DaemonTally struct {
	Addr string `json:"addr"`
	// Jobs whose last attempt ran here, and how many of them succeeded.
	Jobs      int `json:"jobs"`
	Succeeded int `json:"succeeded"`
	// Lost says why the daemon was dropped ("" if it was not) and LostJobs
	// how many jobs it had then.
	Lost     string `json:"lost,omitempty"`
	LostJobs int    `json:"lostJobs,omitempty"`
}

// jobState is the scheduler's record of one job.
type jobState struct {
	attempts int32 // attempts made so far, over all daemons
	result   *pb.JobResult
	daemon   int
	started  time.Time
}

// daemonState is the scheduler's record of one daemon.
type daemonState struct {
	conn     *Conn
	running  int
	assigned int
	lost     string
	lostJobs int
}

// jobDone is what one job's stream on one daemon came to.
type jobDone struct {
	index, daemon int
	result        *pb.JobResult // the daemon's, indices still its own
	started       int32         // attempts started on that daemon
	finished      int32         // attempts that ended there
	lost          string        // the daemon went away: why
	fatal         error         // the daemon refused the job
}

// runMsg is what a job's goroutine tells the scheduler.
type runMsg struct {
	progress *FanoutEvent
	done     *jobDone
}

// RunFanout runs f's jobs and returns once each has a result. It returns an
// error when the daemons refuse a job (a bad spec, a policy) or when ctx is
// cancelled; the summary then holds what was known.
func RunFanout(ctx context.Context, f Fanout) (*FanoutSummary, error) {
	if len(f.Daemons) == 0 {
		return nil, errors.New("fan-out: no daemon to run the batch on")
	}
	if f.PerDaemon <= 0 && f.Total <= 0 {
		return nil, errors.New("fan-out: set a concurrency limit per daemon or in total")
	}
	s := &scheduler{f: f, id: fanoutID(), t0: time.Now(), msgs: make(chan runMsg)}
	if d := f.Request.GetDeadline(); d != nil {
		s.end = s.t0.Add(d.AsDuration())
	}
	s.max = max(f.Request.GetRetry().GetMaxAttempts(), 1)
	for _, c := range f.Daemons {
		s.daemons = append(s.daemons, &daemonState{conn: c})
	}
	s.jobs = make([]jobState, len(f.Request.GetJobs()))
	for i := range s.jobs {
		s.jobs[i].daemon = -1
		s.queue = append(s.queue, i)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.ctx, s.cancel = runCtx, cancel
	err := s.loop(ctx)
	return s.summary(), err
}

type scheduler struct {
	f        Fanout
	id       string
	t0, end  time.Time
	max      int32
	daemons  []*daemonState
	jobs     []jobState
	queue    []int // job indices waiting, retries first
	running  int
	rerouted int
	stopped  string
	fatal    error
	ctx      context.Context
	cancel   context.CancelFunc
	msgs     chan runMsg
}

// loop dispatches while there is room and waits for the jobs' messages.
func (s *scheduler) loop(parent context.Context) error {
	for {
		s.checkStop(parent)
		for s.stopped == "" && len(s.queue) > 0 {
			d := s.pick()
			if d < 0 {
				break
			}
			i := s.queue[0]
			s.queue = s.queue[1:]
			s.dispatch(i, d)
		}
		if s.stopped != "" {
			s.cancelQueued()
		}
		if s.running == 0 {
			break
		}
		m := <-s.msgs
		if m.progress != nil {
			s.emit(*m.progress)
			continue
		}
		s.running--
		s.daemons[m.done.daemon].running--
		s.finish(m.done)
	}
	if s.fatal != nil {
		return s.fatal
	}
	if s.stopped == "cancelled" {
		return parent.Err()
	}
	return nil
}

// checkStop decides whether to start no more jobs.
func (s *scheduler) checkStop(parent context.Context) {
	switch {
	case s.stopped != "":
	case parent.Err() != nil:
		s.stopped = "cancelled"
	case !s.end.IsZero() && !time.Now().Before(s.end):
		s.stopped = "deadline"
	case len(s.queue) > 0 && s.live() == 0:
		s.stopped = StoppedNoDaemon
	}
}

func (s *scheduler) live() int {
	n := 0
	for _, d := range s.daemons {
		if d.lost == "" {
			n++
		}
	}
	return n
}

// pick returns the live daemon with room and the least outstanding work
// (ties: fewer jobs so far, then the order given), or -1.
func (s *scheduler) pick() int {
	if s.f.Total > 0 && s.running >= s.f.Total {
		return -1
	}
	best := -1
	for i, d := range s.daemons {
		if d.lost != "" || (s.f.PerDaemon > 0 && d.running >= s.f.PerDaemon) {
			continue
		}
		if best < 0 || d.running < s.daemons[best].running ||
			d.running == s.daemons[best].running && d.assigned < s.daemons[best].assigned {
			best = i
		}
	}
	return best
}

func (s *scheduler) dispatch(i, d int) {
	s.running++
	s.daemons[d].running++
	s.daemons[d].assigned++
	j := &s.jobs[i]
	if j.started.IsZero() {
		j.started = time.Now()
	}
	req := s.jobRequest(i, j.attempts)
	go s.runJob(i, d, j.attempts, req)
}

// jobRequest is the batch of one that runs job i after its earlier attempts.
func (s *scheduler) jobRequest(i int, earlier int32) *pb.RunBatchRequest {
	t := s.f.Request
	labels := make(map[string]string, len(t.GetLabels())+2)
	for k, v := range t.GetLabels() {
		labels[k] = v
	}
	labels[LabelFanout] = s.id
	labels[LabelFanoutJob] = strconv.Itoa(i)
	req := &pb.RunBatchRequest{Jobs: []*pb.ProcessSpec{t.GetJobs()[i]}, MaxConcurrency: 1, Timeout: t.GetTimeout(),
		Labels: labels, Name: t.GetName()}
	if r := t.GetRetry(); r != nil {
		req.Retry = proto.Clone(r).(*pb.RetryPolicy)
		req.Retry.MaxAttempts = s.max - earlier
	}
	if !s.end.IsZero() {
		req.Deadline = durationpb.New(max(time.Until(s.end), time.Millisecond))
	}
	return req
}

// runJob runs one job on one daemon and reports to the scheduler. It is the
// only goroutine per job; it never touches the scheduler's state.
func (s *scheduler) runJob(i, d int, earlier int32, req *pb.RunBatchRequest) {
	c := s.daemons[d].conn
	done := &jobDone{index: i, daemon: d}
	defer func() { s.msgs <- runMsg{done: done} }()
	stream, err := pb.NewBatchServiceClient(c.ClientConn).RunBatch(s.ctx, req)
	if err != nil {
		s.classify(done, c, err)
		return
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			done.lost = fmt.Sprintf("procd at %s ended job %d's stream without a summary", c.opts.Where(), i)
			return
		}
		if err != nil {
			s.classify(done, c, err)
			return
		}
		switch k := msg.GetKind().(type) {
		case *pb.RunBatchResponse_AttemptStarted:
			done.started = k.AttemptStarted.GetAttempt()
			s.msgs <- runMsg{progress: &FanoutEvent{Daemon: c.opts.Where(), Started: renumber(k.AttemptStarted, i, earlier)}}
		case *pb.RunBatchResponse_AttemptFinished:
			done.finished = k.AttemptFinished.GetAttempt()
			s.msgs <- runMsg{progress: &FanoutEvent{Daemon: c.opts.Where(), Finished: renumber(k.AttemptFinished, i, earlier)}}
		case *pb.RunBatchResponse_Summary:
			if st := k.Summary.GetStopped(); st == "cancelled" && s.ctx.Err() == nil {
				// Not ours: the daemon is shutting down.
				done.lost = fmt.Sprintf("procd at %s cancelled job %d (shutting down?)", c.opts.Where(), i)
				return
			}
			if jobs := k.Summary.GetJobs(); len(jobs) == 1 {
				done.result = jobs[0]
				return
			}
			done.fatal = fmt.Errorf("procd at %s: job %d: a summary of %d jobs for a batch of one", c.opts.Where(), i, len(k.Summary.GetJobs()))
			return
		}
	}
}

// classify sorts a failed stream: our own cancellation, the daemon gone
// (unreachable, or no longer accepting our credentials), or a refusal of
// the job itself, which would fail on every daemon.
func (s *scheduler) classify(done *jobDone, c *Conn, err error) {
	st, _ := status.FromError(err)
	switch {
	case s.ctx.Err() != nil:
		// cancelled: no result, finish makes it CANCELLED
	case st.Code() == codes.Unavailable:
		done.lost = fmt.Sprintf("procd at %s went away: %s", c.opts.Where(), connectReason(st.Message()))
	case st.Code() == codes.Unauthenticated:
		done.lost = fmt.Sprintf("procd at %s refuses this client: %s", c.opts.Where(), c.Explain(err))
	default:
		done.fatal = fmt.Errorf("procd at %s refused job %d: %w", c.opts.Where(), done.index, c.Explain(err))
	}
}

// renumber gives a daemon's attempt the fan-out's index and attempt number.
func renumber(a *pb.JobAttempt, i int, earlier int32) *pb.JobAttempt {
	a.Index = uint32(i)
	a.Attempt += earlier
	return a
}

func (s *scheduler) emit(e FanoutEvent) {
	if s.f.Progress != nil {
		s.f.Progress(e)
	}
}
