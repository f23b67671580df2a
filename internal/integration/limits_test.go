//go:build linux

package integration

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/procd/procd/proto/procd/v1"
)

// At the file descriptor ceiling a start fails with RESOURCE_EXHAUSTED
// saying what ran out, the daemon does not crash, keeps answering on the
// open connection, and starts again once processes are removed. The
// daemon's limit is lowered with prlimit so the ceiling is reached in a
// few dozen starts (the benchmark's P3 row does it at the real limit).
func TestFileDescriptorCeiling(t *testing.T) {
	d := startDaemon(t)
	c := dialDaemon(t, d)
	ctx := context.Background()
	if _, err := c.ListProcesses(ctx, &pb.ListProcessesRequest{}); err != nil {
		t.Fatal(err) // connect before the ceiling: a new connection needs an fd too
	}
	lim := unix.Rlimit{Cur: 256, Max: 256}
	if err := unix.Prlimit(d.cmd.Process.Pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		t.Skipf("prlimit: %v", err)
	}
	var ids []string
	var refused error
	for len(ids) < 1000 {
		r, err := c.StartProcess(ctx, &pb.StartProcessRequest{Spec: &pb.ProcessSpec{Command: []string{"sleep", "300"}}})
		if err != nil {
			refused = err
			break
		}
		ids = append(ids, r.GetProcess().GetId())
	}
	if refused == nil {
		t.Fatalf("1000 processes started under a 256 descriptor limit")
	}
	if status.Code(refused) != codes.ResourceExhausted || !strings.Contains(refused.Error(), "out of file descriptors") {
		t.Fatalf("start at the ceiling: %v; want RESOURCE_EXHAUSTED naming file descriptors", refused)
	}
	t.Logf("%d started, then: %v", len(ids), refused)
	list, err := c.ListProcesses(ctx, &pb.ListProcessesRequest{})
	if err != nil || len(list.GetProcesses()) != len(ids) {
		t.Fatalf("list at the ceiling: %v, %d processes; want %d", err, len(list.GetProcesses()), len(ids))
	}
	for _, id := range ids[:10] {
		if _, err := c.StopProcess(ctx, &pb.StopProcessRequest{Target: &pb.StopProcessRequest_Id{Id: id}, Signal: "SIGKILL"}); err != nil {
			t.Fatalf("stop %s: %v", id, err)
		}
		if _, err := c.RemoveProcess(ctx, &pb.RemoveProcessRequest{Target: &pb.RemoveProcessRequest_Id{Id: id}}); err != nil {
			t.Fatalf("remove %s: %v", id, err)
		}
	}
	if _, err := c.StartProcess(ctx, &pb.StartProcessRequest{Spec: &pb.ProcessSpec{Command: []string{"true"}}}); err != nil {
		t.Fatalf("start after freeing descriptors: %v", err)
	}
}
