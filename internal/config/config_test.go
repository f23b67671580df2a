package config

import (
	"fmt"
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
	if err := ApplyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, SetOnCommandLine(fs)); err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.Grace) != 5*time.Second || c.RingSize != 64<<10 || c.AutoKill {
		t.Fatalf("grace %v ring %d auto-kill %v", time.Duration(c.Grace), c.RingSize, c.AutoKill)
	}
	env["PROCD_RING_SIZE"] = "lots"
	fs2 := pflag.NewFlagSet("procd", pflag.ContinueOnError)
	c2 := Default()
	c2.Bind(fs2)
	if err := ApplyEnv(fs2, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil); err == nil || !strings.Contains(err.Error(), "PROCD_RING_SIZE") {
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
	c = Default()
	c.PipeWait = Duration(-time.Second)
	if err := c.Validate(); err == nil || err.Error() != "--pipe-wait -1s must not be negative" {
		t.Fatalf("negative pipe wait: %v", err)
	}
}

func TestConfigFileStrictAndPrecedence(t *testing.T) {
	c := Default()
	fs := pflag.NewFlagSet("procd", pflag.ContinueOnError)
	c.Bind(fs)
	fs.Parse([]string{"--grace", "7s"})
	file := `# comment
ring-size = "64KiB"
grace = "1s"          # the command line wins
process-timeout = 10  # bare seconds
allow-uid = ["1000", "root"]
`
	env := map[string]string{"PROCD_RING_SIZE": "128KiB"}
	cli := SetOnCommandLine(fs)
	if err := LoadFile(fs, strings.NewReader(file), "procd.toml", "", cli); err != nil {
		t.Fatal(err)
	}
	if err := ApplyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, cli); err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.Grace) != 7*time.Second || c.RingSize != 128<<10 || time.Duration(c.ProcessTimeout) != 10*time.Second ||
		len(c.AllowUIDs) != 2 || c.AllowUIDs[1] != "root" {
		t.Fatalf("config %+v", c)
	}
	for _, tc := range []struct{ file, want string }{
		{"ring-size = 1\nbogus-key = 2\n", `procd.toml:2: unknown key "bogus-key"`},
		{"grace = \"soon\"\n", `invalid duration "soon"`},
		{"[table]\nx = 1\n", `unknown key "table"`},
	} {
		err := LoadFile(fs, strings.NewReader(tc.file), "procd.toml", "", nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.file, err, tc.want)
		}
	}
	yml := "ring-size: 32KiB\nlog-level: debug\nnope: 1\n"
	err := LoadFile(fs, strings.NewReader(yml), "procd.yaml", "", nil)
	if err == nil || !strings.Contains(err.Error(), `procd.yaml:3: unknown key "nope"`) {
		t.Fatalf("yaml: %v", err)
	}
}

// The default config, fed back, changes nothing.
func TestDefaultConfigRoundTrips(t *testing.T) {
	c := Default()
	fs := pflag.NewFlagSet("procd", pflag.ContinueOnError)
	c.Bind(fs)
	var b strings.Builder
	if err := WriteDefault(&b, fs); err != nil {
		t.Fatal(err)
	}
	c2 := Default()
	fs2 := pflag.NewFlagSet("procd", pflag.ContinueOnError)
	c2.Bind(fs2)
	if err := LoadFile(fs2, strings.NewReader(b.String()), "default", "", nil); err != nil {
		t.Fatalf("default config does not load: %v\n%s", err, b.String())
	}
	if fmt.Sprint(c) != fmt.Sprint(c2) {
		t.Fatalf("round trip changed the config:\n%+v\n%+v", c, c2)
	}
}

// FuzzParseDuration and FuzzParseSize never panic, and what they accept
// round-trips in meaning.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30", "1.5", "1.5s", "2m", "-1", "1e9", "NaN", "", "1h2m3s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && strings.TrimSpace(s) == "" {
			t.Fatalf("empty input accepted as %v", d)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "64K", "1MiB", "2G", "-1", "1T", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseSize(s); err == nil && n < 0 {
			t.Fatalf("negative size %d from %q", n, s)
		}
	})
}

// FuzzLoadFile: a config file of any content is either refused with an
// error or applied; it never panics.
func FuzzLoadFile(f *testing.F) {
	f.Add("ring-size = \"1MiB\"\n")
	f.Add("grace: 2s\nlog-level: debug\n")
	f.Add("[x]\ny = 1\n")
	f.Add("allow-uid = [1, \"root\"]\n")
	f.Fuzz(func(t *testing.T, content string) {
		c := Default()
		fs := pflag.NewFlagSet("procd", pflag.ContinueOnError)
		c.Bind(fs)
		LoadFile(fs, strings.NewReader(content), "fuzz", "", nil)
	})
}
