//go:build linux

package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/procd/procd/proto/procd/v1"
)

var committed = regexp.MustCompile(`"state store commit","changes":\d+,"pending":0`)

// storeSynced waits until procd's state store has committed every change
// noted before the call: one more start and exit make the writer commit
// again, and a commit line logged with nothing pending covers them all.
func storeSynced(t *testing.T, d *daemon, c pb.ProcessServiceClient) {
	t.Helper()
	mark := len(d.logs.String())
	startWait(t, c, &pb.ProcessSpec{Command: []string{"true"}, Name: "sync-mark"})
	eventually(t, "the state store to commit everything", func() bool {
		return committed.MatchString(d.logs.String()[mark:])
	})
}

func startWait(t *testing.T, c pb.ProcessServiceClient, spec *pb.ProcessSpec) *pb.Process {
	t.Helper()
	ctx := ctxTimeout(t)
	s, err := c.StartProcess(ctx, &pb.StartProcessRequest{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.WaitForProcess(ctx, &pb.WaitForProcessRequest{Target: &pb.WaitForProcessRequest_Id{Id: s.GetProcess().GetId()}})
	if err != nil {
		t.Fatal(err)
	}
	return w.GetProcess()
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func lastSeq(t *testing.T, c pb.ProcessServiceClient) uint64 {
	t.Helper()
	st, err := c.GetStats(ctxTimeout(t), &pb.GetStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return st.GetEvents().GetLastSeq()
}

// Issue 17, must-show 3: procd SIGKILLed with 50 running processes and 200
// finished records. After the restart the 200 records are intact, the 50
// are LOST with their last state (their trees gone), ids and event numbers
// go on past everything given out before, and a subscriber resuming from
// before the crash gets a clear OUT_OF_RANGE naming the first available
// event.
func TestRecordsSurviveACrashOfProcd(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	d := startDaemon(t, "--state-dir", state, "--retain-finished", "1000")
	c := dialDaemon(t, d)

	finished := map[string]*pb.Process{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < 200; i += 8 {
				p := startWait(t, c, &pb.ProcessSpec{Command: []string{"sh", "-c", fmt.Sprintf("exit %d", i%7)}, Name: "done",
					Labels: map[string]string{"i": strconv.Itoa(i)}})
				mu.Lock()
				finished[p.GetId()] = p
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	running := map[string]int{}
	for i := range 50 {
		s, err := c.StartProcess(ctxTimeout(t), &pb.StartProcessRequest{Spec: &pb.ProcessSpec{
			Command: []string{"sleep", "300"}, Name: "live", Labels: map[string]string{"i": strconv.Itoa(i)}}})
		if err != nil {
			t.Fatal(err)
		}
		running[s.GetProcess().GetId()] = int(s.GetProcess().GetPid())
	}
	storeSynced(t, d, c)
	before := lastSeq(t, c)

	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
	eventually(t, "the guardian to end the 50 trees", func() bool {
		for _, pid := range running {
			if alive(pid) {
				return false
			}
		}
		return true
	})

	d.start("--state-dir", state, "--retain-finished", "1000")
	c = dialDaemon(t, d)
	list, err := c.ListProcesses(ctxTimeout(t), &pb.ListProcessesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*pb.Process{}
	for _, p := range list.GetProcesses() {
		got[p.GetId()] = p
	}
	for id, want := range finished {
		p := got[id]
		switch {
		case p == nil:
			t.Fatalf("finished record %s is gone after the crash", id)
		case p.GetState() != pb.ProcessState_PROCESS_STATE_EXITED || !p.GetRestored() ||
			p.GetExit().GetExitCode() != want.GetExit().GetExitCode() || p.GetExit().GetReason() != want.GetExit().GetReason() ||
			p.GetPid() != want.GetPid() || p.GetLabels()["i"] != want.GetLabels()["i"] ||
			!p.GetFinishedAt().AsTime().Equal(want.GetFinishedAt().AsTime()):
			t.Fatalf("finished record %s changed across the crash:\nbefore %v\nafter  %v", id, want, p)
		}
	}
	for id, pid := range running {
		p := got[id]
		switch {
		case p == nil:
			t.Fatalf("record of running %s is gone after the crash", id)
		case p.GetState() != pb.ProcessState_PROCESS_STATE_LOST || p.GetLastState() != pb.ProcessState_PROCESS_STATE_RUNNING ||
			p.GetLostAt() == nil || p.GetExit() != nil || int(p.GetPid()) != pid || !p.GetRestored():
			t.Fatalf("record of running %s after the crash: %v", id, p)
		case alive(pid):
			t.Fatalf("LOST process %s (pid %d) is alive", id, pid)
		}
	}
	if len(got) != 251 { // the 250 and the sync mark
		t.Fatalf("%d records after the crash, want 251", len(got))
	}

	// Events: a resume point from before the crash is refused, naming the
	// first event of this run, which lies past everything before.
	r := d.ctl("watch", "--after", strconv.FormatUint(before, 10))
	m := regexp.MustCompile(`oldest available is seq (\d+)`).FindStringSubmatch(r.stderr)
	if r.code == 0 || m == nil {
		t.Fatalf("watch --after %d from before the crash: %v", before, r)
	}
	first, _ := strconv.ParseUint(m[1], 10, 64)
	if first <= before {
		t.Fatalf("first event after the crash is seq %d, not past %d", first, before)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	after := first - 1
	ws, err := c.WatchEvents(ctx, &pb.WatchEventsRequest{AfterSeq: &after})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Header(); err != nil {
		t.Fatal(err)
	}
	next := startWait(t, c, &pb.ProcessSpec{Command: []string{"true"}})
	ev, err := ws.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if ev.GetEvent().GetSeq() != first || ev.GetEvent().GetProcessId() != next.GetId() {
		t.Fatalf("first event after the crash: %v, want seq %d for %s", ev.GetEvent(), first, next.GetId())
	}
	old := before - 1
	ws2, err := c.WatchEvents(ctx, &pb.WatchEventsRequest{AfterSeq: &old})
	if err == nil {
		_, err = ws2.Recv()
	}
	if status.Code(err) != codes.OutOfRange || !strings.Contains(err.Error(), fmt.Sprintf("oldest available is seq %d", first)) {
		t.Fatalf("WatchEvents after seq %d from before the crash: %v", old, err)
	}
	// Ids go on past every id the dead daemon may have given out.
	if n, _ := strconv.Atoi(strings.TrimPrefix(next.GetId(), "p-")); n <= 251 {
		t.Fatalf("first id after the crash is %s", next.GetId())
	}
}

// After a clean stop, the records show the processes procd stopped, with
// reason DAEMON_SHUTDOWN, and a subscriber that had seen every event
// resumes without a gap.
func TestRecordsSurviveACleanRestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	d := startDaemon(t, "--state-dir", state)
	id := strings.TrimSpace(d.mustCtl("start", "-q", "sleep", "300"))
	c := dialDaemon(t, d)
	before := lastSeq(t, c)
	d.stop()

	d.start("--state-dir", state)
	st := d.statusJSON(id)
	exit, _ := st["exit"].(map[string]any)
	if st["state"] != "PROCESS_STATE_EXITED" || exit["reason"] != "EXIT_REASON_DAEMON_SHUTDOWN" || st["restored"] != true {
		t.Fatalf("record of a process stopped by the shutdown: %v", st)
	}
	// The shutdown's own events (signal, exit) came after before; a
	// subscriber that saw them all resumes from the last one.
	c = dialDaemon(t, d)
	last := lastSeq(t, c)
	if last < before+2 {
		t.Fatalf("last seq %d after a clean restart; the shutdown's events after %d are not counted", last, before)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, err := c.WatchEvents(ctx, &pb.WatchEventsRequest{AfterSeq: &last})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Header(); err != nil {
		t.Fatal(err)
	}
	next := strings.TrimSpace(d.mustCtl("start", "-q", "true"))
	ev, err := ws.Recv()
	if err != nil {
		t.Fatalf("resume from the last event of the earlier run: %v", err)
	}
	if ev.GetEvent().GetSeq() != last+1 || ev.GetEvent().GetProcessId() != next {
		t.Fatalf("first event after a clean restart: %v, want seq %d", ev.GetEvent(), last+1)
	}
	if want := "p-" + strconv.Itoa(mustAtoi(t, strings.TrimPrefix(id, "p-"))+1); next != want {
		t.Fatalf("first id after a clean restart is %s, want %s", next, want)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
