package server_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/server"
	"github.com/procd/procd/internal/testutil"
	pb "github.com/procd/procd/proto/procd/v1"
)

func ids(ps []*pb.Process) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.GetId())
	}
	return out
}

// Listing filters, bulk signals with one result per process, stop,
// cleanup and the counters, over the wire.
func TestSignalStopCleanupAndStats(t *testing.T) {
	// Long on purpose: one scenario over the same processes, signal to stats.
	h := newHarness(t, manager.Config{}, nil, false)
	ctx := testutil.Context(t)
	a := h.start(t, &pb.ProcessSpec{Command: []string{"sleep", "300"}, Name: "a", Labels: map[string]string{"campaign": "x"}})
	b := h.start(t, &pb.ProcessSpec{Command: []string{"sleep", "300"}, Name: "b"})
	c := h.start(t, &pb.ProcessSpec{Command: []string{"true"}, Name: "c"})
	h.wait(t, c.GetId())

	for _, tc := range []struct {
		req  *pb.ListProcessesRequest
		want []string
	}{
		{&pb.ListProcessesRequest{}, []string{a.GetId(), b.GetId(), c.GetId()}},
		{&pb.ListProcessesRequest{States: []pb.ProcessState{pb.ProcessState_PROCESS_STATE_RUNNING}}, []string{a.GetId(), b.GetId()}},
		{&pb.ListProcessesRequest{States: []pb.ProcessState{pb.ProcessState_PROCESS_STATE_EXITED}}, []string{c.GetId()}},
		{&pb.ListProcessesRequest{Name: "b"}, []string{b.GetId()}},
		{&pb.ListProcessesRequest{Labels: map[string]string{"campaign": "x"}}, []string{a.GetId()}},
		{&pb.ListProcessesRequest{Labels: map[string]string{"campaign": "y"}}, nil},
	} {
		resp, err := h.c.ListProcesses(ctx, tc.req)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(resp.GetProcesses()); !slices.Equal(got, tc.want) {
			t.Errorf("list %v: %v; want %v", tc.req, got, tc.want)
		}
	}

	// The original's kind names resolve (timeout is SIGTERM), and a selector targets by label.
	resp, err := h.c.SendSignal(ctx, &pb.SendSignalRequest{
		Target: &pb.SendSignalRequest_Selector{Selector: &pb.Selector{Labels: map[string]string{"campaign": "x"}}}, Signal: "timeout"})
	if err != nil {
		t.Fatal(err)
	}
	if rs := resp.GetResults(); resp.GetSignal() != "SIGTERM" || len(rs) != 1 || rs[0].GetId() != a.GetId() || !rs[0].GetDelivered() || rs[0].GetPid() != a.GetPid() {
		t.Fatalf("signal by label: %v", resp)
	}
	if x := h.wait(t, a.GetId()).GetExit(); x.GetSignalNumber() != 15 || x.GetSignal() != "SIGTERM" || x.ExitCode != nil ||
		x.GetReason() != pb.ExitReason_EXIT_REASON_STOPPED {
		t.Fatalf("a after SIGTERM: %v", x)
	}

	// A bulk signal never fails because some processes already exited.
	resp, err = h.c.SendSignal(ctx, &pb.SendSignalRequest{Target: &pb.SendSignalRequest_Selector{Selector: &pb.Selector{All: true}}, Signal: "CONT"})
	if err != nil {
		t.Fatal(err)
	}
	delivered := map[string]bool{}
	for _, r := range resp.GetResults() {
		delivered[r.GetId()] = r.GetDelivered()
		if !r.GetDelivered() && r.GetError() != "already exited" {
			t.Errorf("result %v", r)
		}
	}
	if len(resp.GetResults()) != 3 || !delivered[b.GetId()] || delivered[a.GetId()] || delivered[c.GetId()] || resp.GetSignal() != "SIGCONT" {
		t.Fatalf("bulk signal: %v", resp)
	}

	stop := func() *pb.Process {
		t.Helper()
		resp, err := h.c.StopProcess(ctx, &pb.StopProcessRequest{Target: &pb.StopProcessRequest_Id{Id: b.GetId()}, Grace: durationpb.New(0)})
		if err != nil || len(resp.GetResults()) != 1 || resp.GetResults()[0].GetError() != "" {
			t.Fatalf("stop: %v %v", resp, err)
		}
		return resp.GetResults()[0].GetProcess()
	}
	fin := stop()
	if fin.GetState() != pb.ProcessState_PROCESS_STATE_EXITED || fin.GetExit().SignalNumber == nil || fin.GetExit().GetReason() != pb.ExitReason_EXIT_REASON_STOPPED {
		t.Fatalf("b after stop: %v", fin)
	}
	if again := stop(); again.GetExit().GetReason() != pb.ExitReason_EXIT_REASON_STOPPED || again.GetFinishedAt().AsTime() != fin.GetFinishedAt().AsTime() {
		t.Fatalf("stopping a finished process: %v; want its record %v", again, fin)
	}
	if u, err := h.c.UpdateActivity(ctx, &pb.UpdateActivityRequest{Target: &pb.UpdateActivityRequest_Pid{Pid: c.GetPid()}}); err != nil || u.GetProcess().GetId() != c.GetId() {
		t.Fatalf("update activity on a finished process: %v %v", u, err)
	}

	st := h.stats(t)
	ps := st.GetProcesses()
	if ps.GetStartedTotal() != 3 || ps.GetExited() != 3 || ps.GetRunning() != 0 ||
		ps.GetExitsByReason()["EXITED"] != 1 || ps.GetExitsByReason()["STOPPED"] != 2 {
		t.Fatalf("process stats %v", ps)
	}
	d := st.GetDaemon()
	if d.GetPid() != int32(os.Getpid()) || d.GetContainment() != "pgroup" || d.GetVersion() == "" || d.GetGoroutines() <= 0 ||
		d.GetRssBytes() <= 0 || d.GetUptime().AsDuration() <= 0 {
		t.Fatalf("daemon stats %v", d)
	}
	if st.GetOutput().GetRingBytes() != manager.DefaultRingSize || st.GetEvents().GetRingSize() != 4096 {
		t.Fatalf("output %v events %v", st.GetOutput(), st.GetEvents())
	}

	cl, err := h.c.CleanupFinished(ctx, &pb.CleanupFinishedRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := cl.GetRemovedIds()
	slices.Sort(got)
	want := []string{a.GetId(), b.GetId(), c.GetId()}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("cleanup removed %v; want %v", got, want)
	}
	if l, err := h.c.ListProcesses(ctx, &pb.ListProcessesRequest{}); err != nil || len(l.GetProcesses()) != 0 {
		t.Fatalf("table after cleanup: %v %v", l, err)
	}
	_, err = h.c.GetProcess(ctx, &pb.GetProcessRequest{Target: &pb.GetProcessRequest_Id{Id: a.GetId()}})
	wantStatus(t, "get a removed process", err, codes.NotFound, a.GetId())

	// A selector by ids answers for each id, removed ones included, rather
	// than failing the whole call with NOT_FOUND.
	sr, err := h.c.StopProcess(ctx, &pb.StopProcessRequest{Target: &pb.StopProcessRequest_Selector{Selector: &pb.Selector{Ids: []string{a.GetId()}}}})
	if err != nil || len(sr.GetResults()) != 1 || sr.GetResults()[0].GetProcess().GetId() != a.GetId() ||
		sr.GetResults()[0].GetProcess().GetState() != pb.ProcessState_PROCESS_STATE_UNSPECIFIED ||
		!strings.Contains(sr.GetResults()[0].GetError(), "record was removed") {
		t.Fatalf("stop a removed id by selector: %v %v", sr, err)
	}
}

// Every error kind of the core reaches the client as its own code.
func TestErrorKindsMapToCodes(t *testing.T) {
	h := newHarness(t, manager.Config{MaxProcesses: 1}, nil, false)
	ctx := testutil.Context(t)
	h.start(t, &pb.ProcessSpec{Command: []string{"sleep", "300"}})
	start := func(cmd ...string) error {
		_, err := h.c.StartProcess(ctx, &pb.StartProcessRequest{Spec: &pb.ProcessSpec{Command: cmd}})
		return err
	}
	wantStatus(t, "over the process limit", start("true"), codes.ResourceExhausted, "limit")
	wantStatus(t, "not executable", start("/etc/passwd"), codes.PermissionDenied, `"/etc/passwd"`)
	wantStatus(t, "a directory", start("/"), codes.PermissionDenied, "directory")

	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h.m.Shutdown(sctx)
	wantStatus(t, "start while shutting down", start("true"), codes.Unavailable, "shutting down")
}

// A handler that panics answers INTERNAL and the server keeps serving
// (here a server built without a manager, so process calls panic).
func TestPanicsAreRecovered(t *testing.T) {
	bus := events.NewBus(16, nil)
	defer bus.Close()
	log, closeLog := serverLogger(t)
	broken := server.New(server.Options{Events: bus, Logger: log, Access: ownAccess()})
	lis := testListener(t)
	served := make(chan error, 1)
	go func() { served <- broken.GRPC.Serve(lis) }()
	conn := dialTest(t, lis)
	t.Cleanup(func() {
		broken.GRPC.Stop()
		<-served
		closeLog()
	})
	c := pb.NewProcessServiceClient(conn)
	ctx := testutil.Context(t)
	for range 2 {
		_, err := c.GetProcess(ctx, &pb.GetProcessRequest{Target: &pb.GetProcessRequest_Id{Id: "p-1"}})
		wantStatus(t, "unary handler panic", err, codes.Internal, "/procd.v1.ProcessService/GetProcess", "recovered")
		s, err := c.ReadOutput(ctx, &pb.ReadOutputRequest{Target: &pb.ReadOutputRequest_Id{Id: "p-1"}})
		if err == nil {
			_, err = s.Recv()
		}
		wantStatus(t, "stream handler panic", err, codes.Internal, "/procd.v1.ProcessService/ReadOutput", "recovered")
	}
	// Calls that do not need the manager still work.
	if _, err := c.ListProcesses(ctx, &pb.ListProcessesRequest{States: []pb.ProcessState{9}}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("list with a bad state after the panics: %v", err)
	}
	hc, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health after the panics: %v %v", hc, err)
	}
}
