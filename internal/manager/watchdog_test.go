//go:build linux

package manager

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/testutil"
	"github.com/procd/procd/internal/watchdog"
)

const notifyHelperEnv = "PROCD_TEST_NOTIFY_HELPER"

// notifyHelper is the test binary run as a child: it sends sd_notify
// datagrams to $NOTIFY_SOCKET (after PROCD_TEST_DELAY, READY=1 and STATUS once, then WATCHDOG=1
// every PROCD_TEST_INTERVAL for PROCD_TEST_COUNT times, or with PROCD_TEST_STOP_FILE set
// until that file exists), then stays silent.
func notifyHelper() {
	path := os.Getenv("NOTIFY_SOCKET")
	interval, _ := time.ParseDuration(os.Getenv("PROCD_TEST_INTERVAL"))
	count, _ := strconv.Atoi(os.Getenv("PROCD_TEST_COUNT"))
	stopFile := os.Getenv("PROCD_TEST_STOP_FILE")
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		os.Stderr.WriteString("notify helper: " + err.Error() + "\n")
		os.Exit(2)
	}
	if delay, _ := time.ParseDuration(os.Getenv("PROCD_TEST_DELAY")); delay > 0 {
		time.Sleep(delay) // a silent start-up
	}
	conn.Write([]byte("READY=1\nSTATUS=warming up"))
	for i := 0; stopFile != "" || i < count; i++ {
		if stopFile != "" {
			if _, err := os.Stat(stopFile); err == nil {
				break
			}
		}
		conn.Write([]byte("WATCHDOG=1"))
		time.Sleep(interval)
	}
	os.Stdout.WriteString("stopped\n")
	time.Sleep(time.Hour)
}

func dur(d time.Duration) *time.Duration { return &d }

// hangSpec watches a process with a short timeout.
func hangSpec(cmd []string, timeout, buffer time.Duration) Spec {
	return Spec{Command: cmd, Name: "wd", Watchdog: WatchdogSpec{Timeout: dur(timeout), ExtraBuffer: dur(buffer)}}
}

// checkEnded requires the process to have ended with reason after at least
// min since start (and, generously, not much later).
func checkEnded(t *testing.T, info Info, reason Reason, atLeast time.Duration) {
	t.Helper()
	ran := info.FinishedAt.Sub(info.StartedAt)
	if info.Exit == nil || info.Exit.Reason != reason {
		t.Fatalf("exit %+v, want reason %v", info.Exit, reason)
	}
	if ran < atLeast || ran > atLeast+5*time.Second {
		t.Fatalf("ended after %v, want %v or a little more", ran, atLeast)
	}
}

// Must-show 1: hung after timeout + buffer, never before.
func TestHungProcessIsStoppedAfterTimeoutPlusBuffer(t *testing.T) {
	m, bus := newManager(t, Config{})
	sub, _ := bus.Subscribe(events.Filter{}, nil)
	defer sub.Close()
	info := mustStart(t, m, hangSpec([]string{"sleep", "100"}, 300*time.Millisecond, 200*time.Millisecond))
	fin := wait(t, m, info.ID)
	checkEnded(t, fin, ReasonHung, 500*time.Millisecond)
	if fin.Exit.Signal != syscall.SIGTERM {
		t.Fatalf("exit %+v, want SIGTERM from the stop", fin.Exit)
	}
	var types []events.Type
	for len(types) == 0 || types[len(types)-1] != events.Exited {
		evs, _ := sub.Next(testutil.Context(t), nil)
		for _, e := range evs {
			types = append(types, e.Type)
		}
	}
	want := []events.Type{events.Started, events.Slow, events.Hung, events.SignalSent, events.Exited}
	if len(types) != len(want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("events %v, want %v", types, want)
		}
	}
	if st := m.WatchdogStats(); st.KillsByReason[ReasonHung] != 1 || st.Watched != 0 {
		t.Fatalf("watchdog stats %+v", st)
	}
}

func TestNoAutoKillForceKillsAfterMaxHangTime(t *testing.T) {
	m, bus := newManager(t, Config{})
	sub, _ := bus.Subscribe(events.Filter{Types: []events.Type{events.Hung}}, nil)
	defer sub.Close()
	s := hangSpec([]string{"sh", "-c", `trap "" TERM; sleep 100`}, 200*time.Millisecond, 100*time.Millisecond)
	s.Watchdog.AutoKill = new(bool)
	s.Watchdog.MaxHangTime = dur(time.Second)
	info := mustStart(t, m, s)
	if _, err := sub.Next(testutil.Context(t), nil); err != nil { // hung at 300 ms...
		t.Fatal(err)
	}
	if got, _ := m.Get(Ref{ID: info.ID}); got.State != Running || !got.Watchdog.Hung { // ...but not killed
		t.Fatalf("when hung: state %v hung %v", got.State, got.Watchdog.Hung)
	}
	fin := wait(t, m, info.ID)
	checkEnded(t, fin, ReasonHung, time.Second)
	if fin.Exit.Signal != syscall.SIGKILL {
		t.Fatalf("exit %+v, want SIGKILL", fin.Exit)
	}
}

// Must-show 3: output is activity only when it is a source.
func TestOutputSourceKeepsAChattyProcessAlive(t *testing.T) {
	m, _ := newManager(t, Config{})
	chatty := []string{"sh", "-c", "while :; do echo tick; sleep 0.1; done"}
	on := hangSpec(chatty, 400*time.Millisecond, 100*time.Millisecond)
	off := hangSpec(chatty, 400*time.Millisecond, 100*time.Millisecond)
	off.Watchdog.Sources = watchdog.Sources(watchdog.Heartbeat)
	a, b := mustStart(t, m, on), mustStart(t, m, off)
	finOff := wait(t, m, b.ID)
	checkEnded(t, finOff, ReasonHung, 500*time.Millisecond)
	time.Sleep(time.Second) // the other one has now lived twice its timeout
	if got, _ := m.Get(Ref{ID: a.ID}); got.State != Running || got.LastSource != watchdog.Output {
		t.Fatalf("chatty process with output on: %v (last source %v)", got.State, got.LastSource)
	}
}

func TestHeartbeatKeepsASilentProcessAlive(t *testing.T) {
	m, _ := newManager(t, Config{})
	// The bound (1 s) is wide for a loaded machine: the idle clock runs
	// from before the fork, the first heartbeat follows Start's return
	// (up to 0.45 s seen at load 20), and the test's own pace slips (0.3 s seen).
	const timeout, buffer = 300 * time.Millisecond, 700 * time.Millisecond
	info := mustStart(t, m, hangSpec([]string{"sleep", "100"}, timeout, buffer))
	pace := time.NewTicker(50 * time.Millisecond)
	defer pace.Stop()
	for time.Since(info.StartedAt) < 3*(timeout+buffer) { // ten timeouts, three bounds
		if _, err := m.UpdateActivity(Ref{ID: info.ID}); err != nil {
			t.Fatal(err)
		}
		<-pace.C
	}
	got, _ := m.Get(Ref{ID: info.ID})
	if got.State != Running || got.LastSource != watchdog.Heartbeat {
		t.Fatalf("after heartbeats: %v, last source %v", got.State, got.LastSource)
	}
	fin := wait(t, m, info.ID) // heartbeats stopped: hung after 1 s of silence
	if fin.Exit.Reason != ReasonHung {
		t.Fatalf("exit %+v", fin.Exit)
	}
	// Heartbeats are refused when they are not a source.
	s := hangSpec([]string{"sleep", "100"}, time.Minute, 0)
	s.Watchdog.Sources = watchdog.Sources(watchdog.Output)
	other := mustStart(t, m, s)
	if _, err := m.UpdateActivity(Ref{ID: other.ID}); err == nil || !strings.Contains(err.Error(), "heartbeat is not an activity source") {
		t.Fatalf("heartbeat without the source: %v", err)
	}
}

// Must-show 4.
func TestDeadlineEndsAnActiveProcess(t *testing.T) {
	m, _ := newManager(t, Config{})
	s := Spec{Command: []string{"sh", "-c", "while :; do echo x; sleep 0.05; done"}, Watchdog: WatchdogSpec{Deadline: 700 * time.Millisecond}}
	fin := wait(t, m, mustStart(t, m, s).ID)
	checkEnded(t, fin, ReasonDeadline, 700*time.Millisecond)
}

func TestDisabledWatchdogLeavesSilentProcessAlone(t *testing.T) {
	m, _ := newManager(t, Config{Watchdog: WatchdogDefaults{ProcessTimeout: 100 * time.Millisecond, ExtraBuffer: 50 * time.Millisecond}})
	off := mustStart(t, m, hangSpec([]string{"sleep", "100"}, 0, 0))
	dflt := mustStart(t, m, Spec{Command: []string{"sleep", "100"}})
	fin := wait(t, m, dflt.ID) // the daemon default applies to specs that set nothing
	checkEnded(t, fin, ReasonHung, 150*time.Millisecond)
	if got, _ := m.Get(Ref{ID: off.ID}); got.State != Running || got.Watchdog.Settings.Enabled() {
		t.Fatalf("timeout 0: %v enabled %v", got.State, got.Watchdog.Settings.Enabled())
	}
}

func TestFileAndCPUSources(t *testing.T) {
	m, _ := newManager(t, Config{Watchdog: WatchdogDefaults{CheckInterval: 50 * time.Millisecond}})
	dir := t.TempDir()
	file := filepath.Join(dir, "stats")
	// The toucher and the spinner get a window of 1.5 s: every 0.1 s a
	// touch (a fork and exec, which takes hundreds of milliseconds at load
	// 17 on these VMs: a 0.5 s window flaked), and a spinning shell that
	// only needs a CPU now and then. They must outlive it twice over.
	window, buffer := 1200*time.Millisecond, 300*time.Millisecond
	s := hangSpec([]string{"sh", "-c", "while :; do touch " + file + "; sleep 0.1; done"}, window, buffer)
	s.Watchdog.ActivityFile = file
	s.Watchdog.Sources = watchdog.Sources(watchdog.File)
	toucher := mustStart(t, m, s)
	busy := hangSpec([]string{"sh", "-c", "while :; do :; done"}, window, buffer)
	busy.Watchdog.Sources = watchdog.Sources(watchdog.CPU)
	spinner := mustStart(t, m, busy)
	idle := hangSpec([]string{"sleep", "100"}, 400*time.Millisecond, 100*time.Millisecond)
	idle.Watchdog.Sources = watchdog.Sources(watchdog.CPU)
	sleeper := mustStart(t, m, idle)
	checkEnded(t, wait(t, m, sleeper.ID), ReasonHung, 500*time.Millisecond)
	// An absence (no hang) is shown by waiting: two windows past the start.
	time.Sleep(time.Until(toucher.StartedAt.Add(2 * (window + buffer))))
	for _, id := range []string{toucher.ID, spinner.ID} {
		if got, _ := m.Get(Ref{ID: id}); got.State != Running {
			t.Fatalf("%s (%s) not running: %+v", id, got.Watchdog.Settings.Sources, got.Exit)
		}
	}
}

// notifyManager is a manager with a notify socket served by a listener.
func notifyManager(t *testing.T) (*Manager, *watchdog.NotifyListener) {
	t.Helper()
	dir, _ := os.MkdirTemp("", "pdn")
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify.sock")
	var m *Manager
	m, _ = newManager(t, Config{NotifySocket: path})
	l, err := watchdog.ListenNotify(path, m.HandleNotify)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return m, l
}

func helperSpec(interval time.Duration, count int, timeout time.Duration) Spec {
	exe, _ := os.Executable()
	s := hangSpec([]string{exe}, timeout, timeout/2)
	s.Env = map[string]string{notifyHelperEnv: "1", "PROCD_TEST_INTERVAL": interval.String(), "PROCD_TEST_COUNT": strconv.Itoa(count)}
	return s
}

// Must-show 2: WATCHDOG=1 keeps a process alive past 5× its timeout; it is
// killed timeout + buffer after its pings stop; READY and STATUS are kept;
// datagrams from outside a process's tree do not keep it alive.
//
// The pinger is this race-built binary: on a loaded machine it can take
// seconds to reach its first datagram, so its idle clock starts at its
// READY=1 (readiness notify), and it pings until told to stop, so that no
// step depends on how fast the machine runs it. The bound (750 ms) is
// over twice the longest gap between its pings seen at load 20 (0.3 s).
func TestNotifyWatchdogKeepsAliveAndForeignDatagramsDoNot(t *testing.T) {
	m, l := notifyManager(t)
	sub, _ := m.bus.Subscribe(events.Filter{Types: []events.Type{events.Hung}}, nil)
	defer sub.Close()
	const timeout, buffer = 500 * time.Millisecond, 250 * time.Millisecond
	stopFile := filepath.Join(t.TempDir(), "stop")
	s := helperSpec(50*time.Millisecond, 0, timeout)
	s.Env["PROCD_TEST_STOP_FILE"] = stopFile
	s.Ready = Readiness{Kind: ReadyNotify}
	pinger := mustStart(t, m, s)
	readyAt := waitReady(t, m, pinger.ID).Ready.ReadyAt
	silent := mustStart(t, m, Spec{Command: []string{"sleep", "100"}, Watchdog: WatchdogSpec{Timeout: dur(timeout), ExtraBuffer: dur(buffer)}})

	// Datagrams from outside silent's tree: from this test process...
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: l.Path(), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for range 5 { // counted below, whatever the pace of the goroutine's
		conn.Write([]byte("WATCHDOG=1"))
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				conn.Write([]byte("WATCHDOG=1"))
			}
		}
	}()
	// ...do not keep it alive: it is hung on time.
	checkEnded(t, wait(t, m, silent.ID), ReasonHung, timeout+buffer)

	// The pinger's own datagrams do: it runs on past five timeouts.
	got := testutil.WaitForValue(t, "the pinger alive 5 timeouts past ready, or ended",
		func() Info { got, _ := m.Get(Ref{ID: pinger.ID}); return got },
		func(got Info) bool { return got.State != Running || time.Since(readyAt) > 5*timeout })
	if got.State != Running || got.LastSource != watchdog.Notify || !got.Watchdog.Ready || got.Watchdog.NotifyStatus != "warming up" {
		t.Fatalf("pinger %v after ready: %v source %v ready %v status %q, exit %+v",
			time.Since(readyAt), got.State, got.LastSource, got.Watchdog.Ready, got.Watchdog.NotifyStatus, got.Exit)
	}
	stopped := time.Now()
	if err := os.WriteFile(stopFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fin := wait(t, m, pinger.ID)
	hung := nextOf(t, sub, pinger.ID, events.Hung)
	if fin.Exit.Reason != ReasonHung || fin.FinishedAt.Before(stopped) || fin.FinishedAt.Sub(stopped) > timeout+buffer+5*time.Second {
		t.Fatalf("pinger ended %v after its pings were stopped with %+v; want HUNG after about %v", fin.FinishedAt.Sub(stopped), fin.Exit, timeout+buffer)
	}
	if hung.Idle < timeout+buffer || hung.Idle > timeout+buffer+5*time.Second {
		t.Fatalf("pinger hung when idle %v; want %v or a little more", hung.Idle, timeout+buffer)
	}
	if accepted, rejected := l.Stats(); accepted < 5 || rejected < 5 {
		t.Fatalf("notify stats: %d accepted, %d rejected", accepted, rejected)
	}
}

// A spec's own NOTIFY_SOCKET does not cut the process off from the
// watchdog's notify source: procd's socket wins.
func TestSpecEnvCannotReplaceTheNotifySocket(t *testing.T) {
	m, l := notifyManager(t)
	s := sh(`echo "$NOTIFY_SOCKET"`)
	s.Env = map[string]string{"NOTIFY_SOCKET": "/elsewhere.sock"}
	info := mustStart(t, m, s)
	wait(t, m, info.ID)
	if out := strings.TrimSpace(stdout(t, m, info.ID)); out != l.Path() {
		t.Fatalf("NOTIFY_SOCKET=%q in the process; want procd's %q", out, l.Path())
	}
}

// A started program may send READY=1 before its start has registered the
// record (it runs before the fork returns its pid). Its datagram waits for
// the record instead of being refused as foreign; with no start in flight
// an unknown child of procd is refused at once.
func TestNotifyBeforeTheRecordIsRegistered(t *testing.T) {
	m, _ := newManager(t, Config{})
	m.notifyWait = time.Hour // a lost wakeup hangs the test instead of passing at the bound
	child := exec.Command("sleep", "100")
	child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // what a new leader looks like
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	pid := child.Process.Pid

	if m.HandleNotify(pid, []byte("READY=1")) {
		t.Fatal("a datagram from an unknown child was accepted with no start in flight")
	}

	m.pending.begin()
	accepted := make(chan bool)
	go func() { accepted <- m.HandleNotify(pid, []byte("READY=1")) }()
	// The start registers its record once the datagram is waiting for it.
	for m.pending.waiters.Load() == 0 {
		select {
		case ok := <-accepted:
			t.Fatalf("the datagram was answered (accepted %v) without waiting for the start in flight", ok)
		case <-time.After(time.Millisecond):
		}
	}
	r := &record{id: "p-early", pid: pid, pgid: pid, done: make(chan struct{}), exited: make(chan struct{})}
	m.mu.Lock()
	m.byPID[pid] = r
	m.mu.Unlock()
	m.pending.end()
	if !<-accepted {
		t.Fatal("the early datagram was refused")
	}
	r.mu.Lock()
	ready := r.ready
	r.mu.Unlock()
	if !ready {
		t.Fatal("READY=1 sent before the record was registered was lost")
	}
	m.mu.Lock()
	delete(m.byPID, pid)
	m.mu.Unlock()
}
