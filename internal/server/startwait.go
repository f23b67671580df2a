package server

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/manager"
	pb "github.com/procd/procd/proto/procd/v1"
)

// StartProcess with StartWait set is a start and a WaitForProcess in one
// call: a start+wait client (a fuzzer's loop) pays for one HTTP/2 stream,
// one set of interceptors and one response per process instead of two.

// startWaitTimeout checks StartWait.timeout before anything starts: unset
// is no timeout; zero or negative is refused (zero would return at once).
func startWaitTimeout(w *pb.StartWait) (time.Duration, error) {
	if w.GetTimeout() == nil {
		return 0, nil
	}
	timeout, err := duration("wait.timeout", w.GetTimeout())
	if err != nil {
		return 0, err
	}
	if timeout <= 0 {
		return 0, errdefs.Errorf(errdefs.ErrInvalidArgument,
			"wait.timeout %v: must be positive (leave it unset to wait until the process ends, or leave wait unset to return once it runs)", timeout)
	}
	return timeout, nil
}

// waitStarted is StartProcess's wait (StartWait): WaitForProcess on the
// process it just started. A wait cut short leaves the process running,
// and the error names it.
func (s *processService) waitStarted(ctx context.Context, started manager.Info, timeout time.Duration, untilReady bool) (*pb.StartProcessResponse, error) {
	info, timedOut, err := s.wait(ctx, manager.Ref{ID: started.ID}, timeout, untilReady)
	if err != nil {
		select {
		case <-s.shutdown:
			return nil, status.Errorf(codes.Unavailable, "%s (pid %d) was started; the daemon began shutting down during the wait", started.ID, started.PID)
		default:
		}
		return nil, fmt.Errorf("%s (pid %d) was started; the wait for it ended (%w) and the process keeps running", started.ID, started.PID, err)
	}
	return &pb.StartProcessResponse{Process: processToProto(&info, time.Now()), TimedOut: timedOut}, nil
}
