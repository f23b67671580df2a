package cli

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/procd/procd/proto/procd/v1"
)

// procctl status of a process still starting, and of one stopped at its
// start-up timeout.
func TestStatusReadinessGolden(t *testing.T) {
	local := time.Local
	time.Local = time.UTC
	defer func() { time.Local = local }()
	probe := &pb.ReadinessProbe{Http: "http://127.0.0.1:8000/", Interval: durationpb.New(250 * time.Millisecond), AttemptTimeout: durationpb.New(time.Second)}
	refused := `Get "http://127.0.0.1:8000/": dial tcp 127.0.0.1:8000: connect: connection refused`
	for name, p := range map[string]*pb.Process{
		"starting": {
			Id: "p-5", Pid: 4600, Pgid: 4600, Name: "web", State: pb.ProcessState_PROCESS_STATE_STARTING,
			Command: []string{"python3", "-m", "http.server", "8000"}, Executable: "/usr/bin/python3",
			StartedAt: timestamppb.New(t0), Duration: durationpb.New(1200 * time.Millisecond), LastActivity: timestamppb.New(t0),
			Ready: probe, StartupTimeout: durationpb.New(30 * time.Second), ReadyAttempts: 5, ReadyError: refused,
			Stdout: &pb.OutputInfo{}, Stderr: &pb.OutputInfo{},
		},
		"startup-timeout": {
			Id: "p-6", Pid: 4700, Pgid: 4700, Name: "mute", State: pb.ProcessState_PROCESS_STATE_EXITED,
			Command: []string{"sleep", "60"}, Executable: "/usr/bin/sleep",
			StartedAt: timestamppb.New(t0), FinishedAt: timestamppb.New(t0.Add(2 * time.Second)), Duration: durationpb.New(2 * time.Second),
			LastActivity: timestamppb.New(t0),
			Exit:         &pb.ExitStatus{Reason: pb.ExitReason_EXIT_REASON_STARTUP_TIMEOUT, SignalNumber: i32(15), Signal: "SIGTERM"},
			Ready:        probe, StartupTimeout: durationpb.New(2 * time.Second), ReadyAttempts: 8, ReadyError: refused,
			Stdout: &pb.OutputInfo{}, Stderr: &pb.OutputInfo{},
		},
		"ready": {
			Id: "p-7", Pid: 4800, Pgid: 4800, Name: "web", State: pb.ProcessState_PROCESS_STATE_RUNNING,
			Command: []string{"python3", "-m", "http.server", "8000"}, Executable: "/usr/bin/python3",
			StartedAt: timestamppb.New(t0), Duration: durationpb.New(5 * time.Second), LastActivity: timestamppb.New(t0.Add(time.Second)),
			Ready: probe, StartupTimeout: durationpb.New(30 * time.Second), ReadyAttempts: 4, ReadyAt: timestamppb.New(t0.Add(1020 * time.Millisecond)),
			Stdout: &pb.OutputInfo{}, Stderr: &pb.OutputInfo{},
		},
	} {
		var b bytes.Buffer
		printProcess(&b, p)
		golden(t, "status-"+name, b.Bytes())
	}
}

// --ready's forms, and the ones refused with a usage error.
func TestParseReady(t *testing.T) {
	for in, want := range map[string]*pb.ReadinessProbe{
		"notify":                   {Notify: true},
		"tcp:8080":                 {Tcp: "8080"},
		"tcp:[::1]:8080":           {Tcp: "[::1]:8080"},
		"http://127.0.0.1:8000/ok": {Http: "http://127.0.0.1:8000/ok"},
		"https://localhost/":       {Http: "https://localhost/"},
		"exec:pg_isready -h /run":  {Exec: []string{"pg_isready", "-h", "/run"}},
		"log:listening on :\\d+":   {Log: "listening on :\\d+"},
	} {
		got, err := parseReady(in)
		if err != nil || got.String() != want.String() {
			t.Errorf("parseReady(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "tcp:", "exec: ", "log:", "udp:53", "ready"} {
		if _, err := parseReady(bad); err == nil {
			t.Errorf("parseReady(%q) accepted", bad)
		}
	}
}
