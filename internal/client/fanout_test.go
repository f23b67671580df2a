package client

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/procd/procd/proto/procd/v1"
)

// fakeDaemon serves BatchService on a Unix socket with run as RunBatch.
type fakeDaemon struct {
	pb.UnimplementedBatchServiceServer
	run  func(req *pb.RunBatchRequest, s pb.BatchService_RunBatchServer) error
	reqs atomic.Int32
}

func (f *fakeDaemon) RunBatch(req *pb.RunBatchRequest, s pb.BatchService_RunBatchServer) error {
	f.reqs.Add(1)
	return f.run(req, s)
}

// fakeDaemons starts one server per run function and dials them.
func fakeDaemons(t *testing.T, runs ...func(*pb.RunBatchRequest, pb.BatchService_RunBatchServer) error) ([]*Conn, []*fakeDaemon) {
	t.Helper()
	var conns []*Conn
	var fakes []*fakeDaemon
	for i, run := range runs {
		sock := filepath.Join(t.TempDir(), fmt.Sprintf("d%d.sock", i))
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer()
		f := &fakeDaemon{run: run}
		pb.RegisterBatchServiceServer(srv, f)
		go srv.Serve(l)
		t.Cleanup(srv.Stop)
		c, err := Dial(Options{Socket: sock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns, fakes = append(conns, c), append(fakes, f)
	}
	return conns, fakes
}

// finish sends one attempt and a summary with outcome out.
func finish(s pb.BatchService_RunBatchServer, out pb.JobOutcome) error {
	s.Send(&pb.RunBatchResponse{Kind: &pb.RunBatchResponse_AttemptStarted{AttemptStarted: &pb.JobAttempt{Attempt: 1}}})
	s.Send(&pb.RunBatchResponse{Kind: &pb.RunBatchResponse_AttemptFinished{AttemptFinished: &pb.JobAttempt{Attempt: 1, Outcome: out}}})
	return s.Send(&pb.RunBatchResponse{Kind: &pb.RunBatchResponse_Summary{Summary: &pb.BatchSummary{
		Jobs: []*pb.JobResult{{Outcome: out, Attempts: 1}}}}})
}

func succeed(_ *pb.RunBatchRequest, s pb.BatchService_RunBatchServer) error {
	return finish(s, pb.JobOutcome_JOB_OUTCOME_SUCCEEDED)
}

func jobs(n int, retry int32) *pb.RunBatchRequest {
	req := &pb.RunBatchRequest{Retry: &pb.RetryPolicy{MaxAttempts: retry}}
	for i := range n {
		req.Jobs = append(req.Jobs, &pb.ProcessSpec{Command: []string{"job", fmt.Sprint(i)}})
	}
	return req
}

func TestFanoutTotalLimitAndKeying(t *testing.T) {
	var running, peak atomic.Int32
	var mu sync.Mutex
	seen := map[string]int{}
	run := func(req *pb.RunBatchRequest, s pb.BatchService_RunBatchServer) error {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		mu.Lock()
		seen[req.GetLabels()[LabelFanoutJob]]++
		mu.Unlock()
		if req.GetMaxConcurrency() != 1 || len(req.GetJobs()) != 1 ||
			req.GetJobs()[0].GetCommand()[1] != req.GetLabels()[LabelFanoutJob] {
			return status.Errorf(codes.InvalidArgument, "not a batch of one job: %v", req)
		}
		return succeed(req, s)
	}
	conns, _ := fakeDaemons(t, run, run, run)
	sum, err := RunFanout(context.Background(), Fanout{Daemons: conns, Request: jobs(60, 1), Total: 2})
	if err != nil {
		t.Fatal(err)
	}
	if peak.Load() > 2 {
		t.Errorf("%d jobs ran at once under a total of 2", peak.Load())
	}
	if sum.Summary.GetSucceeded() != 60 || len(seen) != 60 {
		t.Fatalf("%d succeeded, %d distinct jobs sent", sum.Summary.GetSucceeded(), len(seen))
	}
	for i, j := range sum.Summary.GetJobs() {
		if j.GetIndex() != uint32(i) || sum.Placement[i] == "" {
			t.Fatalf("job %d: %v on %q", i, j, sum.Placement[i])
		}
	}
}

func TestFanoutLostJobsUseTheRetryPolicy(t *testing.T) {
	// The first daemon starts every job's attempt, then drops the stream as
	// a daemon that died would.
	lose := func(_ *pb.RunBatchRequest, s pb.BatchService_RunBatchServer) error {
		s.Send(&pb.RunBatchResponse{Kind: &pb.RunBatchResponse_AttemptStarted{AttemptStarted: &pb.JobAttempt{Attempt: 1}}})
		return status.Error(codes.Unavailable, "connection reset by peer")
	}
	var attemptsLeft sync.Map
	other := func(req *pb.RunBatchRequest, s pb.BatchService_RunBatchServer) error {
		attemptsLeft.Store(req.GetLabels()[LabelFanoutJob], req.GetRetry().GetMaxAttempts())
		return succeed(req, s)
	}
	// Two attempts each: a lost one, then one elsewhere.
	conns, _ := fakeDaemons(t, lose, other)
	var lostEvents []*LostJob
	sum, err := RunFanout(context.Background(), Fanout{Daemons: conns, Request: jobs(4, 2), PerDaemon: 1,
		Progress: func(e FanoutEvent) {
			if e.Lost != nil {
				lostEvents = append(lostEvents, e.Lost)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Summary.GetSucceeded() != 4 || sum.Rerouted != 1 || len(lostEvents) != 1 || !lostEvents[0].Retried || lostEvents[0].Attempt != 1 {
		t.Fatalf("summary %v, rerouted %d, lost %+v", sum.Summary, sum.Rerouted, lostEvents)
	}
	i := lostEvents[0].Index
	if j := sum.Summary.GetJobs()[i]; j.GetAttempts() != 2 || sum.Placement[i] != conns[1].opts.Where() {
		t.Fatalf("rerouted job %d: %v on %s", i, j, sum.Placement[i])
	}
	if left, _ := attemptsLeft.Load(fmt.Sprint(i)); left != int32(1) {
		t.Fatalf("rerouted job sent with max_attempts %v, want the 1 left", left)
	}
	if d := sum.Daemons[0]; !strings.Contains(d.Lost, "went away") || d.LostJobs != 1 {
		t.Fatalf("lost daemon's tally %+v", d)
	}

	// With no retries, the lost job fails, saying why.
	conns, _ = fakeDaemons(t, lose)
	sum, err = RunFanout(context.Background(), Fanout{Daemons: conns, Request: jobs(2, 1), PerDaemon: 1})
	if err != nil {
		t.Fatal(err)
	}
	j0, j1 := sum.Summary.GetJobs()[0], sum.Summary.GetJobs()[1]
	if j0.GetOutcome() != pb.JobOutcome_JOB_OUTCOME_CANCELLED || !strings.Contains(j0.GetError(), "no attempts left") ||
		!strings.Contains(j1.GetError(), "no daemon left to run it") || sum.Summary.GetStopped() != StoppedNoDaemon {
		t.Fatalf("jobs %v / %v, stopped %q", j0, j1, sum.Summary.GetStopped())
	}
}

func TestFanoutFailFastAndRefusal(t *testing.T) {
	fail := func(_ *pb.RunBatchRequest, s pb.BatchService_RunBatchServer) error {
		return finish(s, pb.JobOutcome_JOB_OUTCOME_EXIT_CODE)
	}
	conns, fakes := fakeDaemons(t, fail)
	req := jobs(20, 1)
	req.FailFast = true
	sum, err := RunFanout(context.Background(), Fanout{Daemons: conns, Request: req, PerDaemon: 1})
	if err != nil {
		t.Fatal(err)
	}
	if s := sum.Summary; s.GetStopped() != "fail_fast" || s.GetFailed() != 1 || s.GetCancelled() != 19 || fakes[0].reqs.Load() != 1 {
		t.Fatalf("fail fast: %v after %d requests", s, fakes[0].reqs.Load())
	}

	refuse := func(*pb.RunBatchRequest, pb.BatchService_RunBatchServer) error {
		return status.Error(codes.InvalidArgument, "jobs[0]: command is empty")
	}
	conns, _ = fakeDaemons(t, refuse)
	sum, err = RunFanout(context.Background(), Fanout{Daemons: conns, Request: jobs(3, 1), PerDaemon: 1})
	if err == nil || !strings.Contains(err.Error(), "refused job 0") || !strings.Contains(err.Error(), "command is empty") ||
		sum.Summary.GetStopped() != "refused" {
		t.Fatalf("refusal: %v, %v", err, sum.Summary)
	}
}
