//go:build linux

package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procd/procd/internal/testutil"
	pb "github.com/procd/procd/proto/procd/v1"
)

// StartProcess with wait against the real daemon, with either containment:
// the final record comes once the whole tree is gone and its output is
// recorded; concurrent one-call clients each get their own process's
// record; a wait cut short by the RPC's deadline leaves the process running.
func TestStartProcessWaitInOneCall(t *testing.T) {
	for _, containment := range []string{"cgroup", "pgroup"} {
		t.Run(containment, func(t *testing.T) {
			d := startDaemon(t, "--containment", containment)
			c := dialDaemon(t, d)
			oneCall := func(ctx context.Context, spec *pb.ProcessSpec) (*pb.StartProcessResponse, error) {
				return c.StartProcess(ctx, &pb.StartProcessRequest{Spec: spec, Wait: &pb.StartWait{}})
			}

			// The leader exits at once, leaving a subshell and its sleep,
			// which procd ends with the tree (kill mode group): the record
			// comes back settled, the leftovers counted (the sleep, unless the subshell had not
			// forked it yet).
			resp, err := oneCall(ctxTimeout(t), &pb.ProcessSpec{Command: []string{"sh", "-c", "(sleep 30; echo late) & echo early"}})
			p := resp.GetProcess()
			if err != nil || p.GetState() != pb.ProcessState_PROCESS_STATE_EXITED || p.GetExit().GetExitCode() != 0 ||
				p.GetExit().GetLeftoversKilled() < 1 || p.GetStdout().GetTotalBytes() != int64(len("early\n")) {
				t.Fatalf("one call on a tree: %v %v; want EXITED, early recorded, the leftovers killed", resp, err)
			}

			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 10 {
						code := g*10 + i
						resp, err := oneCall(ctxTimeout(t), &pb.ProcessSpec{Command: []string{"sh", "-c", fmt.Sprintf("exit %d", code)}})
						if err != nil || resp.GetProcess().GetExit().GetExitCode() != int32(code) {
							t.Errorf("client %d, start %d: %v %v; want exit %d", g, i, resp, err, code)
							return
						}
					}
				})
			}
			wg.Wait()

			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			_, err = oneCall(ctx, &pb.ProcessSpec{Command: []string{"sleep", "60"}, Name: "outlives"})
			if status.Code(err) != codes.DeadlineExceeded {
				t.Fatalf("one call past its deadline: %v; want DEADLINE_EXCEEDED", err)
			}
			list, err := c.ListProcesses(ctxTimeout(t), &pb.ListProcessesRequest{Name: "outlives"})
			if err != nil || len(list.GetProcesses()) != 1 {
				t.Fatalf("list: %v %v", list, err)
			}
			id := list.GetProcesses()[0].GetId()
			w, err := c.WaitForProcess(ctxTimeout(t), &pb.WaitForProcessRequest{Target: &pb.WaitForProcessRequest_Id{Id: id}, Timeout: durationpb.New(300 * time.Millisecond)})
			if err != nil || !w.GetTimedOut() || !alive(int(w.GetProcess().GetPid())) {
				t.Fatalf("%s after its one call's deadline: %v %v; want it running", id, w, err)
			}
			d.mustCtl("stop", id)
			testutil.WaitFor(t, "the stopped process to be gone", func() bool { return !alive(int(w.GetProcess().GetPid())) })
		})
	}
}
