//go:build linux

package integration

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

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
	// Stopping needs descriptors too (cgroup.kill, cgroup.procs). Lower
	// the limit below what is in use, so not one descriptor is free: every
	// tree must still end, none left running, and the limit restored lets
	// the daemon start again.
	tight := unix.Rlimit{Cur: lowestFreeFD(t, d.cmd.Process.Pid), Max: 256}
	if err := unix.Prlimit(d.cmd.Process.Pid, unix.RLIMIT_NOFILE, &tight, nil); err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range list.GetProcesses() {
		pids = append(pids, int(p.GetPid()))
	}
	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := c.StopProcess(stopCtx, &pb.StopProcessRequest{Target: &pb.StopProcessRequest_Selector{Selector: &pb.Selector{All: true}}, Grace: durationpb.New(0)})
	if err != nil {
		t.Fatalf("stop all at the ceiling: %v", err)
	}
	for _, r := range res.GetResults() {
		if r.GetError() != "" || r.GetProcess().GetState() != pb.ProcessState_PROCESS_STATE_EXITED {
			t.Fatalf("stop at the ceiling: %v", r)
		}
	}
	for _, p := range pids {
		if alive(p) {
			t.Fatalf("process %d alive after stop all at the descriptor ceiling", p)
		}
	}
	if err := unix.Prlimit(d.cmd.Process.Pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartProcess(ctx, &pb.StartProcessRequest{Spec: &pb.ProcessSpec{Command: []string{"true"}}}); err != nil {
		t.Fatalf("start after freeing descriptors: %v", err)
	}
}

// lowestFreeFD is the lowest descriptor number pid does not use: with its
// limit set there, pid can open nothing new.
func lowestFreeFD(t *testing.T, pid int) uint64 {
	t.Helper()
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	used := map[uint64]bool{}
	for _, e := range entries {
		n, _ := strconv.ParseUint(e.Name(), 10, 64)
		used[n] = true
	}
	var fd uint64
	for used[fd] {
		fd++
	}
	return fd
}
