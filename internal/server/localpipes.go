package server

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/procd/procd/internal/manager"
	pb "github.com/procd/procd/proto/procd/v1"
)

// localPipes are a local client's pipes taken for a session's fast path
// (AttachStart.local_pipes): the process's stdin, if handed over, and the
// write ends stdout and stderr go to instead of the stream.
type localPipes struct {
	stdin *os.File // closed once the process has its copy
	// stdinTaken: the process reads the client's pipe; stdin messages on
	// the stream are refused.
	stdinTaken bool
	out        [2]*os.File // stdout, stderr
	once       sync.Once
	release    func() // returns the session's place in the fast path's budget
}

// closeOutputs closes procd's write ends: the client reads end of file, and
// a write blocked on a client that stopped reading returns.
func (lp *localPipes) closeOutputs() {
	lp.once.Do(func() {
		for _, f := range lp.out {
			if f != nil {
				f.Close()
			}
		}
	})
}

func (lp *localPipes) close() {
	if lp.stdin != nil {
		lp.stdin.Close()
		lp.stdin = nil
	}
	lp.closeOutputs()
	if lp.release != nil {
		lp.release()
		lp.release = nil
	}
}

// pipeOutput is attachOutput for the fast path: the session's output goes
// into the client's pipes (manager.Session.PipeTo: every byte, in order, a
// lagging client holding the process back, as on the stream), and the
// final record goes on the stream once both pipes are closed, so a client
// that reads its pipes to end of file has every byte before the record.
func (s *processService) pipeOutput(ctx context.Context, sess *manager.Session, lp *localPipes, send func(*pb.AttachResponse) error) error {
	ctx, cancel := s.untilShutdown(ctx)
	defer cancel()
	skipped, err := sess.PipeTo(ctx, lp.out[0], lp.out[1])
	if err != nil {
		return s.interrupted(err)
	}
	if skipped > 0 { // only from before the attach: say so on the stream
		if err := send(&pb.AttachResponse{Kind: &pb.AttachResponse_Output{Output: &pb.ReadOutputResponse{SkippedBytes: skipped}}}); err != nil {
			return err
		}
	}
	info := sess.Info()
	return send(&pb.AttachResponse{Kind: &pb.AttachResponse_Exit{Exit: processToProto(&info, time.Now())}})
}
