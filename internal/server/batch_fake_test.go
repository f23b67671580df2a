package server_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"

	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/executor"
	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/server"
	"github.com/procd/procd/internal/testutil"
	pb "github.com/procd/procd/proto/procd/v1"
)

// fastBatches is a batch executor that makes every job fail attempts-1
// times and then succeed, as fast as it can report it, without spawning.
type fastBatches struct {
	server.Batches
	attempts int
	ran      chan struct{} // closed when Run has returned its summary
}

func (f *fastBatches) Run(_ context.Context, jobs []manager.Spec, _ executor.Options, started func(string), progress func(executor.Attempt)) (executor.Summary, error) {
	defer close(f.ran)
	started("b-1")
	sum := executor.Summary{BatchID: "b-1", Succeeded: len(jobs), Retries: len(jobs) * (f.attempts - 1), Wall: time.Second}
	for n := 1; n <= f.attempts; n++ {
		for j := range jobs {
			info := manager.Info{ID: fmt.Sprintf("p-%d", n*len(jobs)+j), PID: 1000 + j, Name: "job", Command: jobs[j].Command,
				Labels: map[string]string{"procd.batch": "b-1", "procd.job": fmt.Sprint(j)}, State: manager.Running}
			progress(executor.Attempt{Index: j, Attempt: n, Info: info, Started: true})
			info.State = manager.Exited
			info.Exit = &manager.Exit{Reason: manager.ReasonExited, Code: 1}
			out := executor.ExitCode
			if n == f.attempts {
				info.Exit.Code, out = 0, executor.Succeeded
			}
			progress(executor.Attempt{Index: j, Attempt: n, Info: info, Outcome: out, Retry: n < f.attempts, Delay: time.Millisecond})
		}
	}
	for j := range jobs {
		sum.Jobs = append(sum.Jobs, executor.Result{Index: j, Outcome: executor.Succeeded, Attempts: f.attempts})
	}
	return sum, nil
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Issue 15: a RunBatch client that stops reading while many fast jobs
// retry costs the daemon memory bounded by the batch's size, not by
// jobs × attempts: it then gets coalesced progress (each job's last
// attempt complete) and the correct summary.
func TestRunBatchStalledReaderIsBounded(t *testing.T) {
	const jobs, attempts = 2000, 50
	fake := &fastBatches{attempts: attempts, ran: make(chan struct{})}
	bus := events.NewBus(16, nil)
	srv := server.New(server.Options{Processes: &fakeProcesses{}, Batches: fake, Events: bus, Logger: zaptest.NewLogger(t), Access: ownAccess()})
	lis := testListener(t)
	served := make(chan error, 1)
	go func() { served <- srv.GRPC.Serve(lis) }()
	t.Cleanup(func() {
		srv.GRPC.Stop()
		<-served
		bus.Close()
	})
	// A small fixed window: the stalled client's transport buffers little.
	conn := dialTest(t, lis, grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	req := &pb.RunBatchRequest{}
	for range jobs {
		req.Jobs = append(req.Jobs, &pb.ProcessSpec{Command: []string{"fuzz", "--seed", "42"}})
	}
	before := heapInUse()
	// The stream lasts the whole batch, 100,000 attempts: more than one
	// step's Deadline on a loaded 2-core machine (it ran out at load 28
	// under -race).
	ctx, cancel := context.WithTimeout(context.Background(), 4*testutil.Deadline)
	defer cancel()
	stream, err := pb.NewBatchServiceClient(conn).RunBatch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-fake.ran:
	case <-time.After(60 * time.Second):
		t.Fatal("the batch's workers were held up by a client that does not read")
	}
	// Everything the batch reported is now either in the transport's
	// window or pending in the server: at most three updates per job.
	// (An unbounded queue held all 200,000 here, hundreds of MiB.)
	if grown := int64(heapInUse()) - int64(before); grown > 64<<20 {
		t.Errorf("the heap grew by %d MiB while the client did not read", grown>>20)
	}
	var msgs int
	last := map[uint32]*pb.JobAttempt{}
	var sum *pb.BatchSummary
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		msgs++
		switch k := m.GetKind().(type) {
		case *pb.RunBatchResponse_AttemptStarted:
			last[k.AttemptStarted.GetIndex()] = k.AttemptStarted
		case *pb.RunBatchResponse_AttemptFinished:
			last[k.AttemptFinished.GetIndex()] = k.AttemptFinished
		case *pb.RunBatchResponse_Summary:
			sum = k.Summary
		}
	}
	t.Logf("%d messages for %d attempt updates", msgs, 2*jobs*attempts)
	if msgs > jobs*attempts/4 {
		t.Errorf("%d messages: the lagging client's progress was not coalesced", msgs)
	}
	if sum == nil || sum.GetSucceeded() != jobs || sum.GetRetries() != jobs*(attempts-1) || len(sum.GetJobs()) != jobs {
		t.Fatalf("summary %v", sum)
	}
	for j := range uint32(jobs) {
		if a := last[j]; a == nil || a.GetAttempt() != attempts || a.GetOutcome() != pb.JobOutcome_JOB_OUTCOME_SUCCEEDED || a.GetWillRetry() {
			t.Fatalf("job %d: last progress %v, want its final attempt's end", j, a)
		}
	}
}
