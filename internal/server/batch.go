package server

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/executor"
	"github.com/procd/procd/internal/manager"
	pb "github.com/procd/procd/proto/procd/v1"
)

type batchService struct {
	pb.UnimplementedBatchServiceServer
	x        Batches
	shutdown <-chan struct{}
}

// RunBatch runs a batch on the stream's context: when the client cancels
// or disconnects, the batch stops its running jobs and starts no more.
// Progress goes through an executor.Progress: the workers never wait for
// the client, and a client that lags gets coalesced progress (each job's
// latest attempt; no started without its finished), bounded by the number
// of jobs, then the final summary.
func (s *batchService) RunBatch(req *pb.RunBatchRequest, stream pb.BatchService_RunBatchServer) error {
	jobs := make([]manager.Spec, len(req.GetJobs()))
	for i, j := range req.GetJobs() {
		spec, err := specFrom(j)
		if err != nil {
			return errdefs.Errorf(errdefs.ErrInvalidArgument, "job %d: %v", i, err)
		}
		if spec.Restart.Mode != manager.RestartNever {
			return errdefs.Errorf(errdefs.ErrInvalidArgument,
				"job %d: a batch job cannot have a restart policy (the batch's retry policy retries its jobs)", i)
		}
		spec.Caller = callerOf(stream.Context())
		jobs[i] = spec
	}
	opts, err := batchOptions(req)
	if err != nil {
		return err
	}
	type result struct {
		sum executor.Summary
		err error
	}
	ctx := stream.Context()
	progress := executor.NewProgress()
	started := make(chan string, 1) // the batch id, once
	done := make(chan result, 1)
	go func() {
		sum, err := s.x.Run(ctx, jobs, opts, func(id string) { started <- id }, progress.Put)
		done <- result{sum, err}
	}()
	var buf []executor.Attempt
	send := func() error {
		// The batch id goes first: it is given before any job starts, so
		// before the first update wakes this loop.
		select {
		case id := <-started:
			if err := stream.Send(&pb.RunBatchResponse{Kind: &pb.RunBatchResponse_Started{Started: &pb.BatchStarted{
				BatchId: id, Jobs: int32(len(jobs)), MaxConcurrency: int32(opts.MaxConcurrency),
			}}}); err != nil {
				return err
			}
		default:
		}
		buf = progress.Take(buf[:0])
		for i := range buf {
			if err := stream.Send(attemptToProto(&buf[i])); err != nil {
				return err
			}
		}
		return nil
	}
	var sendErr error
	for {
		select {
		case <-progress.Ready():
			if sendErr == nil && ctx.Err() == nil {
				sendErr = send()
			}
		case r := <-done:
			// Every progress call happened before Run returned.
			if sendErr == nil && ctx.Err() == nil {
				sendErr = send()
			}
			switch {
			case r.err != nil:
				return r.err
			case sendErr != nil:
				return sendErr
			case r.sum.Stopped == "cancelled" && ctx.Err() != nil:
				return ctx.Err()
			}
			return stream.Send(&pb.RunBatchResponse{Kind: &pb.RunBatchResponse_Summary{Summary: summaryToProto(&r.sum)}})
		}
	}
}

func batchOptions(req *pb.RunBatchRequest) (executor.Options, error) {
	o := executor.Options{
		Name:           req.GetName(),
		MaxConcurrency: int(req.GetMaxConcurrency()),
		FailFast:       req.GetFailFast(),
		Labels:         req.GetLabels(),
	}
	var err error
	if o.Timeout, err = duration("timeout", req.GetTimeout()); err != nil {
		return o, err
	}
	if o.Deadline, err = duration("deadline", req.GetDeadline()); err != nil {
		return o, err
	}
	if r := req.GetRetry(); r != nil {
		o.Retry.MaxAttempts = int(r.GetMaxAttempts())
		o.Retry.Multiplier = r.GetMultiplier()
		if r.Jitter != nil {
			o.Retry.Jitter = r.GetJitter()
		} else {
			o.Retry.Jitter = 0.1
		}
		if o.Retry.Initial, err = duration("retry.initial", r.GetInitial()); err != nil {
			return o, err
		}
		if o.Retry.Max, err = duration("retry.max", r.GetMax()); err != nil {
			return o, err
		}
		for _, on := range r.GetRetryOn() {
			out, ok := jobOutcomes.core(on)
			if !ok {
				return o, errdefs.Errorf(errdefs.ErrInvalidArgument, "retry.retry_on: unknown outcome %d", on)
			}
			o.Retry.On = append(o.Retry.On, out)
		}
		for _, c := range r.GetNeverRetryCodes() {
			o.Retry.NeverCodes = append(o.Retry.NeverCodes, int(c))
		}
	}
	return o, nil
}

func attemptToProto(a *executor.Attempt) *pb.RunBatchResponse {
	ja := &pb.JobAttempt{Index: uint32(a.Index), Attempt: int32(a.Attempt)}
	if a.Info.ID != "" {
		ja.Process = processToProto(&a.Info, time.Now())
	}
	if a.Started {
		return &pb.RunBatchResponse{Kind: &pb.RunBatchResponse_AttemptStarted{AttemptStarted: ja}}
	}
	ja.Outcome = jobOutcomes.proto(a.Outcome)
	if a.Err != nil {
		ja.Error = a.Err.Error()
	}
	if a.Retry {
		ja.WillRetry = true
		ja.RetryDelay = durationpb.New(a.Delay)
	}
	return &pb.RunBatchResponse{Kind: &pb.RunBatchResponse_AttemptFinished{AttemptFinished: ja}}
}

func summaryToProto(s *executor.Summary) *pb.BatchSummary {
	out := &pb.BatchSummary{
		BatchId:   s.BatchID,
		Succeeded: int32(s.Succeeded),
		Failed:    int32(s.Failed),
		Cancelled: int32(s.Cancelled),
		Retries:   int32(s.Retries),
		WallTime:  durationpb.New(s.Wall),
		Stopped:   s.Stopped,
	}
	for _, r := range s.Jobs {
		jr := &pb.JobResult{
			Index:     uint32(r.Index),
			Outcome:   jobOutcomes.proto(r.Outcome),
			Attempts:  int32(r.Attempts),
			ProcessId: r.Info.ID,
			Pid:       int32(r.Info.PID),
			Error:     r.Err,
			Duration:  durationpb.New(r.Duration),
		}
		if r.Info.Exit != nil {
			jr.Exit = exitToProto(r.Info.Exit)
		}
		out.Jobs = append(out.Jobs, jr)
	}
	for _, i := range s.Results() {
		out.Results = append(out.Results, uint32(i))
	}
	for _, i := range s.Errors() {
		out.Errors = append(out.Errors, uint32(i))
	}
	return out
}
