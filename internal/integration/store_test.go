//go:build linux

package integration

// Over 500 lines on purpose: the persistence promises of issue 17 end to end, with their shared helpers.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/store"
	"github.com/procd/procd/internal/testutil"
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
	testutil.WaitFor(t, "the state store to commit everything", func() bool {
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
	// Long on purpose: one crash story (fill, crash, restart, check each promise), every step on the same daemon's state.
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
	// 50 running, the first 10 with a restart policy (and a command of
	// their own, to count them on the machine).
	running, restarting := map[string]int{}, map[string]int{}
	for i := range 50 {
		spec := &pb.ProcessSpec{Command: []string{"sleep", "300"}, Name: "live", Labels: map[string]string{"i": strconv.Itoa(i)}}
		if i < 10 {
			spec.Command = []string{"sleep", restartArg}
			spec.Restart = &pb.RestartPolicy{Mode: pb.RestartMode_RESTART_MODE_ALWAYS}
		}
		s, err := c.StartProcess(ctxTimeout(t), &pb.StartProcessRequest{Spec: spec})
		if err != nil {
			t.Fatal(err)
		}
		if i < 10 {
			restarting[s.GetProcess().GetId()] = int(s.GetProcess().GetPid())
		} else {
			running[s.GetProcess().GetId()] = int(s.GetProcess().GetPid())
		}
	}
	storeSynced(t, d, c)
	before := lastSeq(t, c)

	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
	testutil.WaitFor(t, "the guardian to end the 50 trees", func() bool {
		for _, pid := range running {
			if alive(pid) {
				return false
			}
		}
		return len(pidsOf(t, "sleep", restartArg)) == 0
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
	// The 10 with a restart policy run again, once each, as their second run.
	checkRestarted10 := func(got map[string]*pb.Process, crash int) {
		t.Helper()
		for id, pid := range restarting {
			p := got[id]
			if p.GetState() != pb.ProcessState_PROCESS_STATE_RUNNING || p.GetAttempt() < 2 || int(p.GetPid()) == pid || !alive(int(p.GetPid())) {
				t.Fatalf("crash %d: process %s with a restart policy after the restart: %v", crash, id, p)
			}
		}
		if pids := pidsOf(t, "sleep", restartArg); len(pids) != 10 {
			t.Fatalf("crash %d: %d processes with a restart policy run, want 10: %v", crash, len(pids), pids)
		}
	}
	checkRestarted10(got, 1)
	for id, p := range got {
		if _, ok := restarting[id]; ok && p.GetAttempt() != 2 {
			t.Fatalf("%s is at run %d after one crash, want 2", id, p.GetAttempt())
		}
	}
	// A LOST record is final: waits return it at once, polled or not.
	for id := range running {
		for _, timeout := range []*durationpb.Duration{nil, durationpb.New(0)} {
			w, err := c.WaitForProcess(ctxTimeout(t), &pb.WaitForProcessRequest{Target: &pb.WaitForProcessRequest_Id{Id: id}, Timeout: timeout})
			if err != nil || w.GetTimedOut() || w.GetProcess().GetState() != pb.ProcessState_PROCESS_STATE_LOST {
				t.Fatalf("wait for LOST %s (timeout %v): %v %v", id, timeout, w, err)
			}
		}
		break
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
	if ev.GetEvent().GetSeq() != first {
		t.Fatalf("first event after the crash: %v, want seq %d", ev.GetEvent(), first)
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

	// A crash-looping procd: killed again at once, and again restarted.
	// The processes with a restart policy still run once each.
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
	eventually(t, "the guardian to end the restarted trees", func() bool { return len(pidsOf(t, "sleep", restartArg)) == 0 })
	d.start("--state-dir", state, "--retain-finished", "1000")
	c = dialDaemon(t, d)
	list, err = c.ListProcesses(ctxTimeout(t), &pb.ListProcessesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	clear(got)
	for _, p := range list.GetProcesses() {
		got[p.GetId()] = p
	}
	checkRestarted10(got, 2)
}

// restartArg makes the processes with a restart policy of the crash test
// countable on the machine.
var restartArg = strconv.Itoa(3000 + os.Getpid()%1000)

// pidsOf lists the live processes whose command line is exactly args.
func pidsOf(t *testing.T, args ...string) []int {
	t.Helper()
	want := strings.Join(args, "\x00") + "\x00"
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && string(b) == want && alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// After a clean stop, the records show the processes procd stopped, with
// reason DAEMON_SHUTDOWN, and a subscriber that had seen every event
// resumes without a gap.
func TestRecordsSurviveACleanRestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	d := startDaemon(t, "--state-dir", state)
	id := strings.TrimSpace(d.mustCtl("start", "-q", "sleep", "300"))
	arg := strconv.Itoa(5000 + os.Getpid()%1000)
	server := strings.TrimSpace(d.mustCtl("start", "-q", "--restart", "always", "--", "sleep", arg))
	c := dialDaemon(t, d)
	before := lastSeq(t, c)
	d.stop()

	d.start("--state-dir", state)
	st := d.statusJSON(id)
	exit, _ := st["exit"].(map[string]any)
	if st["state"] != "PROCESS_STATE_EXITED" || exit["reason"] != "EXIT_REASON_DAEMON_SHUTDOWN" || st["restored"] != true {
		t.Fatalf("record of a process stopped by the shutdown: %v", st)
	}
	// One with a restart policy runs again: the shutdown stopped it, not the user.
	if st := d.statusJSON(server); st["state"] != "PROCESS_STATE_RUNNING" || st["attempt"] != float64(2) || len(pidsOf(t, "sleep", arg)) != 1 {
		t.Fatalf("process with a restart policy after a clean restart: %v (%d running)", st, len(pidsOf(t, "sleep", arg)))
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
	if want := "p-" + strconv.Itoa(mustAtoi(t, strings.TrimPrefix(server, "p-"))+1); next != want {
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

// Issue 17, must-show 4: procd SIGKILLed at random instants during a burst
// of starts and exits, 20 times over one state directory. After each kill
// the store opens, and every record in it is in a state a record can be
// in; the restarted procd shows none of them as still running, and its
// event numbers and ids lie past everything the killed one gave out.
func TestStoreSurvivesKillsAtRandomInstants(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	args := []string{"--state-dir", state, "--retain-finished", "150", "--log-level", "info"}
	d := startDaemon(t, args...)
	instance := ""
	var seenSeq uint64
	seenID, live := 0, 0
	for iter := range 20 {
		c := dialDaemon(t, d)
		if iter > 0 {
			checkRestarted(t, c, seenSeq, seenID)
		}
		maxSeq, maxID := burstUntilKilled(t, d, c, time.Duration(50+rand.IntN(400))*time.Millisecond)
		seenSeq, seenID = max(seenSeq, maxSeq), max(seenID, maxID)
		if instance == "" {
			instance = onlyDir(t, state)
		}
		live += checkStore(t, filepath.Join(state, instance), iter)
		d.start(args...)
	}
	if live == 0 {
		t.Fatal("no kill caught a process running: the test showed nothing about LOST records")
	}
}

// burstUntilKilled starts and ends processes from 6 clients and SIGKILLs
// procd after killAfter; it returns the highest event seq and process id
// number the clients saw.
func burstUntilKilled(t *testing.T, d *daemon, c pb.ProcessServiceClient, killAfter time.Duration) (uint64, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var maxSeq atomic.Uint64
	var maxID atomic.Int64
	ws, err := c.WatchEvents(ctx, &pb.WatchEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			ev, err := ws.Recv()
			if err != nil {
				return
			}
			maxSeq.Store(max(maxSeq.Load(), ev.GetEvent().GetSeq()))
		}
	})
	scripts := []string{"true", "exit 3", "sleep 0.05", `trap "" TERM; sleep 0.2`, "sleep 30"}
	for w := range 6 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				s, err := c.StartProcess(ctx, &pb.StartProcessRequest{Spec: &pb.ProcessSpec{
					Command: []string{"sh", "-c", scripts[(w+i)%len(scripts)]}, Grace: durationpb.New(100 * time.Millisecond)}})
				if err != nil {
					return // procd is gone
				}
				id := s.GetProcess().GetId()
				n, _ := strconv.Atoi(strings.TrimPrefix(id, "p-"))
				for m := maxID.Load(); int64(n) > m && !maxID.CompareAndSwap(m, int64(n)); m = maxID.Load() {
				}
				ref := &pb.WaitForProcessRequest{Target: &pb.WaitForProcessRequest_Id{Id: id}, Timeout: durationpb.New(20 * time.Millisecond)}
				if _, err := c.WaitForProcess(ctx, ref); err != nil {
					return
				}
				if i%3 == 0 {
					c.StopProcess(ctx, &pb.StopProcessRequest{Target: &pb.StopProcessRequest_Id{Id: id}})
				}
			}
		})
	}
	// The random instant falls within the burst, after its first start: a
	// race-built daemon on a loaded machine can take longer than the
	// instant to get there (and then the store holds no record).
	testutil.WaitFor(t, "the burst's first start", func() bool { return maxID.Load() > 0 })
	time.Sleep(killAfter) // the random instant of the crash: what the test is about
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
	cancel()
	wg.Wait()
	return maxSeq.Load(), int(maxID.Load())
}

// checkStore opens the killed daemon's store and checks every record; it
// returns how many were of processes still running.
func checkStore(t *testing.T, dir string, iter int) int {
	t.Helper()
	st, err := store.Open(dir, 15*time.Second, nil)
	if err != nil {
		t.Fatalf("kill %d: the store does not open: %v", iter, err)
	}
	defer st.Close(nil)
	ids := st.Counter(manager.IDCounter)
	n, live := 0, 0
	err = st.Values(func(key string, value []byte) error {
		n++
		var sv struct {
			V    int          `json:"v"`
			Seq  uint64       `json:"seq"`
			Info manager.Info `json:"info"`
		}
		if err := json.Unmarshal(value, &sv); err != nil {
			return fmt.Errorf("%s: %v", key, err)
		}
		if why := impossible(key, sv.V, sv.Seq, &sv.Info, ids.Ceiling); why != "" {
			return fmt.Errorf("%s is in an impossible state: %s\n%s", key, why, value)
		}
		if sv.Info.State != manager.Exited && sv.Info.State != manager.Lost {
			live++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("kill %d: %v", iter, err)
	}
	if n == 0 {
		t.Fatalf("kill %d: the store holds no record", iter)
	}
	t.Logf("kill %d: %d records, %d of processes running", iter, n, live)
	return live
}

// impossible says what is wrong with a stored record, or "".
func impossible(key string, v int, seq uint64, i *manager.Info, idCeiling uint64) string {
	live := i.State == manager.Running || i.State == manager.Stopping || i.State == manager.Starting
	switch {
	case v != 1:
		return fmt.Sprintf("format version %d", v)
	case key != "record/"+i.ID || i.ID != fmt.Sprintf("p-%d", seq):
		return fmt.Sprintf("id %q with seq %d under key %q", i.ID, seq, key)
	case seq > idCeiling:
		return fmt.Sprintf("seq %d beyond the reserved ids (%d)", seq, idCeiling)
	case i.PID <= 0 || i.StartedAt.IsZero():
		return "no pid or start time"
	case live && (i.Exit != nil || !i.FinishedAt.IsZero()):
		return fmt.Sprintf("%v with an exit record", i.State)
	case i.State == manager.Exited && (i.Exit == nil || i.FinishedAt.Before(i.StartedAt)):
		return "EXITED without an exit record, or finished before it started"
	case i.State == manager.Lost && (i.Exit != nil || i.LostAt.IsZero() || !i.Restored ||
		i.LastState != manager.Running && i.LastState != manager.Stopping && i.LastState != manager.Starting):
		return fmt.Sprintf("LOST from %v at %v", i.LastState, i.LostAt)
	case !live && i.State != manager.Exited && i.State != manager.Lost:
		return fmt.Sprintf("state %v", i.State)
	}
	return ""
}

// checkRestarted checks a daemon restarted after a kill: nothing it read
// back is still running, and its numbers lie past the killed one's.
func checkRestarted(t *testing.T, c pb.ProcessServiceClient, seenSeq uint64, seenID int) {
	t.Helper()
	list, err := c.ListProcesses(ctxTimeout(t), &pb.ListProcessesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list.GetProcesses() {
		if s := p.GetState(); s != pb.ProcessState_PROCESS_STATE_EXITED && s != pb.ProcessState_PROCESS_STATE_LOST {
			t.Fatalf("record read back as %v after a kill: %v", s, p)
		}
	}
	if last := lastSeq(t, c); last < seenSeq {
		t.Fatalf("event seq went back across a kill: %d after %d was seen", last, seenSeq)
	}
	next := startWait(t, c, &pb.ProcessSpec{Command: []string{"true"}})
	if n, _ := strconv.Atoi(strings.TrimPrefix(next.GetId(), "p-")); n <= seenID {
		t.Fatalf("id %s given out again after a kill (p-%d was seen)", next.GetId(), seenID)
	}
}

func onlyDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("state dir %s: %v %v", dir, entries, err)
	}
	return entries[0].Name()
}
