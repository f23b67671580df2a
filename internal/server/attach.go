package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/peer"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/manager"
	pb "github.com/procd/procd/proto/procd/v1"
)

func (s *processService) WriteInput(ctx context.Context, req *pb.WriteInputRequest) (*pb.WriteInputResponse, error) {
	n, err := s.m.WriteInput(ctx, refFrom(req), req.GetData(), req.GetClose())
	if err != nil {
		return nil, err
	}
	return &pb.WriteInputResponse{Written: int64(n)}, nil
}

// attachSeq numbers attaches, to name stdin holders in messages.
var attachSeq atomic.Uint64

// Attach runs one session (see the proto): it opens the session on an
// existing process or starts one, streams output — losslessly unless the
// client asked to be a lossy observer — and forwards the client's stdin.
// Output is sent by the handler; client messages are handled by a second
// goroutine, joined before the handler returns. However the call ends, the
// session is ended: stdin it holds is closed, and a process bound to it is
// stopped if it has not ended (CLIENT_GONE).
func (s *processService) Attach(stream pb.ProcessService_AttachServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil {
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "the first Attach message must be start")
	}
	sess, lp, err := s.openSession(stream, start)
	if err != nil {
		return err
	}
	defer sess.End()
	if lp != nil {
		defer lp.close()
	}

	ctx, cancel := context.WithCancelCause(stream.Context())
	defer cancel(nil)
	var sendMu sync.Mutex // both sides send
	send := func(m *pb.AttachResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(m)
	}
	msgs := receive(ctx, stream)
	input := make(chan struct{})
	go func() {
		defer close(input)
		if err := s.attachInput(ctx, msgs, sess, lp != nil && lp.stdinTaken, send); err != nil {
			cancel(err) // ends the output side too
		}
	}()
	if lp != nil {
		err = s.pipeOutput(ctx, sess, lp, send)
	} else {
		err = s.attachOutput(ctx, sess, send)
	}
	cancel(nil)
	<-input
	return err
}

// received is one stream.Recv result.
type received struct {
	msg *pb.AttachRequest
	err error
}

// receive pumps stream.Recv into a channel until an error or ctx ends. A
// server cannot interrupt Recv, so the pump itself outlives the handler by
// as long as gRPC takes to end the stream once the handler returns; it
// touches nothing but the stream and the channel.
func receive(ctx context.Context, stream pb.ProcessService_AttachServer) <-chan received {
	out := make(chan received)
	go func() {
		for {
			m, err := stream.Recv()
			select {
			case out <- received{m, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return out
}

// openSession starts the process or attaches to it, as start says, on the
// local fast path when the client offers its pipes and procd can take them
// (then lp is set), else on the stream.
func (s *processService) openSession(stream pb.ProcessService_AttachServer, start *pb.AttachStart) (*manager.Session, *localPipes, error) {
	o, err := outputOptions(pb.Stream_STREAM_UNSPECIFIED, start.GetStdoutOffset(), start.GetStderrOffset(),
		"stdout_offset", "stderr_offset", start.TailBytes)
	if err != nil {
		return nil, nil, err
	}
	o.Lossless = !start.GetLossy()
	opts := manager.AttachOptions{Output: o, Stdin: start.GetStdin(), Holder: holderName(stream.Context())}
	spec := start.GetSpec()
	lp, err := s.offerLocalPipes(stream, start)
	if err != nil {
		return nil, nil, err
	}
	if lp != nil && lp.stdin != nil {
		opts.Stdin, opts.StdinFile = false, lp.stdin
		lp.stdinTaken = true
	}
	if spec == nil {
		sess, err := s.m.Attach(manager.Ref{ID: start.GetId(), PID: int(start.GetPid())}, opts)
		if err != nil && lp != nil {
			lp.close()
		}
		return sess, lp, err
	}
	sp, err := specFrom(spec)
	if err == nil {
		sp.Caller = callerOf(stream.Context())
	} else {
		s.m.CountStartFailure()
	}
	var info manager.Info
	var sess *manager.Session
	if err == nil {
		info, sess, err = s.m.StartAttached(sp, opts)
	}
	if lp != nil && lp.stdin != nil {
		lp.stdin.Close() // the process has its copy; the client holds the other end
		lp.stdin = nil
	}
	if err != nil {
		if lp != nil {
			lp.close()
		}
		return nil, nil, err
	}
	if err := stream.Send(&pb.AttachResponse{Kind: &pb.AttachResponse_Started{Started: processToProto(&info, time.Now())}}); err != nil {
		sess.End()
		if lp != nil {
			lp.close()
		}
		return nil, nil, err
	}
	return sess, lp, nil
}

// offerLocalPipes answers AttachStart.local_pipes, first of all messages:
// the pipes are taken, or the session stays on the stream and the client
// is told why. Nothing is taken for a lossy observer (a pipe is not a
// record) or a terminal, and a stdin only for a session that starts its
// process.
func (s *processService) offerLocalPipes(stream pb.ProcessService_AttachServer, start *pb.AttachStart) (*localPipes, error) {
	want := start.GetLocalPipes()
	if want == nil {
		return nil, nil
	}
	var lp *localPipes
	why := ""
	switch {
	case start.GetLossy():
		why = "a lossy observer reads the record over the stream"
	case start.GetSpec().GetTty():
		why = "a terminal session stays on the stream"
	case want.Stdin != nil && start.GetSpec() == nil:
		why = "a stdin pipe can be handed over only when the session starts the process"
	case want.Stdin != nil && !start.GetStdin():
		why = "a stdin pipe was offered, but the attach does not ask for stdin"
	default:
		lp, why = takeLocalPipes(stream.Context(), want)
	}
	res := &pb.LocalPipesResult{Taken: lp != nil, Reason: why}
	if err := stream.Send(&pb.AttachResponse{Kind: &pb.AttachResponse_LocalPipes{LocalPipes: res}}); err != nil {
		if lp != nil {
			lp.close()
		}
		return nil, err
	}
	return lp, nil
}

// holderName names a session in messages about who holds stdin.
func holderName(ctx context.Context) string {
	holder := fmt.Sprintf("attach #%d", attachSeq.Add(1))
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil && p.Addr.String() != "" && p.Addr.String() != "@" {
		holder += " from " + p.Addr.String()
	}
	return holder + " since " + time.Now().Format(time.TimeOnly)
}

// attachOutput streams the session's output, then the final record.
func (s *processService) attachOutput(ctx context.Context, sess *manager.Session, send func(*pb.AttachResponse) error) error {
	err := s.streamOutput(ctx, sess, func(m *pb.ReadOutputResponse) error {
		return send(&pb.AttachResponse{Kind: &pb.AttachResponse_Output{Output: m}})
	})
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			return cause // the input side failed (a bad message, a write error)
		}
		return err
	}
	info := sess.Info()
	return send(&pb.AttachResponse{Kind: &pb.AttachResponse_Exit{Exit: processToProto(&info, time.Now())}})
}

// attachInput handles the client's messages after start. It returns nil
// when the client has finished sending (after closing the stdin it holds:
// end of input, as when a pipe's writer closes it) or ctx ends, and an
// error that ends the attach otherwise.
func (s *processService) attachInput(ctx context.Context, msgs <-chan received, sess *manager.Session, stdinHandedOver bool,
	send func(*pb.AttachResponse) error) error {
	for {
		var r received
		select {
		case r = <-msgs:
		case <-ctx.Done():
			return nil
		}
		msg, err := r.msg, r.err
		if errors.Is(err, io.EOF) {
			sess.CloseStdin() // nothing held: nothing to close
			return nil
		}
		if err != nil {
			return err
		}
		switch msg.GetKind().(type) {
		case *pb.AttachRequest_Stdin, *pb.AttachRequest_CloseStdin, *pb.AttachRequest_ReleaseStdin:
			if stdinHandedOver {
				return errdefs.Errorf(errdefs.ErrFailedPrecondition,
					"the stdin of %s was handed over as a local pipe (local_pipes.stdin): write to that pipe, and close it for end of input", sess.ID())
			}
		}
		switch k := msg.GetKind().(type) {
		case *pb.AttachRequest_Stdin:
			if _, err := sess.Write(ctx, k.Stdin); err != nil {
				return err
			}
		case *pb.AttachRequest_CloseStdin:
			if err := sess.CloseStdin(); err != nil {
				return err
			}
		case *pb.AttachRequest_ReleaseStdin:
			sess.ReleaseStdin()
			if err := send(&pb.AttachResponse{Kind: &pb.AttachResponse_StdinReleased{StdinReleased: true}}); err != nil {
				return err
			}
		case *pb.AttachRequest_Resize:
			size, err := windowSize(k.Resize)
			if err != nil {
				return err
			}
			if err := sess.Resize(size); err != nil {
				return err
			}
		case *pb.AttachRequest_Start:
			return errdefs.Errorf(errdefs.ErrInvalidArgument, "start may only be the first Attach message")
		default:
			return errdefs.Errorf(errdefs.ErrInvalidArgument, "empty Attach message")
		}
	}
}
