package top

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/procd/procd/proto/procd/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fake is procd as top sees it: a table to list and a record of the stops
// and signals asked for.
type fake struct {
	mu      sync.Mutex
	procs   []*pb.Process
	listErr error
	lists   []*pb.ListProcessesRequest
	stops   []string
	signals []string
}

func (f *fake) ListProcesses(_ context.Context, in *pb.ListProcessesRequest, _ ...grpc.CallOption) (*pb.ListProcessesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists = append(f.lists, in)
	return &pb.ListProcessesResponse{Processes: f.procs}, f.listErr
}

func (f *fake) GetStats(context.Context, *pb.GetStatsRequest, ...grpc.CallOption) (*pb.GetStatsResponse, error) {
	return &pb.GetStatsResponse{Processes: &pb.ProcessStats{Running: int64(len(f.procs))},
		Watchdog: &pb.WatchdogStats{Hung: 1, KillsByReason: map[string]int64{"HUNG": 2}}}, nil
}

func (f *fake) WatchEvents(context.Context, *pb.WatchEventsRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[pb.WatchEventsResponse], error) {
	return nil, errors.New("no events here")
}

func (f *fake) StopProcess(_ context.Context, in *pb.StopProcessRequest, _ ...grpc.CallOption) (*pb.StopProcessResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops = append(f.stops, in.GetId())
	sig := int32(15)
	return &pb.StopProcessResponse{Results: []*pb.StopResult{{Process: &pb.Process{Id: in.GetId(),
		Exit: &pb.ExitStatus{Reason: pb.ExitReason_EXIT_REASON_STOPPED, SignalNumber: &sig, Signal: "SIGTERM"}}}}}, nil
}

func (f *fake) SendSignal(_ context.Context, in *pb.SendSignalRequest, _ ...grpc.CallOption) (*pb.SendSignalResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signals = append(f.signals, in.GetId()+" "+in.GetSignal())
	return &pb.SendSignalResponse{Signal: "SIGKILL", Results: []*pb.SignalResult{{Id: in.GetId(), Delivered: true}}}, nil
}

// proc builds a running record with cgroup usage.
func proc(id, name string, pid int32, cpu time.Duration, mem, out int64, labels map[string]string) *pb.Process {
	return &pb.Process{Id: id, Name: name, Pid: pid, Labels: labels, State: pb.ProcessState_PROCESS_STATE_RUNNING,
		Duration: durationpb.New(10 * time.Second), Cgroup: "/cg/" + id,
		Usage:    &pb.TreeUsage{Cpu: durationpb.New(cpu), MemoryCurrentBytes: mem},
		Stdout:   &pb.OutputInfo{TotalBytes: out},
		Watchdog: &pb.WatchdogStatus{Enabled: true, Timeout: durationpb.New(30 * time.Second), Idle: durationpb.New(2 * time.Second)}}
}

// table is three processes: an idle one, a busy one, and a hung one.
func table() []*pb.Process {
	hung := proc("p-3", "stuck", 303, 0, 1<<20, 0, map[string]string{"campaign": "b"})
	hung.Watchdog.Hung, hung.Watchdog.Slow = true, true
	hung.Watchdog.Idle = durationpb.New(95 * time.Second)
	return []*pb.Process{
		proc("p-1", "idle", 101, time.Second, 300<<10, 10<<10, map[string]string{"campaign": "a"}),
		proc("p-2", "busy-fuzzer-with-a-very-long-name", 202, 9*time.Second, 3<<30, 5<<20, map[string]string{"campaign": "a", "target": "png"}),
		hung,
	}
}

func TestSamplerRates(t *testing.T) {
	s := sampler{window: time.Second}
	t0 := time.Unix(1000, 0)
	p := proc("p-1", "x", 1, 2*time.Second, 0, 1000, nil) // 10s old
	r := s.rows(snapshot{at: t0, procs: []*pb.Process{p}})
	if r[0].cpu != 20 || r[0].rate != 100 {
		t.Fatalf("first sight: cpu %v%% rate %v B/s, want the averages since start, 20%% and 100 B/s", r[0].cpu, r[0].rate)
	}
	p = proc("p-1", "x", 1, 2*time.Second+50*time.Millisecond, 0, 1100, nil)
	r = s.rows(snapshot{at: t0.Add(100 * time.Millisecond), procs: []*pb.Process{p}})
	if r[0].cpu != 50 || r[0].rate != 1000 {
		t.Fatalf("100ms later: cpu %v%% rate %v, want 50%% and 1000 B/s since the last sample", r[0].cpu, r[0].rate)
	}
	p = proc("p-1", "x", 1, 3*time.Second, 0, 2000, nil)
	r = s.rows(snapshot{at: t0.Add(2 * time.Second), procs: []*pb.Process{p}})
	// The newest sample a window old is the one at t0+100ms.
	if got, want := r[0].cpu, 100*0.95/1.9; got < want-0.01 || got > want+0.01 {
		t.Fatalf("2s later: cpu %v%%, want %v%% over the last window", got, want)
	}
	// A restart: a new pid, and the run's counters start again.
	p = proc("p-1", "x", 9, 100*time.Millisecond, 0, 10, nil)
	p.Duration = durationpb.New(time.Second)
	r = s.rows(snapshot{at: t0.Add(3 * time.Second), procs: []*pb.Process{p}})
	if r[0].cpu != 10 || r[0].rate != 10 {
		t.Fatalf("after a restart: cpu %v%% rate %v, want the new run's averages (10%%, 10 B/s)", r[0].cpu, r[0].rate)
	}
	if r[0].mem >= 0 {
		t.Fatalf("memory %d without accounting (current and peak 0), want unknown", r[0].mem)
	}
	noCgroup := proc("p-2", "y", 2, 0, 0, 0, nil)
	noCgroup.Cgroup, noCgroup.Usage = "", nil
	if r := s.rows(snapshot{at: t0, procs: []*pb.Process{noCgroup}}); r[0].cpu >= 0 || r[0].mem >= 0 || percent(r[0].cpu) != "-" {
		t.Fatalf("without a cgroup: %+v, want unknown CPU and memory", r[0])
	}
}

func TestSortRows(t *testing.T) {
	s := sampler{window: time.Second}
	rows := s.rows(snapshot{at: time.Now(), procs: table()})
	order := func() string {
		var ids []string
		for _, r := range rows {
			ids = append(ids, r.p.GetId())
		}
		return strings.Join(ids, " ")
	}
	for _, c := range []struct {
		col     string
		reverse bool
		want    string
	}{
		{"cpu", false, "p-2 p-1 p-3"}, {"cpu", true, "p-3 p-1 p-2"}, {"mem", false, "p-2 p-3 p-1"},
		{"idle", false, "p-3 p-1 p-2"}, {"watchdog", false, "p-3 p-1 p-2"}, {"name", false, "p-2 p-1 p-3"},
		{"id", false, "p-1 p-2 p-3"}, {"output", false, "p-2 p-1 p-3"},
	} {
		i, ok := columnByKey(c.col)
		if !ok {
			t.Fatalf("no column %q", c.col)
		}
		sortRows(rows, i, c.reverse)
		if got := order(); got != c.want {
			t.Errorf("sort by %s (reverse %v): %s, want %s", c.col, c.reverse, got, c.want)
		}
	}
}

func TestFilter(t *testing.T) {
	s := sampler{window: time.Second}
	rows := s.rows(snapshot{at: time.Now(), procs: table()})
	for _, c := range []struct{ text, want string }{
		{"", "p-1 p-2 p-3"}, {"campaign=a", "p-1 p-2"}, {"campaign=a target=png", "p-2"},
		{"state:hung", "p-3"}, {"state:slow", "p-3"}, {"state:running", "p-1 p-2 p-3"}, {"state:exited", ""},
		{"FUZZ", "p-2"}, {"p-1", "p-1"}, {"campaign=b idle", ""},
	} {
		f, err := parseFilter(c.text)
		if err != nil {
			t.Fatalf("%q: %v", c.text, err)
		}
		var ids []string
		for _, r := range visible(rows, f, 0, false) {
			ids = append(ids, r.p.GetId())
		}
		if got := strings.Join(ids, " "); got != c.want {
			t.Errorf("filter %q: %q, want %q", c.text, got, c.want)
		}
	}
	for _, bad := range []string{"state:sleepy", "=x"} {
		if _, err := parseFilter(bad); err == nil {
			t.Errorf("filter %q accepted", bad)
		}
	}
	if f, _ := parseFilter("b=2 a=1 word state:slow"); f.String() != "a=1 b=2 state:slow word" {
		t.Errorf("String() = %q", f.String())
	}
}

// The table's layout, at full width and cut to a narrow terminal.
func TestLayoutGolden(t *testing.T) {
	s := sampler{window: time.Second}
	rows := s.rows(snapshot{at: time.Now(), procs: table()})
	var b bytes.Buffer
	for _, w := range []int{0, 80, 60} {
		header, lines := layout(rows, w)
		b.WriteString("--- width " + strconv.Itoa(w) + "\n" + header + "\n" + strings.Join(lines, "\n") + "\n")
		for _, l := range append(lines, header) {
			if w > 0 && len([]rune(l)) > w {
				t.Errorf("width %d: line of %d: %q", w, len([]rune(l)), l)
			}
		}
	}
	golden(t, "testdata/table.golden", b.String())
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestRunPlain(t *testing.T) {
	f := &fake{procs: table()}
	var out bytes.Buffer
	err := RunPlain(context.Background(), f, Options{Where: "test.sock", Iterations: 2, Interval: time.Millisecond,
		Filter: "campaign=a", Sort: "cpu"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	frames := strings.Split(strings.TrimSuffix(out.String(), "\n\n"), "\n\n")
	if len(frames) != 2 {
		t.Fatalf("%d frames, want 2:\n%s", len(frames), out.String())
	}
	// The fake's counters stand still: the second frame's rates are 0.
	lines := strings.Split(frames[0], "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[3], "p-2 ") || !strings.HasPrefix(lines[4], "p-1 ") {
		t.Fatalf("frame, want p-2 then p-1 (by CPU, campaign a):\n%s", frames[0])
	}
	if !strings.Contains(frames[1], " 0.0 ") {
		t.Errorf("second frame, want rates over the interval (0):\n%s", frames[1])
	}
	for _, want := range []string{"test.sock", "1 hung, 2 hung kills", "sort: cpu ↓  filter: campaign=a  2 of 3 shown"} {
		if !strings.Contains(frames[1], want) {
			t.Errorf("frame lacks %q:\n%s", want, frames[1])
		}
	}
	if req := f.lists[0]; !req.GetUsage() || len(req.GetStates()) != len(liveStates) {
		t.Errorf("list request %v, want usage and the live states only", req)
	}

	f.listErr = errors.New("procd is gone")
	if err := RunPlain(context.Background(), f, Options{Iterations: 1}, &out); err == nil || !strings.Contains(err.Error(), "gone") {
		t.Errorf("failed refresh: %v", err)
	}
	if err := RunPlain(context.Background(), f, Options{Sort: "colour"}, &out); !IsOptionError(err) {
		t.Errorf("bad sort column: %v, want an option error", err)
	}
}

// run feeds msg to the model and runs the commands it returns until they
// settle (ticks are dropped: they would come back forever).
func run(m *model, msg tea.Msg) {
	queue := []tea.Msg{msg}
	for len(queue) > 0 {
		msg, queue = queue[0], queue[1:]
		_, cmd := m.Update(msg)
		queue = append(queue, drain(cmd)...)
	}
}

func drain(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, drain(c)...)
		}
		return out
	case tickMsg, nil:
		return nil
	default:
		return []tea.Msg{msg}
	}
}

func press(s string) tea.KeyMsg {
	switch s {
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// Restart policies: the count, a process waiting to restart (live), and
// one given up on (final).
func TestRestartsAndStates(t *testing.T) {
	backoff := proc("p-1", "crasher", 1, 0, 0, 0, nil)
	backoff.State = pb.ProcessState_PROCESS_STATE_BACKOFF
	backoff.Restart = &pb.RestartStatus{Restarts: 3}
	backoff.Exit = &pb.ExitStatus{Reason: pb.ExitReason_EXIT_REASON_EXITED, ExitCode: new(int32(1))}
	failed := proc("p-2", "gave-up", 2, 0, 0, 0, nil)
	failed.State = pb.ProcessState_PROCESS_STATE_FAILED
	failed.Restart = &pb.RestartStatus{Restarts: 5}
	failed.Exit = &pb.ExitStatus{Reason: pb.ExitReason_EXIT_REASON_CRASH_LOOP, ExitCode: new(int32(1))}
	plain := proc("p-3", "no-policy", 3, 0, 0, 0, nil)
	s := sampler{window: time.Second}
	rows := s.rows(snapshot{at: time.Now(), procs: []*pb.Process{backoff, failed, plain}})
	for i, want := range []struct{ state, restarts, mark string }{
		{"backoff", "3", "-"}, {"failed crash_loop", "5", "-"}, {"running", "-", "ok"},
	} {
		if got := stateText(&rows[i]); got != want.state {
			t.Errorf("row %d: state %q, want %q", i, got, want.state)
		}
		if got := restartsText(&rows[i]); got != want.restarts {
			t.Errorf("row %d: restarts %q, want %q", i, got, want.restarts)
		}
		if got := rows[i].mark(); got != want.mark {
			t.Errorf("row %d: mark %q, want %q", i, got, want.mark)
		}
	}
	if rows[0].cpu >= 0 || rows[0].mem >= 0 || rows[0].rate != 0 {
		t.Errorf("a process waiting to restart has figures: %+v", rows[0])
	}
	if f, _ := parseFilter("state:failed"); !f.finished() {
		t.Error("state:failed does not fetch final records")
	}
	if f, _ := parseFilter("state:backoff"); f.finished() {
		t.Error("state:backoff asks for final records")
	}
}
