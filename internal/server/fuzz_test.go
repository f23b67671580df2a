package server_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/procattr"
	"github.com/procd/procd/internal/testutil"
	pb "github.com/procd/procd/proto/procd/v1"
)

// checkCode fails unless err is a gRPC status saying the request was at
// fault (or a limit was hit): never Unknown or Internal, which mean an
// unmapped error or a recovered panic.
func checkCode(t *testing.T, what string, err error) codes.Code {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("%s: %v (%T) is not a gRPC status", what, err, err)
	}
	switch st.Code() {
	case codes.Unknown, codes.Internal, codes.DeadlineExceeded, codes.Canceled:
		t.Fatalf("%s: %v", what, err)
	}
	if err != nil && st.Message() == "" {
		t.Fatalf("%s: %v with an empty message", what, st.Code())
	}
	return st.Code()
}

// FuzzStartProcessRequest feeds arbitrary requests through the whole server
// stack (interceptors, validation, conversion, the manager). The program is
// always /bin/true, so whatever else the request says, nothing harmful runs.
func FuzzStartProcessRequest(f *testing.F) {
	h := newHarness(f, manager.Config{}, nil, true)
	for _, req := range []*pb.StartProcessRequest{
		{},
		{Spec: &pb.ProcessSpec{}},
		{Spec: &pb.ProcessSpec{Command: []string{"true"}}},
		{Spec: &pb.ProcessSpec{Command: []string{"true", "a", "b"}, Name: "n", Labels: map[string]string{"k": "v"}, KillMode: pb.KillMode_KILL_MODE_LEADER}},
		{Spec: &pb.ProcessSpec{Command: []string{""}}},
		{Spec: &pb.ProcessSpec{Command: []string{"true", "a\x00b"}}},
		{Spec: &pb.ProcessSpec{Command: []string{"true"}, Cwd: "/no/such/dir"}},
		{Spec: &pb.ProcessSpec{Command: []string{"true"}, Cwd: "/etc/passwd"}},
		{Spec: &pb.ProcessSpec{Command: []string{"true"}, Cwd: "/" + strings.Repeat("x", 5000)}},
		{Spec: &pb.ProcessSpec{Command: []string{"true"}, Env: map[string]string{"": "x", "A=B": "1"}, ClearEnv: true}},
		{Spec: &pb.ProcessSpec{Command: []string{"true"}, Labels: map[string]string{"": "v"}}},
		{Spec: &pb.ProcessSpec{Command: []string{"true"}, KillMode: 99}},
		{Spec: &pb.ProcessSpec{Command: []string{"true"}, StopSignal: "SIGBOGUS"}},
		{Spec: &pb.ProcessSpec{Command: []string{"true"}, StopSignal: "0"}},
		{Spec: &pb.ProcessSpec{Command: []string{"true"}, Grace: &durationpb.Duration{Seconds: 1, Nanos: -1}}},
		{Spec: &pb.ProcessSpec{Command: []string{"true"}, Grace: &durationpb.Duration{Seconds: 1 << 62}}},
		{Spec: &pb.ProcessSpec{Command: []string{"true"}, Grace: durationpb.New(-time.Second)}},
	} {
		b, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte("\x0a\x05\x0a\x03\xff\xfe\xfd"))

	f.Fuzz(func(t *testing.T, data []byte) {
		req := &pb.StartProcessRequest{}
		if proto.Unmarshal(data, req) != nil {
			return
		}
		if spec := req.GetSpec(); spec != nil {
			if len(spec.Command) > 0 {
				spec.Command[0] = "/bin/true"
			}
			for k := range spec.Env {
				if strings.HasPrefix(k, "LD_") {
					delete(spec.Env, k) // no preloading into /bin/true
				}
			}
		}
		resp, err := h.c.StartProcess(testutil.Context(t), req)
		if err != nil {
			checkCode(t, "start", err)
			return
		}
		fin := h.wait(t, resp.GetProcess().GetId())
		if x := fin.GetExit(); (x.ExitCode == nil) == (x.SignalNumber == nil) {
			t.Fatalf("exit status sets exactly one of code and signal: %v", x)
		}
		if _, err := h.c.RemoveProcess(testutil.Context(t), &pb.RemoveProcessRequest{Target: &pb.RemoveProcessRequest_Id{Id: fin.GetId()}}); err != nil {
			t.Fatalf("remove: %v", err)
		}
	})
}

// FuzzSendSignal: no signal string makes ParseSignal panic or accept a
// number outside the platform's range, and over the wire every string is
// either resolved or INVALID_ARGUMENT. The target has exited, so nothing
// is actually signalled.
func FuzzSendSignal(f *testing.F) {
	h := newHarness(f, manager.Config{}, nil, true)
	p := h.start(f, &pb.ProcessSpec{Command: []string{"true"}})
	h.wait(f, p.GetId())
	for _, s := range []string{
		"", " ", "SIGTERM", "term", "Hup", "sigkill", "9", "+9", "-9", "0", "64", "65", "99999999999999999999",
		"timeout", "force", "interrupt", "TIMEOUT", "SIGBOGUS", "SIG", "SIGRTMIN", "SIGRTMIN+3", "SIGRTMIN+-0",
		"SIGRTMAX-100", "SIGRTMIN+9223372036854775807", "SIGRTMAX-9223372036854775807", "sigiot", "ß", "\x00", "\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, perr := procattr.ParseSignal(s)
		if perr != nil {
			if !errors.Is(perr, errdefs.ErrInvalidArgument) || perr.Error() == "" {
				t.Fatalf("ParseSignal(%q): %v is not an invalid-argument error", s, perr)
			}
		} else if sig < 1 || sig > 64 || procattr.SignalName(sig) == "" {
			t.Fatalf("ParseSignal(%q) = %d", s, sig)
		}

		resp, err := h.c.SendSignal(testutil.Context(t), &pb.SendSignalRequest{Target: &pb.SendSignalRequest_Id{Id: p.GetId()}, Signal: s})
		if s != strings.ToValidUTF8(s, "") {
			// proto3 strings must be UTF-8: the client refuses to marshal.
			if err == nil {
				t.Fatalf("signal %q (invalid UTF-8) was accepted", s)
			}
			return
		}
		if perr != nil || s == "" {
			if code := checkCode(t, "signal "+s, err); code != codes.InvalidArgument {
				t.Fatalf("signal %q: %v; want InvalidArgument", s, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("signal %q (parses as %d): %v", s, sig, err)
		}
		rs := resp.GetResults()
		if resp.GetSignal() != procattr.SignalName(sig) || len(rs) != 1 || rs[0].GetDelivered() || rs[0].GetError() != "already exited" {
			t.Fatalf("signal %q: %v", s, resp)
		}
	})
}
