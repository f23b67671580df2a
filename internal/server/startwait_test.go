package server_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/testutil"
	pb "github.com/procd/procd/proto/procd/v1"
)

// startWait is StartProcess with wait set.
func (h *harness) startWait(ctx context.Context, spec *pb.ProcessSpec, w *pb.StartWait) (*pb.StartProcessResponse, error) {
	return h.c.StartProcess(ctx, &pb.StartProcessRequest{Spec: spec, Wait: w})
}

// running is the record of the one process named name, polled until it
// runs.
func (h *harness) running(t *testing.T, name string) *pb.Process {
	t.Helper()
	return testutil.WaitForValue(t, name+" running", func() *pb.Process {
		resp, err := h.c.ListProcesses(testutil.Context(t), &pb.ListProcessesRequest{Name: name})
		if err != nil || len(resp.GetProcesses()) != 1 {
			return nil
		}
		return resp.GetProcesses()[0]
	}, func(p *pb.Process) bool { return p.GetState() == pb.ProcessState_PROCESS_STATE_RUNNING })
}

// stillRunning fails unless the process is still running after a further
// wait of d: a wait cut short must not have ended it.
func (h *harness) stillRunning(t *testing.T, id string, d time.Duration) {
	t.Helper()
	resp, err := h.c.WaitForProcess(testutil.Context(t), &pb.WaitForProcessRequest{
		Target: &pb.WaitForProcessRequest_Id{Id: id}, Timeout: durationpb.New(d)})
	if err != nil || !resp.GetTimedOut() || resp.GetProcess().GetState() != pb.ProcessState_PROCESS_STATE_RUNNING {
		t.Fatalf("%s after the wait was cut short: %v %v; want it still running", id, resp, err)
	}
}

// StartProcess with wait returns the final record (exit status and output
// recorded) in one call; an exec failure fails it as without wait.
func TestStartProcessWaitReturnsTheFinalRecord(t *testing.T) {
	h := newHarness(t, manager.Config{}, nil, false)
	resp, err := h.startWait(testutil.Context(t), &pb.ProcessSpec{Command: []string{"sh", "-c", "echo hi; echo err >&2; exit 3"}}, &pb.StartWait{})
	if err != nil {
		t.Fatal(err)
	}
	p := resp.GetProcess()
	if resp.GetTimedOut() || p.GetState() != pb.ProcessState_PROCESS_STATE_EXITED || p.GetExit().GetExitCode() != 3 ||
		p.GetStdout().GetTotalBytes() != 3 || p.GetStderr().GetTotalBytes() != 4 || p.GetFinishedAt() == nil {
		t.Fatalf("start with wait: %v", resp)
	}
	// The same record WaitForProcess gives.
	if again := h.wait(t, p.GetId()); again.GetFinishedAt().AsTime() != p.GetFinishedAt().AsTime() {
		t.Fatalf("WaitForProcess after: %v; start with wait gave %v", again, p)
	}

	_, plain := h.c.StartProcess(testutil.Context(t), &pb.StartProcessRequest{Spec: &pb.ProcessSpec{Command: []string{"/nonexistent/x"}}})
	_, waited := h.startWait(testutil.Context(t), &pb.ProcessSpec{Command: []string{"/nonexistent/x"}}, &pb.StartWait{})
	if plain == nil || status.Code(waited) != status.Code(plain) {
		t.Fatalf("exec failure with wait: %v; without: %v", waited, plain)
	}
}

// wait.timeout returns the live record with timed_out, and the process
// runs on.
func TestStartProcessWaitTimeout(t *testing.T) {
	h := newHarness(t, manager.Config{}, nil, false)
	t0 := time.Now()
	resp, err := h.startWait(testutil.Context(t), &pb.ProcessSpec{Command: []string{"sleep", "300"}},
		&pb.StartWait{Timeout: durationpb.New(100 * time.Millisecond)})
	if err != nil || !resp.GetTimedOut() || resp.GetProcess().GetState() != pb.ProcessState_PROCESS_STATE_RUNNING || resp.GetProcess().GetExit() != nil {
		t.Fatalf("start with a wait timeout: %v %v", resp, err)
	}
	if d := time.Since(t0); d < 100*time.Millisecond {
		t.Fatalf("a 100ms wait timeout returned after %v", d)
	}
	h.stillRunning(t, resp.GetProcess().GetId(), 200*time.Millisecond)

	// A process that ends within the timeout: its final record, not timed out.
	resp, err = h.startWait(testutil.Context(t), &pb.ProcessSpec{Command: []string{"true"}}, &pb.StartWait{Timeout: durationpb.New(time.Minute)})
	if err != nil || resp.GetTimedOut() || resp.GetProcess().GetState() != pb.ProcessState_PROCESS_STATE_EXITED {
		t.Fatalf("start with wait of a short process: %v %v", resp, err)
	}
}

// until_ready returns once the readiness check passes (the process runs
// on), or with the final record when the process ends first.
func TestStartProcessWaitUntilReady(t *testing.T) {
	h := newHarness(t, manager.Config{}, nil, false)
	resp, err := h.startWait(testutil.Context(t), &pb.ProcessSpec{Command: []string{"sh", "-c", "sleep 0.2; echo up; sleep 300"},
		Ready: &pb.ReadinessProbe{Log: "^up$"}}, &pb.StartWait{UntilReady: true})
	p := resp.GetProcess()
	if err != nil || resp.GetTimedOut() || p.GetState() != pb.ProcessState_PROCESS_STATE_RUNNING || p.GetReadyAt() == nil {
		t.Fatalf("start until ready: %v %v", resp, err)
	}
	h.stillRunning(t, p.GetId(), 100*time.Millisecond)

	resp, err = h.startWait(testutil.Context(t), &pb.ProcessSpec{Command: []string{"sh", "-c", "exit 4"},
		Ready: &pb.ReadinessProbe{Log: "^up$"}}, &pb.StartWait{UntilReady: true})
	p = resp.GetProcess()
	if err != nil || resp.GetTimedOut() || p.GetState() != pb.ProcessState_PROCESS_STATE_EXITED || p.GetReadyAt() != nil || p.GetExit().GetExitCode() != 4 {
		t.Fatalf("start until ready of a process that ends first: %v %v", resp, err)
	}

	// Not ready within the timeout: the live record, still starting.
	resp, err = h.startWait(testutil.Context(t), &pb.ProcessSpec{Command: []string{"sleep", "300"},
		Ready: &pb.ReadinessProbe{Log: "^up$"}}, &pb.StartWait{UntilReady: true, Timeout: durationpb.New(100 * time.Millisecond)})
	if err != nil || !resp.GetTimedOut() || resp.GetProcess().GetState() != pb.ProcessState_PROCESS_STATE_STARTING {
		t.Fatalf("start until ready, timed out: %v %v", resp, err)
	}
}

// The RPC's deadline or a cancellation ends the call, not the process.
func TestStartProcessWaitCutShortKeepsTheProcess(t *testing.T) {
	h := newHarness(t, manager.Config{}, nil, false)
	ctx, cancel := context.WithTimeout(testutil.Context(t), 300*time.Millisecond)
	defer cancel()
	_, err := h.startWait(ctx, &pb.ProcessSpec{Command: []string{"sleep", "300"}, Name: "deadline"}, &pb.StartWait{})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("start with wait past the deadline: %v; want DEADLINE_EXCEEDED", err)
	}
	h.stillRunning(t, h.running(t, "deadline").GetId(), 300*time.Millisecond)

	ctx, cancel = context.WithCancel(testutil.Context(t))
	done := make(chan error, 1)
	go func() {
		_, err := h.startWait(ctx, &pb.ProcessSpec{Command: []string{"sleep", "300"}, Name: "cancelled"}, &pb.StartWait{})
		done <- err
	}()
	p := h.running(t, "cancelled")
	cancel()
	if err := <-done; status.Code(err) != codes.Canceled {
		t.Fatalf("start with wait, cancelled: %v; want CANCELLED", err)
	}
	h.stillRunning(t, p.GetId(), 300*time.Millisecond)
}

// A daemon shutting down ends the wait with UNAVAILABLE naming the process.
func TestStartProcessWaitEndsAtShutdown(t *testing.T) {
	h := newHarness(t, manager.Config{}, nil, false)
	done := make(chan error, 1)
	go func() {
		_, err := h.startWait(testutil.Context(t), &pb.ProcessSpec{Command: []string{"sleep", "300"}, Name: "shut"}, &pb.StartWait{})
		done <- err
	}()
	p := h.running(t, "shut")
	h.srv.BeginShutdown()
	wantStatus(t, "wait at shutdown", <-done, codes.Unavailable, p.GetId(), "was started", "shutting down")
}

// A bad wait option is INVALID_ARGUMENT naming the field, and nothing
// starts (the refusal is counted as a start failure).
func TestStartProcessWaitBadInput(t *testing.T) {
	fake := &fakeProcesses{info: manager.Info{ID: "p-1", PID: 1, State: manager.Running}}
	c := fakeServer(t, fake)
	for _, tc := range []struct {
		name  string
		w     *pb.StartWait
		parts []string
	}{
		{"negative", &pb.StartWait{Timeout: durationpb.New(-time.Second)}, []string{"wait.timeout", "negative"}},
		{"zero", &pb.StartWait{Timeout: durationpb.New(0)}, []string{"wait.timeout", "must be positive"}},
		{"invalid", &pb.StartWait{Timeout: &durationpb.Duration{Seconds: 1, Nanos: -5}}, []string{"wait.timeout"}},
	} {
		_, err := c.StartProcess(testutil.Context(t), &pb.StartProcessRequest{Spec: &pb.ProcessSpec{Command: []string{"true"}}, Wait: tc.w})
		wantStatus(t, tc.name, err, codes.InvalidArgument, tc.parts...)
	}
	if len(fake.specs) != 0 || fake.failed != 3 {
		t.Errorf("after bad wait options: %d starts, %d failures counted; want 0, 3", len(fake.specs), fake.failed)
	}
}
