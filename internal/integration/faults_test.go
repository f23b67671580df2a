//go:build linux

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cgroupBase is the daemon's cgroup subtree, from its stats.
func cgroupBase(t *testing.T, d *daemon) string {
	t.Helper()
	var st struct {
		Daemon struct {
			CgroupBase string `json:"cgroupBase"`
		} `json:"daemon"`
	}
	json.Unmarshal([]byte(d.mustCtl("--json", "stats")), &st)
	if st.Daemon.CgroupBase == "" {
		t.Skip("procd runs without cgroup containment here")
	}
	return st.Daemon.CgroupBase
}

// populated lists the cgroups under base that still hold a process.
func populated(base string) []string {
	var out []string
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(base, e.Name(), "cgroup.events"))
		if strings.Contains(string(b), "populated 1") {
			out = append(out, e.Name())
		}
	}
	return out
}

// The fault-injection tier: procd kills itself (SIGKILL) at a chosen point
// of start, stop or exit handling; nothing of any tree may survive it, and
// the next procd starts cleanly on the same socket.
func TestCrashAtInjectedPointsLeaksNothing(t *testing.T) {
	for _, tc := range []struct {
		fault    string
		workload func(d *daemon)
	}{
		{"after-clone:3", func(d *daemon) {
			// The third start crashes between clone and registration.
			for range 3 {
				d.ctl("start", "-q", "--", "sh", "-c", `setsid sleep 1000 & sleep 1000`)
			}
		}},
		{"escalating:1", func(d *daemon) {
			id := strings.TrimSpace(d.mustCtl("start", "-q", "--", "sh", "-c", `trap "" TERM; setsid sleep 1000 & sleep 1000`))
			d.mustCtl("start", "-q", "--", "sh", "-c", `setsid sleep 1000 & sleep 1000`)
			d.ctl("stop", id)
		}},
		{"settling:2", func(d *daemon) {
			d.mustCtl("start", "-q", "--", "sh", "-c", `setsid sleep 1000 & sleep 1000`)
			d.ctl("run", "true")
			d.ctl("run", "--", "sh", "-c", `setsid sleep 1000 >/dev/null 2>&1 & exit 3`)
		}},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			d := startDaemonEnv(t, []string{"PROCD_FAULT=" + tc.fault})
			base := cgroupBase(t, d)
			tc.workload(d)
			select {
			case <-d.exited:
			case <-time.After(15 * time.Second):
				t.Fatalf("the fault %s never fired", tc.fault)
			}
			if ws, ok := d.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("procd ended with %v, not the injected SIGKILL", d.cmd.ProcessState)
			}
			deadline := time.Now().Add(time.Second)
			for len(populated(base)) > 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if left := populated(base); len(left) > 0 {
				t.Fatalf("cgroups still populated 1 s after the crash: %v", left)
			}
			d.env = nil
			d.start()
			d.mustCtl("run", "true")
		})
	}
}
