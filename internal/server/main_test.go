package server_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/server"
	"github.com/procd/procd/internal/testutil"
	pb "github.com/procd/procd/proto/procd/v1"
)

// rt is the one runtime a process may have (it is the child subreaper and
// owns the epoll loop).
var rt *proc.Runtime

func TestMain(m *testing.M) {
	var err error
	if rt, err = proc.NewRuntime(nil); err != nil {
		panic(err)
	}
	code := m.Run()
	rt.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

// harness is one daemon's worth of procd served on a Unix socket,
// with a client connection to it.
type harness struct {
	m    *manager.Manager
	bus  *events.Bus
	srv  *server.Server
	lis  net.Listener
	conn *grpc.ClientConn
	c    pb.ProcessServiceClient
}

// newHarness builds a bus (unless given), a manager, the gRPC server and a
// client. quiet drops all logs (for fuzz targets); otherwise they go to tb.
// Everything is torn down in tb's cleanup, in the daemon's order.
func newHarness(tb testing.TB, cfg manager.Config, bus *events.Bus, quiet bool) *harness {
	tb.Helper()
	if bus == nil {
		bus = events.NewBus(4096, nil)
	}
	mlog, slog, closeLog := zap.NewNop(), zap.NewNop(), func() {}
	if !quiet {
		mlog = zaptest.NewLogger(tb)
		slog, closeLog = serverLogger(tb)
	}
	h := &harness{m: manager.New(cfg, rt, bus, mlog), bus: bus}
	h.srv = server.New(server.Options{Processes: h.m, Events: bus, Logger: slog, Containment: "pgroup", Access: ownAccess()})
	h.lis = testListener(tb)
	served := make(chan error, 1)
	go func() { served <- h.srv.GRPC.Serve(h.lis) }()
	h.conn = h.dial(tb)
	h.c = pb.NewProcessServiceClient(h.conn)
	tb.Cleanup(func() {
		h.srv.BeginShutdown()
		h.srv.GRPC.Stop()
		if err := <-served; err != nil {
			tb.Errorf("serve: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		h.m.Shutdown(ctx)
		bus.Close()
		closeLog()
		testutil.AssertNoZombies(tb)
	})
	return h
}

// serverLogger logs to tb until the returned function is called. grpc's
// Stop does not wait for handlers to return, and a handler's last log line
// may come after the test ended, when t.Log would panic.
func serverLogger(tb testing.TB) (*zap.Logger, func()) {
	w := &tbWriter{tb: tb}
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	return zap.New(zapcore.NewCore(enc, w, zapcore.DebugLevel)), w.close
}

// dial opens another client connection to the harness's server; it is
// closed at cleanup (before the server stops).
func (h *harness) dial(tb testing.TB, opts ...grpc.DialOption) *grpc.ClientConn {
	tb.Helper()
	return dialTest(tb, h.lis, opts...)
}

// testListener is a Unix socket in a short temporary directory (sun_path
// holds 108 bytes): the server knows its callers there by their kernel
// credentials, as procd does, so the tests pass the same authorisation.
func testListener(tb testing.TB) net.Listener {
	tb.Helper()
	dir, err := os.MkdirTemp("", "psrv")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	lis, err := net.Listen("unix", filepath.Join(dir, "s.sock"))
	if err != nil {
		tb.Fatal(err)
	}
	return lis
}

// ownAccess gives the test's own user the control role.
func ownAccess() server.Access { return server.Access{ControlUIDs: []int{os.Getuid()}} }

func dialTest(tb testing.TB, lis net.Listener, opts ...grpc.DialOption) *grpc.ClientConn {
	tb.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	conn, err := grpc.NewClient("unix://"+lis.Addr().String(), opts...)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// tbWriter logs to a test until it is closed, then discards.
type tbWriter struct {
	mu   sync.Mutex
	tb   testing.TB
	done bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *tbWriter) Sync() error { return nil }

func (w *tbWriter) close() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

func (h *harness) start(tb testing.TB, spec *pb.ProcessSpec) *pb.Process {
	tb.Helper()
	resp, err := h.c.StartProcess(testutil.Context(tb), &pb.StartProcessRequest{Spec: spec})
	if err != nil {
		tb.Fatalf("start %q: %v", spec.GetCommand(), err)
	}
	return resp.GetProcess()
}

func (h *harness) sh(tb testing.TB, script string) *pb.Process {
	tb.Helper()
	return h.start(tb, &pb.ProcessSpec{Command: []string{"sh", "-c", script}, Name: "sh"})
}

// wait waits for the final record of a process.
func (h *harness) wait(tb testing.TB, id string) *pb.Process {
	tb.Helper()
	resp, err := h.c.WaitForProcess(testutil.Context(tb), &pb.WaitForProcessRequest{Target: &pb.WaitForProcessRequest_Id{Id: id}})
	if err != nil {
		tb.Fatalf("wait %s: %v", id, err)
	}
	if resp.GetTimedOut() || resp.GetProcess().GetState() != pb.ProcessState_PROCESS_STATE_EXITED {
		tb.Fatalf("wait %s: timed out %v, state %v", id, resp.GetTimedOut(), resp.GetProcess().GetState())
	}
	return resp.GetProcess()
}

func (h *harness) stats(tb testing.TB) *pb.GetStatsResponse {
	tb.Helper()
	st, err := h.c.GetStats(testutil.Context(tb), &pb.GetStatsRequest{})
	if err != nil {
		tb.Fatalf("stats: %v", err)
	}
	return st
}

// wantStatus checks that err is a gRPC status with code and a message
// containing every one of parts.
func wantStatus(tb testing.TB, what string, err error, code codes.Code, parts ...string) {
	tb.Helper()
	st, ok := status.FromError(err)
	if err == nil || !ok {
		tb.Errorf("%s: error %v (%T); want a status with code %v", what, err, err, code)
		return
	}
	if st.Code() != code {
		tb.Errorf("%s: code %v (%q); want %v", what, st.Code(), st.Message(), code)
		return
	}
	for _, p := range parts {
		if !strings.Contains(st.Message(), p) {
			tb.Errorf("%s: message %q does not contain %q", what, st.Message(), p)
		}
	}
}

// seqOutput is what `seq from to` prints.
func seqOutput(from, to int) []byte {
	var b []byte
	for i := from; i <= to; i++ {
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, '\n')
	}
	return b
}
