package server_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/testutil"
	pb "github.com/procd/procd/proto/procd/v1"
)

// A restart policy over the wire: the runs, the restart status, the final
// FAILED/CRASH_LOOP record WaitForProcess returns after the restarts, and
// the stats' counters.
func TestRestartPolicyOverTheWire(t *testing.T) {
	h := newHarness(t, manager.Config{}, nil, false)
	ctx := testutil.Context(t)
	zero, limit := 0.0, int32(2)
	spec := &pb.ProcessSpec{Command: []string{"sh", "-c", "exit 3"}, Restart: &pb.RestartPolicy{
		Mode: pb.RestartMode_RESTART_MODE_ON_FAILURE, On: []pb.RestartFailure{pb.RestartFailure_RESTART_FAILURE_NONZERO},
		Delay: durationpb.New(20 * time.Millisecond), Multiplier: 3, Jitter: &zero, Limit: &limit,
	}}
	p := h.start(t, spec)
	if p.GetAttempt() != 1 || p.GetRestart().GetPolicy().GetMaxDelay().AsDuration() != time.Minute ||
		p.GetRestart().GetPolicy().GetLimit() != 2 || len(p.GetRestart().GetPolicy().GetOn()) != 1 {
		t.Fatalf("started: attempt %d restart %v", p.GetAttempt(), p.GetRestart())
	}
	w, err := h.c.WaitForProcess(ctx, &pb.WaitForProcessRequest{Target: &pb.WaitForProcessRequest_Id{Id: p.GetId()}})
	if err != nil {
		t.Fatal(err)
	}
	fin := w.GetProcess()
	if w.GetTimedOut() || fin.GetState() != pb.ProcessState_PROCESS_STATE_FAILED ||
		fin.GetExit().GetReason() != pb.ExitReason_EXIT_REASON_CRASH_LOOP || fin.GetExit().GetExitCode() != 3 {
		t.Fatalf("final: timed out %v, %v %v", w.GetTimedOut(), fin.GetState(), fin.GetExit())
	}
	if len(fin.GetRuns()) != 3 || fin.GetAttempt() != 3 || fin.GetRestart().GetRestarts() != 2 ||
		fin.GetRestart().GetDelay().AsDuration() != 60*time.Millisecond {
		t.Fatalf("runs %v restart %v", fin.GetRuns(), fin.GetRestart())
	}
	for i, r := range fin.GetRuns() {
		if r.GetAttempt() != int32(i+1) || r.GetExit().GetReason() != pb.ExitReason_EXIT_REASON_EXITED || r.GetFinishedAt() == nil {
			t.Fatalf("run %d: %v", i, r)
		}
	}
	st, err := h.c.GetStats(ctx, &pb.GetStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ps := st.GetProcesses(); ps.GetFailed() != 1 || ps.GetCrashLoopsTotal() != 1 || ps.GetRestartsByReason()["EXITED"] != 2 {
		t.Fatalf("stats %v", ps)
	}

	spec.Restart.Multiplier = 0.5
	_, err = h.c.StartProcess(ctx, &pb.StartProcessRequest{Spec: spec})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "multiplier 0.5 is below 1") {
		t.Fatalf("bad multiplier: %v", err)
	}
	spec.Restart = &pb.RestartPolicy{Mode: 9}
	_, err = h.c.StartProcess(ctx, &pb.StartProcessRequest{Spec: spec})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "spec.restart.mode") {
		t.Fatalf("bad mode: %v", err)
	}

	stream, err := pb.NewBatchServiceClient(h.conn).RunBatch(ctx, &pb.RunBatchRequest{Jobs: []*pb.ProcessSpec{
		{Command: []string{"true"}},
		{Command: []string{"true"}, Restart: &pb.RestartPolicy{Mode: pb.RestartMode_RESTART_MODE_ALWAYS}},
	}})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "job 1: a batch job cannot have a restart policy") {
		t.Fatalf("batch job with a restart policy: %v", err)
	}
}
