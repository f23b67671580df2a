package daemon

import (
	"time"

	"github.com/procd/procd/internal/config"
	"github.com/procd/procd/internal/manager"
)

// managerConfig is the process table's part of the daemon's settings. The
// daemon's hooks (cgroups, tracker, faults, kill observer) are filled in by
// New.
func managerConfig(c *config.Config) manager.Config {
	return manager.Config{
		RingSize:       int(c.RingSize),
		SessionWindow:  int(c.SessionWindow),
		MaxProcesses:   c.MaxProcesses,
		RetainFinished: c.RetainFinished,
		RetainAge:      time.Duration(c.RetainAge),
		Grace:          time.Duration(c.Grace),
		PipeWait:       time.Duration(c.PipeWait),
		Watchdog: manager.WatchdogDefaults{
			ProcessTimeout: time.Duration(c.ProcessTimeout),
			ExtraBuffer:    time.Duration(c.ExtraBuffer),
			MaxHangTime:    time.Duration(c.MaxHangTime),
			NoAutoKill:     !c.AutoKill,
			CheckInterval:  time.Duration(c.CheckInterval),
		},
		Readiness:    readinessDefaults(c),
		Restart:      restartDefaults(c),
		NotifySocket: c.NotifyPath(),
		StateDir:     c.InstanceStateDir(),
		LogFiles:     c.LogFiles,
		LogFileSize:  int64(c.LogFileSize),
		LogFileCount: c.LogFileCount,
		Input: manager.InputLimits{
			MaxArgs:     c.MaxArgs,
			MaxArgBytes: int(c.MaxArgBytes),
			MaxEnv:      c.MaxEnv,
			MaxEnvBytes: int(c.MaxArgBytes),
			MaxLabels:   c.MaxLabels,
		},
	}
}

// readinessDefaults translates the readiness settings; a start-up timeout
// of 0 (none) is the manager's negative.
func readinessDefaults(c *config.Config) manager.ReadinessDefaults {
	d := manager.ReadinessDefaults{
		Interval:       time.Duration(c.ReadyInterval),
		AttemptTimeout: time.Duration(c.ReadyAttemptTimeout),
		StartupTimeout: time.Duration(c.StartupTimeout),
	}
	if d.StartupTimeout == 0 {
		d.StartupTimeout = -1
	}
	return d
}

// restartDefaults translates the --restart-* settings; the manager's
// "none" is negative where the flags' is 0.
func restartDefaults(c *config.Config) manager.RestartDefaults {
	return manager.RestartDefaults{
		Delay:      time.Duration(c.RestartDelay),
		Multiplier: c.RestartMultiplier,
		MaxDelay:   time.Duration(c.RestartMaxDelay),
		Jitter:     orNone(c.RestartJitter),
		Limit:      orNone(c.RestartMax.Count),
		Window:     time.Duration(c.RestartMax.Window),
		ResetAfter: orNone(time.Duration(c.RestartResetAfter)),
		History:    c.RestartHistory,
	}
}

func orNone[T int | float64 | time.Duration](v T) T {
	if v == 0 {
		return -1
	}
	return v
}
