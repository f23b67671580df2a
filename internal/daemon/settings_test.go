package daemon

import (
	"testing"
	"time"

	"github.com/procd/procd/internal/config"
	"github.com/procd/procd/internal/manager"
)

// config keeps its own copy of the manager's defaults (it is a leaf); the
// daemon's translation of them must be exactly what the manager would
// pick for a zero Config.
func TestConfigDefaultsAreTheManagers(t *testing.T) {
	def := config.Default()
	got := managerConfig(&def)
	in := manager.DefaultInputLimits()
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"RingSize", got.RingSize, manager.DefaultRingSize},
		{"SessionWindow", got.SessionWindow, manager.DefaultSessionWindow},
		{"MaxProcesses", got.MaxProcesses, manager.DefaultMaxProcesses},
		{"RetainFinished", got.RetainFinished, manager.DefaultRetainFinished},
		{"RetainAge", got.RetainAge, manager.DefaultRetainAge},
		{"Grace", got.Grace, manager.DefaultGrace},
		{"PipeWait", got.PipeWait, manager.DefaultPipeWait},
		{"Watchdog", got.Watchdog, manager.DefaultWatchdog()},
		{"Readiness", got.Readiness, manager.ReadinessDefaults{Interval: manager.DefaultReadyInterval,
			AttemptTimeout: manager.DefaultReadyAttemptTimeout, StartupTimeout: manager.DefaultStartupTimeout}},
		{"Restart", got.Restart, manager.DefaultRestart()},
		{"Input.MaxArgs", got.Input.MaxArgs, in.MaxArgs},
		{"Input.MaxArgBytes", got.Input.MaxArgBytes, in.MaxArgBytes},
		{"Input.MaxEnv", got.Input.MaxEnv, in.MaxEnv},
		{"Input.MaxEnvBytes", got.Input.MaxEnvBytes, in.MaxEnvBytes},
		{"Input.MaxLabels", got.Input.MaxLabels, in.MaxLabels},
	} {
		if c.got != c.want {
			t.Errorf("%s: config's default gives %v, the manager's is %v", c.name, c.got, c.want)
		}
	}
}

func TestManagerConfigFromFlags(t *testing.T) {
	c := config.Default()
	c.Socket = "/run/x/procd.sock"
	c.AutoKill = false
	c.Grace = config.Duration(7 * time.Second)
	c.MaxArgBytes = 4096
	c.StateDir = "/var/lib/procd"
	got := managerConfig(&c)
	switch {
	case !got.Watchdog.NoAutoKill:
		t.Error("--auto-kill=false did not reach the manager")
	case got.Grace != 7*time.Second:
		t.Errorf("grace %v", got.Grace)
	case got.Input.MaxArgBytes != 4096 || got.Input.MaxEnvBytes != 4096:
		t.Errorf("--max-arg-bytes bounds args and env: %+v", got.Input)
	case got.NotifySocket != c.NotifyPath() || got.StateDir != c.InstanceStateDir():
		t.Errorf("notify %q state %q, want %q %q", got.NotifySocket, got.StateDir, c.NotifyPath(), c.InstanceStateDir())
	}
}
