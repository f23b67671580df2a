package config

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30": 30 * time.Second, "1.5": 1500 * time.Millisecond, "1.5s": 1500 * time.Millisecond,
		"2m": 2 * time.Minute, "0": 0, "-1": -time.Second, " 5 ": 5 * time.Second,
	} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "1x", "s"} {
		if _, err := ParseDuration(in); err == nil || !strings.Contains(err.Error(), "bare seconds") {
			t.Errorf("ParseDuration(%q): %v", in, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"65536": 65536, "64K": 64 << 10, "64KiB": 64 << 10, "64kb": 64 << 10, "1M": 1 << 20, "1MiB": 1 << 20, "2G": 2 << 30, "0": 0,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1T", "abc", "99999999999G"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

func TestEnvFillsOnlyFlagsNotSet(t *testing.T) {
	c := Default()
	fs := pflag.NewFlagSet("procd", pflag.ContinueOnError)
	c.Bind(fs)
	if err := fs.Parse([]string{"--grace", "5s"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PROCD_GRACE": "9s", "PROCD_RING_SIZE": "64KiB", "PROCD_AUTO_KILL": "false"}
	if err := ApplyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.Grace) != 5*time.Second || c.RingSize != 64<<10 || c.AutoKill {
		t.Fatalf("grace %v ring %d auto-kill %v", time.Duration(c.Grace), c.RingSize, c.AutoKill)
	}
	env["PROCD_RING_SIZE"] = "lots"
	fs2 := pflag.NewFlagSet("procd", pflag.ContinueOnError)
	c2 := Default()
	c2.Bind(fs2)
	if err := ApplyEnv(fs2, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil || !strings.Contains(err.Error(), "PROCD_RING_SIZE") {
		t.Fatalf("bad env value: %v", err)
	}
}

func TestDefaultsValidateAndNotifyPath(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.AutoKill != true || time.Duration(c.ProcessTimeout) != 30*time.Second || time.Duration(c.MaxHangTime) != time.Minute {
		t.Fatalf("watchdog defaults %+v", c)
	}
	c.Socket = "/run/x/procd.sock"
	if runtime.GOOS == "linux" {
		if got := c.NotifyPath(); got != "/run/x/notify.sock" {
			t.Fatalf("notify path %q", got)
		}
	}
	c.NotifySocket = "none"
	if got := c.NotifyPath(); got != "" {
		t.Fatalf("notify none: %q", got)
	}
	c.LogLevel = "loud"
	if err := c.Validate(); err == nil {
		t.Fatal("bad log level accepted")
	}
}
