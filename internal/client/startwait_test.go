package client

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/procd/procd/proto/procd/v1"
)

// waitingDaemon answers StartProcess with start and WaitForProcess with
// final, recording the wait requests it gets.
type waitingDaemon struct {
	pb.ProcessServiceClient
	start *pb.StartProcessResponse
	final *pb.Process
	waits []*pb.WaitForProcessRequest
}

func (f *waitingDaemon) StartProcess(context.Context, *pb.StartProcessRequest, ...grpc.CallOption) (*pb.StartProcessResponse, error) {
	return f.start, nil
}

func (f *waitingDaemon) WaitForProcess(_ context.Context, r *pb.WaitForProcessRequest, _ ...grpc.CallOption) (*pb.WaitForProcessResponse, error) {
	f.waits = append(f.waits, r)
	return &pb.WaitForProcessResponse{Process: f.final}, nil
}

// StartWait makes one call to a daemon that waits, and falls back to
// WaitForProcess with the same options when the daemon answered with a
// record the wait cannot have ended on (one older than StartWait).
func TestStartWaitFallsBackForAnOlderDaemon(t *testing.T) {
	running := &pb.Process{Id: "p-1", State: pb.ProcessState_PROCESS_STATE_RUNNING}
	exited := &pb.Process{Id: "p-1", State: pb.ProcessState_PROCESS_STATE_EXITED}
	ready := &pb.Process{Id: "p-1", State: pb.ProcessState_PROCESS_STATE_RUNNING, ReadyAt: timestamppb.Now()}
	for _, tc := range []struct {
		name       string
		start      *pb.StartProcessResponse
		untilReady bool
		want       *pb.Process
		waits      int
	}{
		{"waited", &pb.StartProcessResponse{Process: exited}, false, exited, 0},
		{"timed out", &pb.StartProcessResponse{Process: running, TimedOut: true}, false, running, 0},
		{"ready", &pb.StartProcessResponse{Process: ready}, true, ready, 0},
		{"older daemon", &pb.StartProcessResponse{Process: running}, false, exited, 1},
		{"older daemon, until ready", &pb.StartProcessResponse{Process: running}, true, exited, 1},
		{"ready is not final", &pb.StartProcessResponse{Process: ready}, false, exited, 1},
	} {
		f := &waitingDaemon{start: tc.start, final: exited}
		p, _, err := StartWait(context.Background(), f, &pb.ProcessSpec{Command: []string{"true"}}, &pb.StartWait{UntilReady: tc.untilReady})
		if err != nil || p != tc.want || len(f.waits) != tc.waits {
			t.Errorf("%s: %v %v after %d waits; want %v after %d", tc.name, p, err, len(f.waits), tc.want, tc.waits)
			continue
		}
		if tc.waits == 1 && (f.waits[0].GetId() != "p-1" || f.waits[0].GetUntilReady() != tc.untilReady) {
			t.Errorf("%s: fallback wait %v", tc.name, f.waits[0])
		}
	}
}
