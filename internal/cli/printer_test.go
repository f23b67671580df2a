package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/procd/procd/proto/procd/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files of procctl's human output")

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("procctl's %s output changed (go test ./internal/cli -update accepts it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

var (
	t0  = time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC)
	i32 = func(v int32) *int32 { return &v }
)

// fixtures are one record of each kind procctl prints differently.
func fixtures() map[string]*pb.Process {
	return map[string]*pb.Process{
		"running": {
			Id: "p-1", Pid: 4242, Pgid: 4242, Name: "web", State: pb.ProcessState_PROCESS_STATE_RUNNING,
			Command: []string{"python3", "-m", "http.server", "it's 8080"}, Executable: "/usr/bin/python3",
			Cwd: "/srv", Labels: map[string]string{"team": "a", "app": "web"}, Caller: "uid 1000 (alice)",
			StartedAt: timestamppb.New(t0), Duration: durationpb.New(90*time.Second + 123*time.Millisecond),
			LastActivity: timestamppb.New(t0.Add(80 * time.Second)),
			Watchdog: &pb.WatchdogStatus{Enabled: true, Timeout: durationpb.New(30 * time.Second), ExtraBuffer: durationpb.New(5 * time.Second),
				AutoKill: true, Sources: []pb.ActivitySource{pb.ActivitySource_ACTIVITY_SOURCE_OUTPUT, pb.ActivitySource_ACTIVITY_SOURCE_HEARTBEAT},
				LastActivitySource: pb.ActivitySource_ACTIVITY_SOURCE_OUTPUT, Idle: durationpb.New(10 * time.Second), Slow: false},
			Cgroup: "/sys/fs/cgroup/procd/p-1", Usage: &pb.TreeUsage{Cpu: durationpb.New(1500 * time.Millisecond), MemoryCurrentBytes: 30 << 20, MemoryPeakBytes: 48 << 20},
			MemoryMax: 256 << 20, PidsMax: 64, CpuMax: 0.5, Rlimits: []*pb.Rlimit{{Name: "NOFILE", Soft: 1024, Hard: ^uint64(0)}},
			Stdout: &pb.OutputInfo{TotalBytes: 5 << 20, DroppedBytes: 4 << 20}, Stderr: &pb.OutputInfo{TotalBytes: 12},
		},
		"exited": {
			Id: "p-2", Pid: 4300, Pgid: 4300, Name: "sh", State: pb.ProcessState_PROCESS_STATE_EXITED,
			Command: []string{"sh", "-c", "exit 3"}, Executable: "/bin/sh",
			StartedAt: timestamppb.New(t0), FinishedAt: timestamppb.New(t0.Add(2 * time.Millisecond)), Duration: durationpb.New(2 * time.Millisecond),
			LastActivity: timestamppb.New(t0),
			Exit: &pb.ExitStatus{Reason: pb.ExitReason_EXIT_REASON_EXITED, ExitCode: i32(3), LeftoversKilled: 2, OutputTruncated: true,
				Rusage: &pb.ResourceUsage{MaxRssBytes: 3 << 20, UserCpu: durationpb.New(700 * time.Microsecond), SystemCpu: durationpb.New(1200 * time.Microsecond)}},
			Watchdog: &pb.WatchdogStatus{},
			Stdout:   &pb.OutputInfo{}, Stderr: &pb.OutputInfo{TotalBytes: 2000},
		},
		"hung": {
			Id: "p-3", Pid: 4400, Pgid: 4400, Name: "stuck", State: pb.ProcessState_PROCESS_STATE_EXITED,
			Command: []string{"sleep", "1000"}, Executable: "/usr/bin/sleep",
			StartedAt: timestamppb.New(t0), FinishedAt: timestamppb.New(t0.Add(6 * time.Second)), Duration: durationpb.New(6 * time.Second),
			LastActivity: timestamppb.New(t0),
			Exit:         &pb.ExitStatus{Reason: pb.ExitReason_EXIT_REASON_HUNG, SignalNumber: i32(9), Signal: "SIGKILL", CoreDumped: false, OomKilled: true},
			Watchdog: &pb.WatchdogStatus{Enabled: true, Timeout: durationpb.New(5 * time.Second), ExtraBuffer: durationpb.New(time.Second),
				MaxHangTime: durationpb.New(20 * time.Second), Sources: []pb.ActivitySource{pb.ActivitySource_ACTIVITY_SOURCE_CPU},
				ActivityFile: "/tmp/beat", Deadline: durationpb.New(time.Minute)},
			Stdout: &pb.OutputInfo{}, Stderr: &pb.OutputInfo{},
		},
		"lost": {
			Id: "p-4", Pid: 4500, Pgid: 4500, Name: "batch", State: pb.ProcessState_PROCESS_STATE_LOST,
			Command: []string{"make", "-j8"}, Executable: "/usr/bin/make", Restored: true, LastState: pb.ProcessState_PROCESS_STATE_RUNNING,
			StartedAt: timestamppb.New(t0), Duration: durationpb.New(42 * time.Second), LostAt: timestamppb.New(t0.Add(time.Minute)),
			LastActivity: timestamppb.New(t0),
			Stdout:       &pb.OutputInfo{}, Stderr: &pb.OutputInfo{},
		},
	}
}

// procctl status's human form, one golden file per kind of record.
func TestStatusGolden(t *testing.T) {
	local := time.Local
	time.Local = time.UTC // the printer shows local time
	defer func() { time.Local = local }()
	for name, p := range fixtures() {
		var b bytes.Buffer
		printProcess(&b, p)
		golden(t, "status-"+name, b.Bytes())
	}
}

// procctl ps's table, with a command long enough to be cut.
func TestTableGolden(t *testing.T) {
	fx := fixtures()
	long := &pb.Process{Id: "p-10", Pid: 5000, Name: "long", State: pb.ProcessState_PROCESS_STATE_RUNNING,
		Command: []string{"sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do echo a very long line of output; done"}, Duration: durationpb.New(1500 * time.Microsecond)}
	var b bytes.Buffer
	printTable(&b, []*pb.Process{fx["running"], fx["exited"], fx["hung"], fx["lost"], long})
	golden(t, "ps", b.Bytes())
}
