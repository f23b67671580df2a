package client

import (
	"context"

	pb "github.com/procd/procd/proto/procd/v1"
)

// StartWait starts a process and waits for it in one call
// (StartProcessRequest.wait): the final record, or with w.until_ready the
// record once it is ready or has ended, or after w.timeout the live record
// and timedOut. A daemon older than that field ignores it and answers once
// the process runs; StartWait then waits with WaitForProcess, so the
// result is the same with either. A wait cut short (ctx) returns the
// error and leaves the process running; p is then nil unless the start's
// answer came back first.
func StartWait(ctx context.Context, c pb.ProcessServiceClient, spec *pb.ProcessSpec, w *pb.StartWait) (p *pb.Process, timedOut bool, err error) {
	if w == nil {
		w = &pb.StartWait{}
	}
	resp, err := c.StartProcess(ctx, &pb.StartProcessRequest{Spec: spec, Wait: w})
	if err != nil {
		return nil, false, err
	}
	p = resp.GetProcess()
	if resp.GetTimedOut() || Waited(p, w.GetUntilReady()) {
		return p, resp.GetTimedOut(), nil
	}
	wr, err := c.WaitForProcess(ctx, &pb.WaitForProcessRequest{Target: &pb.WaitForProcessRequest_Id{Id: p.GetId()},
		Timeout: w.GetTimeout(), UntilReady: w.GetUntilReady()})
	if err != nil {
		return p, false, err
	}
	return wr.GetProcess(), wr.GetTimedOut(), nil
}

// Waited reports whether p is a record a wait ends on: final (EXITED,
// FAILED, LOST), or with untilReady, ready. A StartProcess with wait that
// answers with any other record (and timed_out false) came from a daemon
// that does not know the field.
func Waited(p *pb.Process, untilReady bool) bool {
	switch p.GetState() {
	case pb.ProcessState_PROCESS_STATE_EXITED, pb.ProcessState_PROCESS_STATE_FAILED, pb.ProcessState_PROCESS_STATE_LOST:
		return true
	}
	return untilReady && p.GetReadyAt() != nil
}
