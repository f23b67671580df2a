// Package client connects to procd and gives its errors the exit codes
// procctl documents, and schedules a batch over several daemons (a
// fan-out: RunFanout). It is shared by procctl and the integration tests.
package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/procd/procd/internal/policy"
	pb "github.com/procd/procd/proto/procd/v1"
)

// Options say where the daemon is and how to talk to it. Addr
// (host:port) wins over Socket.
type Options struct {
	Socket string
	Addr   string
	// TLS for Addr: the CA that signed procd's certificate and, for mTLS,
	// this client's certificate and key (PEM files).
	TLSCA, TLSCert, TLSKey string
	// ServerName is the name procd's certificate is verified against when
	// Addr is one address of a name the caller resolved (see DialAll);
	// empty: Addr's host.
	ServerName string
	// TokenFile holds the bearer token to send over TCP (the token alone,
	// or one line NAME ROLE TOKEN).
	TokenFile string
	// Keepalive, when set, pings procd after this long without traffic and
	// drops the connection when no answer comes within it: a call to a
	// daemon whose machine vanished fails instead of hanging. procd accepts
	// pings every 20 s or more.
	Keepalive time.Duration
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
	creds, err := transport(o)
	if err != nil {
		return nil, err
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if o.Keepalive > 0 {
		opts = append(opts, grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: o.Keepalive, Timeout: o.Keepalive}))
	}
	if o.TokenFile != "" && o.Addr != "" {
		secret, err := readToken(o.TokenFile)
		if err != nil {
			return nil, err
		}
		secure := o.TLSCA != "" || o.TLSCert != ""
		if !secure && !loopbackAddr(o.Addr) {
			return nil, fmt.Errorf("refusing to send the bearer token in clear to %s: connect with TLS (--tls-ca) or to a loopback address", o.Addr)
		}
		opts = append(opts, grpc.WithPerRPCCredentials(bearer{token: secret, secure: secure}))
	}
	cc, err := grpc.NewClient(target, append(opts,
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)),
		// Static flow-control windows: procd is near (a local socket), and
		// BDP probing pings add latency to every small message of an attach.
		grpc.WithInitialWindowSize(1<<20),
		grpc.WithInitialConnWindowSize(4<<20),
	)...)
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
	if st.Code() == codes.Unavailable && strings.Contains(st.Message(), "permission denied") {
		return &Error{Code: codes.PermissionDenied, Msg: fmt.Sprintf(
			"permission denied connecting to procd at %s: this user may not open its socket (procd's --socket-mode and --socket-group decide who may)",
			c.opts.Where())}
	}
	if st.Code() == codes.Unavailable && isTLSError(st.Message()) {
		why := "procd's certificate could not be verified: give the CA that signed it with --tls-ca"
		if strings.Contains(st.Message(), "remote error") {
			why = "procd refused this client's certificate: it must be signed by procd's --client-ca"
		}
		return &Error{Code: codes.Unauthenticated, Msg: fmt.Sprintf("TLS handshake with procd at %s failed: %s (%s)",
			c.opts.Where(), why, connectReason(st.Message()))}
	}
	if st.Code() == codes.Unavailable && isConnectError(st.Message()) {
		return &Error{Code: codes.Unavailable, Msg: fmt.Sprintf(
			"cannot reach procd at %s: %s (is procd running? start it with `procd`, or point --socket/PROCD_SOCKET or --addr/PROCD_ADDR at it)",
			c.opts.Where(), connectReason(st.Message()))}
	}
	return &Error{Code: st.Code(), Msg: st.Message()}
}

func isTLSError(msg string) bool {
	return strings.Contains(msg, "handshake failed") || strings.Contains(msg, "remote error: tls:") || strings.Contains(msg, "x509:")
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
	case codes.Unimplemented:
		return ExitUnavailable
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

// transport returns TLS credentials when a CA or client certificate is
// given, else plaintext (the Unix socket, or loopback).
func transport(o Options) (credentials.TransportCredentials, error) {
	if o.TLSCA == "" && o.TLSCert == "" {
		return insecure.NewCredentials(), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName}
	if o.TLSCA != "" {
		pem, err := os.ReadFile(o.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", o.TLSCA)
		}
		cfg.RootCAs = pool
	}
	if o.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return credentials.NewTLS(cfg), nil
}

// readToken reads a client's token file: the bare token, or one line
// NAME ROLE TOKEN as in procd's --token-file.
func readToken(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	defer f.Close()
	toks, _, err := policy.ParseTokens(f, file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	if len(toks) != 1 {
		return "", fmt.Errorf("--token-file %s holds %d tokens (procd's own file?); give procctl a file with only yours", file, len(toks))
	}
	return toks[0].Secret, nil
}

// loopbackAddr reports whether host:port names a loopback address.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// bearer sends "authorization: Bearer TOKEN" with every call.
type bearer struct {
	token  string
	secure bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.secure }
