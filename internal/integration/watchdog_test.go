//go:build linux

package integration

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runningFor returns how long a finished process ran, from its record.
func runningFor(t *testing.T, d *daemon, id string) time.Duration {
	t.Helper()
	st := d.statusJSON(id)
	dur, err := time.ParseDuration(st["duration"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return dur
}

func reasonOf(t *testing.T, d *daemon, id string) string {
	t.Helper()
	return d.statusJSON(id)["exit"].(map[string]any)["reason"].(string)
}

// Issue 3, must-show 1.
func TestRunTimeoutEndsHungProcess(t *testing.T) {
	d := startDaemon(t)
	r := d.ctl("run", "--timeout", "1s", "--extra-buffer", "0.5s", "--", "sleep", "100")
	if r.code != 143 {
		t.Fatalf("run: %v", r)
	}
	if got := reasonOf(t, d, "p-1"); got != "EXIT_REASON_HUNG" {
		t.Fatalf("reason %s", got)
	}
	if ran := runningFor(t, d, "p-1"); !onTime(ran, 1500*time.Millisecond, 2500*time.Millisecond) {
		t.Fatalf("ran %v, want about 1.5 s and never less", ran)
	}
	r = d.ctl("run", "--timeout", "1", "--extra-buffer", "0.5", "--no-auto-kill", "--max-hang-time", "3s", "--", "sleep", "100")
	if r.code != 137 {
		t.Fatalf("run --no-auto-kill: %v", r)
	}
	if ran := runningFor(t, d, "p-2"); !onTime(ran, 3*time.Second, 3*time.Second) {
		t.Fatalf("ran %v, want about 3 s", ran)
	}
}

// Issue 3, must-show 2: WATCHDOG=1 every 200 ms keeps a process alive past
// 5× its timeout; it is killed about timeout + buffer after the pings stop;
// datagrams from outside its tree do not keep it alive.
func TestNotifyWatchdogPings(t *testing.T) {
	d := startDaemon(t)
	notifier := filepath.Join(binDir, "notifier")
	// The windows widen by the build's time factor (a ping has to get
	// through a slower daemon), the pings with them: still 6× the timeout.
	timeout, buffer, interval := built.Time(500*time.Millisecond), built.Time(250*time.Millisecond), built.Time(200*time.Millisecond)
	pinger := strings.TrimSpace(d.mustCtl("start", "-q", "--timeout", timeout.String(), "--extra-buffer", buffer.String(), "--",
		notifier, "-ready", "-status", "fuzzing", "-interval", interval.String(), "-count", "15"))
	silent := strings.TrimSpace(d.mustCtl("start", "-q", "--timeout", timeout.String(), "--extra-buffer", buffer.String(), "--", "sleep", "100"))

	// This test process is outside every tree: its pings are refused.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: filepath.Join(d.dir, "notify.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for range 5 {
		conn.Write([]byte("WATCHDOG=1"))
	}
	if r := d.ctl("wait", silent); r.code != 143 || reasonOf(t, d, silent) != "EXIT_REASON_HUNG" {
		t.Fatalf("silent process: %v", r)
	}
	if ran := runningFor(t, d, silent); !onTime(ran, timeout+buffer, 2250*time.Millisecond) {
		t.Fatalf("silent process ran %v", ran)
	}
	st := d.statusJSON(pinger)
	wd := st["watchdog"].(map[string]any)
	if st["state"] != "PROCESS_STATE_RUNNING" || wd["lastActivitySource"] != "ACTIVITY_SOURCE_NOTIFY" ||
		wd["ready"] != true || wd["notifyStatus"] != "fuzzing" {
		t.Fatalf("pinger while pinging: %v", st)
	}
	if r := d.ctl("wait", pinger); r.code != 143 {
		t.Fatalf("pinger: %v", r)
	}
	// 15 pings × interval = 6× the timeout, then timeout + buffer of silence.
	if ran := runningFor(t, d, pinger); !onTime(ran, 15*interval, 3*time.Second) || reasonOf(t, d, pinger) != "EXIT_REASON_HUNG" {
		t.Fatalf("pinger ran %v", ran)
	}
	if out := d.mustCtl("stats"); !strings.Contains(out, "5 rejected") {
		t.Fatalf("stats do not count the 5 foreign datagrams:\n%s", out)
	}
}

// Issue 3, must-show 3.
func TestOutputAndHeartbeatSources(t *testing.T) {
	d := startDaemon(t)
	chatty := []string{"--", "sh", "-c", "while :; do echo tick; sleep 0.2; done"}
	// The windows widen by the build's time factor: a heartbeat is a
	// procctl round trip, slower race-built.
	window := []string{"--timeout", built.Time(600 * time.Millisecond).String(), "--extra-buffer", built.Time(200 * time.Millisecond).String()}
	on := strings.TrimSpace(d.mustCtl(append(append([]string{"start", "-q"}, window...), chatty...)...))
	off := strings.TrimSpace(d.mustCtl(append(append([]string{"start", "-q", "--activity", "heartbeat,notify"}, window...), chatty...)...))
	silent := strings.TrimSpace(d.mustCtl(append(append([]string{"start", "-q"}, window...), "sleep", "100")...))
	// Heartbeats for three times the hang threshold.
	for end := time.Now().Add(3 * built.Time(800*time.Millisecond)); time.Now().Before(end); {
		d.mustCtl("heartbeat", silent)
		time.Sleep(200 * time.Millisecond)
	}
	if r := d.ctl("wait", off); r.code != 143 || reasonOf(t, d, off) != "EXIT_REASON_HUNG" {
		t.Fatalf("chatty with output off: %v", r)
	}
	for _, id := range []string{on, silent} {
		if st := d.statusJSON(id); st["state"] != "PROCESS_STATE_RUNNING" {
			t.Fatalf("%s should still run: %v", id, st)
		}
	}
	if r := d.ctl("wait", silent); r.code != 143 || reasonOf(t, d, silent) != "EXIT_REASON_HUNG" {
		t.Fatalf("silent after heartbeats stopped: %v", r)
	}
}

// Issue 3, must-show 4.
func TestDeadline(t *testing.T) {
	d := startDaemon(t)
	r := d.ctl("run", "--deadline", "2s", "--", "sh", "-c", "while :; do echo x; sleep 0.1; done")
	if r.code != 143 || reasonOf(t, d, "p-1") != "EXIT_REASON_DEADLINE" {
		t.Fatalf("run --deadline: exit %d, reason %s", r.code, reasonOf(t, d, "p-1"))
	}
	if ran := runningFor(t, d, "p-1"); !onTime(ran, 2*time.Second, 2*time.Second) {
		t.Fatalf("ran %v", ran)
	}
}
