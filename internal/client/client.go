// Package client connects to procd and gives its errors the exit codes
// procctl documents. It is shared by procctl and the integration tests.
package client

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/procd/procd/proto/procd/v1"
)

// Options say where the daemon is. Addr (host:port) wins over Socket.
type Options struct {
	Socket string
	Addr   string
}

// Where describes the daemon's address for messages.
func (o Options) Where() string {
	if o.Addr != "" {
		return o.Addr
	}
	return o.Socket
}

// Conn is a connection to procd.
type Conn struct {
	*grpc.ClientConn
	Process pb.ProcessServiceClient
	opts    Options
}

// Dial prepares a connection; it connects lazily on the first call.
func Dial(o Options) (*Conn, error) {
	target := o.Addr
	if target == "" {
		if o.Socket == "" {
			return nil, errors.New("no daemon address: set --socket or --addr")
		}
		abs, err := filepath.Abs(o.Socket)
		if err != nil {
			return nil, err
		}
		target = "unix://" + abs
	}
	cc, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)),
		// Static flow-control windows: procd is near (a local socket), and
		// BDP probing pings add latency to every small message of an attach.
		grpc.WithInitialWindowSize(1<<20),
		grpc.WithInitialConnWindowSize(4<<20),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to procd at %s: %w", o.Where(), err)
	}
	return &Conn{ClientConn: cc, Process: pb.NewProcessServiceClient(cc), opts: o}, nil
}

// Explain rewrites a failed call's error into what a user should read:
// connection failures say where procd was expected and how to start it;
// other errors keep the daemon's message.
func (c *Conn) Explain(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	if st.Code() == codes.Unavailable && isConnectError(st.Message()) {
		return &Error{Code: codes.Unavailable, Msg: fmt.Sprintf(
			"cannot reach procd at %s: %s (is procd running? start it with `procd`, or point --socket/PROCD_SOCKET or --addr/PROCD_ADDR at it)",
			c.opts.Where(), connectReason(st.Message()))}
	}
	return &Error{Code: st.Code(), Msg: st.Message()}
}

func isConnectError(msg string) bool {
	return strings.Contains(msg, "connection error") || strings.Contains(msg, "dial") ||
		strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such file")
}

// connectReason extracts the system error from grpc's connection message.
func connectReason(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return strings.Trim(msg[i+2:], `"`)
	}
	return msg
}

// Error is a daemon error with its gRPC code.
type Error struct {
	Code codes.Code
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Exit codes from sysexits.h that procctl uses for its own failures.
const (
	ExitFailure     = 1
	ExitUsage       = 64 // bad command line or invalid argument
	ExitDataErr     = 65 // the target is in the wrong state
	ExitNotFound    = 66 // no such process, executable or directory
	ExitUnavailable = 69 // daemon not reachable or shutting down
	ExitSoftware    = 70 // internal error in the daemon
	ExitTempFail    = 75 // a limit was reached; retry later
	ExitNoPerm      = 77 // permission denied
	ExitTimeout     = 124
)

// ExitCode maps a gRPC code to procctl's exit status.
func ExitCode(c codes.Code) int {
	switch c {
	case codes.OK:
		return 0
	case codes.InvalidArgument:
		return ExitUsage
	case codes.FailedPrecondition, codes.OutOfRange, codes.AlreadyExists:
		return ExitDataErr
	case codes.NotFound:
		return ExitNotFound
	case codes.Unavailable:
		return ExitUnavailable
	case codes.ResourceExhausted:
		return ExitTempFail
	case codes.PermissionDenied, codes.Unauthenticated:
		return ExitNoPerm
	case codes.DeadlineExceeded:
		return ExitTimeout
	case codes.Canceled:
		return 130
	}
	return ExitSoftware
}

// ProcessExitCode is the shell-style status of a finished process: its exit
// code, or 128+N when signal N killed it.
func ProcessExitCode(p *pb.Process) int {
	e := p.GetExit()
	switch {
	case e == nil:
		return ExitSoftware
	case e.SignalNumber != nil:
		return 128 + int(e.GetSignalNumber())
	default:
		return int(e.GetExitCode())
	}
}
