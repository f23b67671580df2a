//go:build linux

package server_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/testutil"
	pb "github.com/procd/procd/proto/procd/v1"
)

// Readiness over the wire: STARTING with the probe and its defaults,
// WaitForProcess until_ready returns at READY, and bad probes are
// INVALID_ARGUMENT naming the field.
func TestReadinessOverTheWire(t *testing.T) {
	h := newHarness(t, manager.Config{}, nil, false)
	p := h.start(t, &pb.ProcessSpec{Command: []string{"sh", "-c", "sleep 0.3; echo up; sleep 300"},
		Ready: &pb.ReadinessProbe{Log: "^up$"}, StartupTimeout: durationpb.New(time.Minute)})
	if p.GetState() != pb.ProcessState_PROCESS_STATE_STARTING || p.GetReadyAt() != nil || p.GetReady().GetLog() != "^up$" ||
		p.GetStartupTimeout().AsDuration() != time.Minute || p.GetReady().GetInterval().AsDuration() != manager.DefaultReadyInterval {
		t.Fatalf("started: %v", p)
	}
	poll, err := h.c.WaitForProcess(testutil.Context(t), &pb.WaitForProcessRequest{
		Target: &pb.WaitForProcessRequest_Id{Id: p.GetId()}, UntilReady: true, Timeout: durationpb.New(0)})
	if err != nil || !poll.GetTimedOut() {
		t.Fatalf("poll while starting: %v %v", poll, err)
	}
	resp, err := h.c.WaitForProcess(testutil.Context(t), &pb.WaitForProcessRequest{
		Target: &pb.WaitForProcessRequest_Id{Id: p.GetId()}, UntilReady: true})
	got := resp.GetProcess()
	if err != nil || resp.GetTimedOut() || got.GetState() != pb.ProcessState_PROCESS_STATE_RUNNING || got.GetReadyAt() == nil {
		t.Fatalf("wait until ready: %v %v", resp, err)
	}
	plain := h.start(t, &pb.ProcessSpec{Command: []string{"sleep", "300"}})
	if plain.GetReady() != nil || plain.GetReadyAt() == nil || plain.GetState() != pb.ProcessState_PROCESS_STATE_RUNNING {
		t.Fatalf("without a probe: %v", plain)
	}

	for _, tc := range []struct {
		spec *pb.ProcessSpec
		want string
	}{
		{&pb.ProcessSpec{Command: []string{"true"}, Ready: &pb.ReadinessProbe{Tcp: "80", Log: "x"}}, "exactly one"},
		{&pb.ProcessSpec{Command: []string{"true"}, Ready: &pb.ReadinessProbe{}}, "exactly one"},
		{&pb.ProcessSpec{Command: []string{"true"}, StartupTimeout: durationpb.New(time.Second)}, "spec.startup_timeout needs spec.ready"},
		{&pb.ProcessSpec{Command: []string{"true"}, Ready: &pb.ReadinessProbe{Http: "http://10.0.0.1/"}}, "not loopback"},
		{&pb.ProcessSpec{Command: []string{"true"}, Ready: &pb.ReadinessProbe{Tcp: "80", Interval: durationpb.New(-time.Second)}}, "spec.ready.interval"},
	} {
		_, err := h.c.StartProcess(testutil.Context(t), &pb.StartProcessRequest{Spec: tc.spec})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want INVALID_ARGUMENT with %q", tc.spec.GetReady(), err, tc.want)
		}
	}
}
