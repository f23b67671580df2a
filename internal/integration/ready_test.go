//go:build linux

package integration

import (
	"bufio"
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/procd/procd/internal/testutil"
)

// Must-show 2: procctl start --wait-ready returns only once the server
// answers, a server that never listens ends with STARTUP_TIMEOUT, and a
// silent start-up before READY=1 is not a hang.
func TestReadiness(t *testing.T) {
	d := startDaemon(t)
	t.Run("http.server", func(t *testing.T) {
		py, err := exec.LookPath("python3")
		if err != nil {
			t.Skip("python3 is not installed")
		}
		port := testutil.FreePort(t)
		url := "http://127.0.0.1:" + port + "/"
		id := strings.TrimSpace(d.mustCtl("start", "-q", "--ready", url, "--ready-interval", "50ms", "--wait-ready",
			"--name", "web", "--", py, "-m", "http.server", port, "--bind", "127.0.0.1"))
		// No retry here: the server must be usable the moment start returns.
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET right after start --wait-ready: %v", err)
		}
		resp.Body.Close()
		st := d.statusJSON(id)
		if st["state"] != "PROCESS_STATE_RUNNING" || st["readyAt"] == nil || st["ready"].(map[string]any)["http"] != url {
			t.Fatalf("status: %v", st)
		}
		if out := d.mustCtl("status", id); !strings.Contains(out, "ready after") {
			t.Fatalf("status shows no readiness:\n%s", out)
		}
		if r := d.ctl("wait", "--ready", id); r.code != 0 {
			t.Fatalf("wait --ready on a ready process: %v", r)
		}
		d.mustCtl("stop", id)
	})
	t.Run("never listens", func(t *testing.T) {
		began := time.Now()
		r := d.ctl("start", "--ready", "tcp:"+testutil.FreePort(t), "--startup-timeout", "1s", "--wait-ready", "--name", "mute", "--", "sleep", "60")
		if r.code != 1 || !strings.Contains(r.stderr, "ended before it was ready (STARTUP_TIMEOUT") || !strings.Contains(r.stderr, "connection refused") {
			t.Fatalf("start of a server that never listens: %v", r)
		}
		if took := time.Since(began); took < time.Second {
			t.Fatalf("gave up after %v, before the 1s startup timeout", took)
		}
		ps := d.mustCtl("ps", "--all", "--name", "mute")
		if !strings.Contains(ps, "STARTUP_TIMEOUT") {
			t.Fatalf("ps:\n%s", ps)
		}
		id := strings.Fields(ps[strings.Index(ps, "\n")+1:])[0]
		if r := d.ctl("wait", "--ready", id); r.code != 1 || !strings.Contains(r.stderr, "ended before it was ready (STARTUP_TIMEOUT") {
			t.Fatalf("wait --ready on a process that timed out: %v", r)
		}
	})
	t.Run("silent start-up", func(t *testing.T) {
		notifier := filepath.Join(binDir, "notifier")
		began := time.Now()
		id := strings.TrimSpace(d.mustCtl("start", "-q", "--ready", "notify", "--timeout", "1s", "--extra-buffer", "500ms", "--wait-ready",
			"--", notifier, "-delay", "3s", "-ready", "-interval", "200ms", "-count", "10"))
		if took := time.Since(began); took < 3*time.Second {
			t.Fatalf("ready after %v, before READY=1", took)
		}
		st := d.statusJSON(id)
		if st["state"] != "PROCESS_STATE_RUNNING" || st["exit"] != nil {
			t.Fatalf("after a 3 s silent start-up with a 1 s watchdog timeout: %v", st)
		}
		d.mustCtl("stop", id)
	})
	t.Run("watch shows READY", func(t *testing.T) {
		// watch follows for ever: read what it replays, then end it.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, "procctl"), "--socket", d.socket, "watch", "--after", "0", "--type", "ready")
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); cmd.Wait() }()
		rd := bufio.NewReader(out)
		line, err := rd.ReadString('\n')
		if err != nil || !strings.Contains(line, "\tready\t") || !strings.Contains(line, "ready after") {
			t.Fatalf("first READY event: %q %v", line, err)
		}
	})
}
