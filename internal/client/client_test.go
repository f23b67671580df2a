package client

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/procd/procd/proto/procd/v1"
)

// Every gRPC code procd returns has its procctl exit status; the table is
// what scripts rely on (README, "exit statuses").
func TestExitCode(t *testing.T) {
	for c, want := range map[codes.Code]int{
		codes.OK: 0, codes.InvalidArgument: ExitUsage, codes.FailedPrecondition: ExitDataErr,
		codes.OutOfRange: ExitDataErr, codes.NotFound: ExitNotFound, codes.Unavailable: ExitUnavailable,
		codes.ResourceExhausted: ExitTempFail, codes.PermissionDenied: ExitNoPerm, codes.Unauthenticated: ExitNoPerm,
		codes.DeadlineExceeded: ExitTimeout, codes.Canceled: 130, codes.Unknown: ExitSoftware, codes.Internal: ExitSoftware,
	} {
		if got := ExitCode(c); got != want {
			t.Errorf("ExitCode(%v) = %d, want %d", c, got, want)
		}
	}
	sig, code := int32(9), int32(3)
	for _, c := range []struct {
		p    *pb.Process
		want int
	}{
		{&pb.Process{}, ExitSoftware},
		{&pb.Process{Exit: &pb.ExitStatus{ExitCode: &code}}, 3},
		{&pb.Process{Exit: &pb.ExitStatus{SignalNumber: &sig}}, 137},
	} {
		if got := ProcessExitCode(c.p); got != c.want {
			t.Errorf("ProcessExitCode(%v) = %d, want %d", c.p, got, c.want)
		}
	}
}

// Explain turns connection failures into what to do, and keeps the
// daemon's own message otherwise.
func TestExplain(t *testing.T) {
	c := &Conn{opts: Options{Socket: "/run/procd/procd.sock"}}
	for _, tc := range []struct {
		err  error
		code codes.Code
		has  []string
	}{
		{status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial unix /run/procd/procd.sock: connect: no such file or directory"`),
			codes.Unavailable, []string{"cannot reach procd at /run/procd/procd.sock: no such file or directory", "is procd running?"}},
		{status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial unix /x: connect: permission denied"`),
			codes.PermissionDenied, []string{"permission denied connecting to procd at /run/procd/procd.sock", "--socket-mode"}},
		{status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`),
			codes.Unauthenticated, []string{"TLS handshake", "--tls-ca"}},
		{status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: remote error: tls: bad certificate"`),
			codes.Unauthenticated, []string{"refused this client's certificate", "--client-ca"}},
		{status.Error(codes.NotFound, "no process p-9"), codes.NotFound, []string{"no process p-9"}},
	} {
		var e *Error
		if err := c.Explain(tc.err); !errors.As(err, &e) || e.Code != tc.code {
			t.Errorf("Explain(%v) = %v; want code %v", tc.err, err, tc.code)
			continue
		}
		for _, h := range tc.has {
			if !strings.Contains(e.Msg, h) {
				t.Errorf("Explain(%v) = %q, missing %q", tc.err, e.Msg, h)
			}
		}
	}
	plain := errors.New("not a status")
	if c.Explain(plain) != plain {
		t.Error("a non-status error was rewritten")
	}
}

// A bearer token is never sent in clear off loopback, and a token file
// must hold only the caller's token.
func TestDialRefusesTokensInClear(t *testing.T) {
	dir := t.TempDir()
	one := filepath.Join(dir, "token")
	os.WriteFile(one, []byte("s3cr3t-token-of-enough-length-0123456789\n"), 0o600)
	if _, err := Dial(Options{Addr: "192.0.2.1:7000", TokenFile: one}); err == nil || !strings.Contains(err.Error(), "refusing to send the bearer token in clear") {
		t.Fatalf("token to a remote address without TLS: %v", err)
	}
	c, err := Dial(Options{Addr: "127.0.0.1:7000", TokenFile: one})
	if err != nil {
		t.Fatalf("token to loopback: %v", err)
	}
	c.Close()
	if _, err := Dial(Options{}); err == nil || !strings.Contains(err.Error(), "--socket or --addr") {
		t.Fatalf("no address: %v", err)
	}
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "localhost:1": true, "10.0.0.1:1": false, "nonsense": false} {
		if loopbackAddr(addr) != want {
			t.Errorf("loopbackAddr(%q) = %v", addr, !want)
		}
	}
}
