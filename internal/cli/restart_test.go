package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/procd/procd/proto/procd/v1"
)

func restartPolicyFrom(t *testing.T, args ...string) (*pb.RestartPolicy, error) {
	t.Helper()
	var f restartFlags
	fs := pflag.NewFlagSet("start", pflag.ContinueOnError)
	f.bind(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return f.policy()
}

func TestRestartFlags(t *testing.T) {
	p, err := restartPolicyFrom(t, "--restart", "on-failure", "--restart-max", "5/1m", "--restart-delay", "100ms",
		"--restart-max-delay", "1s", "--restart-jitter", "0", "--restart-on", "nonzero,hung,startup-timeout")
	if err != nil {
		t.Fatal(err)
	}
	if p.GetMode() != pb.RestartMode_RESTART_MODE_ON_FAILURE || p.GetLimit() != 5 || p.GetWindow().AsDuration() != time.Minute ||
		p.GetDelay().AsDuration() != 100*time.Millisecond || p.GetMaxDelay().AsDuration() != time.Second ||
		p.Jitter == nil || p.GetJitter() != 0 || len(p.GetOn()) != 3 || p.ResetAfter != nil || p.GetMultiplier() != 0 {
		t.Fatalf("policy %v", p)
	}
	if p, err := restartPolicyFrom(t); p != nil || err != nil {
		t.Fatalf("no flags: %v %v", p, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--restart-max", "3/10s"}, "--restart-max need --restart on-failure or always"},
		{[]string{"--restart", "sometimes"}, `--restart "sometimes"`},
		{[]string{"--restart", "always", "--restart-on", "hung"}, "only applies to --restart on-failure"},
		{[]string{"--restart", "on-failure", "--restart-on", "segv"}, `--restart-on "segv"`},
	} {
		if _, err := restartPolicyFrom(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
	if _, err := restartPolicyFrom(t, "--restart", "always", "--restart-max", "5"); err == nil {
		t.Error("--restart-max 5 accepted")
	}
}

func TestStatusShowsRunsAndRestartState(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	code := func(c int32) *int32 { return &c }
	zero, limit := 0.0, int32(5)
	p := &pb.Process{Id: "p-1", State: pb.ProcessState_PROCESS_STATE_BACKOFF, Attempt: 2,
		Runs: []*pb.ProcessRun{
			{Attempt: 1, Pid: 10, StartedAt: timestamppb.New(t0), FinishedAt: timestamppb.New(t0.Add(500 * time.Millisecond)),
				Exit: &pb.ExitStatus{Reason: pb.ExitReason_EXIT_REASON_EXITED, ExitCode: code(1)}},
			{Attempt: 2, Pid: 11, StartedAt: timestamppb.New(t0.Add(600 * time.Millisecond)), FinishedAt: timestamppb.New(t0.Add(1100 * time.Millisecond)),
				Exit: &pb.ExitStatus{Reason: pb.ExitReason_EXIT_REASON_HUNG, SignalNumber: code(15), Signal: "SIGTERM"}},
		},
		Restart: &pb.RestartStatus{Restarts: 1, RecentRestarts: 1, NextRestartAt: timestamppb.New(t0.Add(1300 * time.Millisecond)),
			Delay: durationpb.New(200 * time.Millisecond),
			Policy: &pb.RestartPolicy{Mode: pb.RestartMode_RESTART_MODE_ON_FAILURE, On: []pb.RestartFailure{pb.RestartFailure_RESTART_FAILURE_HUNG},
				Delay: durationpb.New(100 * time.Millisecond), Multiplier: 2, MaxDelay: durationpb.New(time.Second), Jitter: &zero,
				Limit: &limit, Window: durationpb.New(time.Minute), ResetAfter: durationpb.New(time.Minute)}},
	}
	var b bytes.Buffer
	printRestart(&b, p)
	out := b.String()
	for _, want := range []string{
		"restart:\ton-failure (hung), delay 100ms ×2 up to 1s, jitter 0, at most 5 restarts per 1m0s, reset after 1m0s",
		"attempt:\t2 (1 restarts, the next one pending; 1 within the window)",
		"next restart:\tin 0s",
		"delay 200ms",
		"ran 500ms, exit 1, EXITED",
		"(+100ms), ran 500ms, SIGTERM (signal 15), HUNG",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}

// A run procd lost (it died meanwhile; the run has an end but no exit) is
// said to be lost, not printed as an exit it never had.
func TestRunSummaryOfALostRun(t *testing.T) {
	start := time.Date(2026, 12, 2, 9, 53, 10, 0, time.UTC)
	lost := &pb.ProcessRun{Attempt: 1, Pid: 42, StartedAt: timestamppb.New(start), FinishedAt: timestamppb.New(start.Add(4 * time.Second))}
	got := runSummary(lost, nil)
	if !strings.Contains(got, "lost when procd died") || strings.Contains(got, "UNSPECIFIED") {
		t.Fatalf("lost run: %q", got)
	}
}
