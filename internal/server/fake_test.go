package server_test

import (
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/procattr"
	"github.com/procd/procd/internal/server"
	"github.com/procd/procd/internal/testutil"
	pb "github.com/procd/procd/proto/procd/v1"
)

// fakeProcesses stands in for the manager: the wire layer is tested
// without spawning anything. It embeds the interface, so a method its
// test does not set panics (and the server answers INTERNAL).
type fakeProcesses struct {
	server.Processes

	mu     sync.Mutex
	specs  []manager.Spec // what Start was given
	failed int            // CountStartFailure calls
	info   manager.Info   // what Start and Get answer
}

func (f *fakeProcesses) Start(s manager.Spec) (manager.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.specs = append(f.specs, s)
	return f.info, nil
}

func (f *fakeProcesses) CountStartFailure() {
	f.mu.Lock()
	f.failed++
	f.mu.Unlock()
}

func (f *fakeProcesses) Get(ref manager.Ref) (manager.Info, error) {
	if ref.ID != f.info.ID {
		return manager.Info{}, errdefs.Errorf(errdefs.ErrNotFound, "no process with id %q", ref.ID)
	}
	return f.info, nil
}

// fakeServer serves procs on a Unix socket and returns a client.
func fakeServer(t *testing.T, procs server.Processes) pb.ProcessServiceClient {
	t.Helper()
	bus := events.NewBus(16, nil)
	srv := server.New(server.Options{Processes: procs, Events: bus, Logger: zaptest.NewLogger(t), Access: ownAccess()})
	lis := testListener(t)
	served := make(chan error, 1)
	go func() { served <- srv.GRPC.Serve(lis) }()
	t.Cleanup(func() {
		srv.GRPC.Stop()
		<-served
		bus.Close()
	})
	return pb.NewProcessServiceClient(dialTest(t, lis))
}

// A start request reaches the core as the spec it describes (the signal
// by number, rlimits by resource, the terminal's size), and the record
// comes back converted, without a process ever being spawned.
func TestStartProcessThroughAFake(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	fake := &fakeProcesses{info: manager.Info{
		ID: "p-7", PID: 4242, Name: "fuzz", State: manager.Exited, KillMode: manager.KillLeader,
		StartedAt: start, FinishedAt: start.Add(3 * time.Second),
		Exit: &manager.Exit{Reason: manager.ReasonHung, Code: -1, Signal: syscall.SIGKILL},
	}}
	c := fakeServer(t, fake)
	resp, err := c.StartProcess(testutil.Context(t), &pb.StartProcessRequest{Spec: &pb.ProcessSpec{
		Command: []string{"fuzz", "-x"}, Name: "fuzz", StopSignal: "hup", KillMode: pb.KillMode_KILL_MODE_LEADER,
		Rlimits: []*pb.Rlimit{{Name: "nofile", Soft: 64, Hard: 128}},
		Tty:     true, WindowSize: &pb.WindowSize{Rows: 30, Cols: 100},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fake.specs) != 1 {
		t.Fatalf("Start called %d times", len(fake.specs))
	}
	s := fake.specs[0]
	nofile, _ := procattr.RlimitByName("NOFILE")
	switch {
	case s.StopSignal != syscall.SIGHUP:
		t.Errorf("stop signal %v, want SIGHUP", s.StopSignal)
	case s.KillMode != manager.KillLeader:
		t.Errorf("kill mode %v", s.KillMode)
	case len(s.Limits.Rlimits) != 1 || s.Limits.Rlimits[0] != (procattr.Rlimit{Resource: nofile, Soft: 64, Hard: 128}):
		t.Errorf("rlimits %+v", s.Limits.Rlimits)
	case s.TTY == nil || *s.TTY != (procattr.WindowSize{Rows: 30, Cols: 100}):
		t.Errorf("tty %+v", s.TTY)
	case s.Caller == nil:
		t.Error("the spec does not say who asked")
	}
	p := resp.GetProcess()
	if p.GetId() != "p-7" || p.GetState() != pb.ProcessState_PROCESS_STATE_EXITED || p.GetKillMode() != pb.KillMode_KILL_MODE_LEADER ||
		p.GetExit().GetReason() != pb.ExitReason_EXIT_REASON_HUNG || p.GetExit().GetSignal() != "SIGKILL" || p.GetDuration().AsDuration() != 3*time.Second {
		t.Errorf("record %v", p)
	}

	// A request the server cannot convert never reaches Start, but is counted.
	_, err = c.StartProcess(testutil.Context(t), &pb.StartProcessRequest{Spec: &pb.ProcessSpec{Command: []string{"x"}, StopSignal: "SIGBOGUS"}})
	wantStatus(t, "bad signal", err, codes.InvalidArgument, "spec.stop_signal", "SIGBOGUS")
	if len(fake.specs) != 1 || fake.failed != 1 {
		t.Errorf("after a bad request: %d starts, %d failures counted; want 1, 1", len(fake.specs), fake.failed)
	}

	// Core errors map to their codes in one place.
	_, err = c.GetProcess(testutil.Context(t), &pb.GetProcessRequest{Target: &pb.GetProcessRequest_Id{Id: "p-8"}})
	wantStatus(t, "unknown id", err, codes.NotFound, `"p-8"`)
	// A call the fake does not implement is a recovered panic, not a crash.
	_, err = c.RemoveProcess(testutil.Context(t), &pb.RemoveProcessRequest{Target: &pb.RemoveProcessRequest_Id{Id: "p-7"}})
	wantStatus(t, "unimplemented fake", err, codes.Internal, "RemoveProcess")
}
