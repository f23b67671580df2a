package server

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// Attach streams output from the requested offsets and, when asked,
// forwards stdin. Output is sent by one goroutine (the handler) and client
// messages are read by another; a slow client only slows its own stream,
// never the process or other readers (it reads from the ring and is told
// what it lost). The last message is the final record.
func (s *processService) Attach(stream pb.ProcessService_AttachServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil {
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "the first Attach message must be start")
	}
	ref := manager.Ref{ID: start.GetId(), PID: int(start.GetPid())}
	stdout, stderr, done, err := s.m.Output(ref)
	if err != nil {
		return err
	}
	cs, err := cursors(stdout, stderr, pb.Stream_STREAM_UNSPECIFIED, start.GetStdoutOffset(), start.GetStderrOffset(), start.TailBytes)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(stream.Context())
	defer cancel(nil)

	var in *manager.StdinHandle
	if start.GetStdin() {
		holder := fmt.Sprintf("attach #%d", attachSeq.Add(1))
		if p, ok := peer.FromContext(ctx); ok && p.Addr != nil && p.Addr.String() != "" && p.Addr.String() != "@" {
			holder += " from " + p.Addr.String()
		}
		holder += " since " + time.Now().Format(time.TimeOnly)
		if in, err = s.m.AcquireStdin(ref, holder); err != nil {
			return err
		}
		defer in.Release()
	}
	go func() {
		if err := s.attachInput(ctx, stream, ref, in); err != nil {
			cancel(err) // ends the output side too
		}
	}()

	err = s.streamOutput(ctx, cs, true, done, func(m *pb.ReadOutputResponse) error {
		return stream.Send(&pb.AttachResponse{Kind: &pb.AttachResponse_Output{Output: m}})
	})
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			return cause // the input side failed (a bad message, a write error)
		}
		return err
	}
	info, err := s.m.Get(ref)
	if err != nil {
		return err
	}
	return stream.Send(&pb.AttachResponse{Kind: &pb.AttachResponse_Exit{Exit: processToProto(&info, time.Now())}})
}

// attachInput handles the client's messages after start. It returns nil
// when the client has finished sending, and an error that ends the attach
// otherwise.
func (s *processService) attachInput(ctx context.Context, stream pb.ProcessService_AttachServer, ref manager.Ref, in *manager.StdinHandle) error {
	held := in != nil
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil // the client closed its side; output goes on
		}
		if err != nil {
			return err
		}
		switch k := msg.GetKind().(type) {
		case *pb.AttachRequest_Stdin:
			if !held {
				return errdefs.Errorf(errdefs.ErrFailedPrecondition, "this attach does not hold stdin (start with stdin: true)")
			}
			if _, err := in.Write(ctx, k.Stdin); err != nil {
				return err
			}
		case *pb.AttachRequest_CloseStdin:
			if !held {
				return errdefs.Errorf(errdefs.ErrFailedPrecondition, "this attach does not hold stdin (start with stdin: true)")
			}
			if err := in.Close(); err != nil {
				return err
			}
		case *pb.AttachRequest_ReleaseStdin:
			if held {
				in.Release()
				held = false
			}
		case *pb.AttachRequest_Resize:
			size, err := windowSize(k.Resize)
			if err != nil {
				return err
			}
			if err := s.m.Resize(ref, size); err != nil {
				return err
			}
		case *pb.AttachRequest_Start:
			return errdefs.Errorf(errdefs.ErrInvalidArgument, "start may only be the first Attach message")
		default:
			return errdefs.Errorf(errdefs.ErrInvalidArgument, "empty Attach message")
		}
	}
}
