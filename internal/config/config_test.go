package config

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/procd/procd/internal/policy"
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
	if _, err := LoadFile(fs, strings.NewReader(file), "procd.toml", "", cli); err != nil {
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
		_, err := LoadFile(fs, strings.NewReader(tc.file), "procd.toml", "", nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.file, err, tc.want)
		}
	}
	yml := "ring-size: 32KiB\nlog-level: debug\nnope: 1\n"
	_, err := LoadFile(fs, strings.NewReader(yml), "procd.yaml", "", nil)
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
	if _, err := LoadFile(fs2, strings.NewReader(b.String()), "default", "", nil); err != nil {
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
	f.Add(policyTOML)
	f.Add(policyYAML)
	f.Add("control-client = [\"uri:spiffe://x/y\"]\nread-client = \"cn:a,dns:b\"\n")
	f.Fuzz(func(t *testing.T, content string) {
		c := Default()
		fs := pflag.NewFlagSet("procd", pflag.ContinueOnError)
		c.Bind(fs)
		pol, err := LoadFile(fs, strings.NewReader(content), "fuzz", "", nil)
		if err != nil {
			return
		}
		c.Validate()
		// Names resolve to an error here: only the parsing is fuzzed.
		no := func(string) (int, error) { return 0, errors.New("no lookups") }
		policy.Compile(pol, 0, policy.Lookup{User: no, Group: no})
	})
}

const policyTOML = `log-level = "debug"

[[policy.rules]]
name = "root"
match = ["uid:0"]

[[policy.rules]]
name = "fuzz runners"
match = ["uri:spiffe://cluster.local/ns/fuzz/sa/runner", "token:ci"]
executables = ["/usr/bin/*"]
users = [1001]
env = []
`

const policyYAML = `log-level: debug
policy:
  rules:
    - name: root
      match: ["uid:0"]
    - name: fuzz runners
      match: [uri:spiffe://cluster.local/ns/fuzz/sa/runner, token:ci]
      executables: [/usr/bin/*]
      users: [1001]
      env: []
`

func TestPolicySection(t *testing.T) {
	for name, file := range map[string]string{"procd.toml": policyTOML, "procd.yaml": policyYAML} {
		c := Default()
		fs := pflag.NewFlagSet("procd", pflag.ContinueOnError)
		c.Bind(fs)
		pol, err := LoadFile(fs, strings.NewReader(file), name, "", nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.LogLevel != "debug" || pol == nil || len(pol.Rules) != 2 {
			t.Fatalf("%s: log level %q, policy %+v", name, c.LogLevel, pol)
		}
		r := pol.Rules[1]
		if r.Name != "fuzz runners" || len(r.Match) != 2 || len(*r.Executables) != 1 || (*r.Executables)[0] != "/usr/bin/*" || (*r.Users)[0] != "1001" || r.Env == nil || len(*r.Env) != 0 || r.Groups != nil {
			t.Fatalf("%s: rule %+v", name, r)
		}
	}
	// Strict: an unknown key in a rule is an error naming where it is.
	bad := strings.Replace(policyTOML, "users = [1001]", "user = [1001]", 1)
	fs := pflag.NewFlagSet("procd", pflag.ContinueOnError)
	c := Default()
	c.Bind(fs)
	_, err := LoadFile(fs, strings.NewReader(bad), "procd.toml", "", nil)
	if err == nil || !strings.Contains(err.Error(), `procd.toml:3: policy.rules[1]: unknown key "user"`) {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestClientMappings(t *testing.T) {
	c := Default()
	c.ReadClients = []string{"cn:viewer"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "need --client-ca") {
		t.Fatalf("mapping without a CA: %v", err)
	}
	c.TLSCert, c.TLSKey, c.ClientCA = "c", "k", "ca"
	c.ControlClients = []string{"uri:spiffe://cluster.local/ns/fuzz/sa/runner", "dns:Runner.Example"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.ReadClients = append(c.ReadClients, "dns:runner.example")
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "also given to --control-client") {
		t.Fatalf("one identity, two roles: %v", err)
	}
	c.ReadClients = []string{"ip:127.0.0.1"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `--read-client: client identity "ip:127.0.0.1"`) {
		t.Fatalf("bad identity: %v", err)
	}
}

func TestRestartSettingsFromAFile(t *testing.T) {
	c := Default()
	fs := pflag.NewFlagSet("procd", pflag.ContinueOnError)
	c.Bind(fs)
	file := "restart-delay = \"100ms\"\nrestart-max = \"3/30s\"\nrestart-jitter = 0\n"
	if _, err := LoadFile(fs, strings.NewReader(file), "procd.toml", "", nil); err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.RestartDelay) != 100*time.Millisecond || c.RestartMax != (RestartLimit{3, Duration(30 * time.Second)}) ||
		c.RestartJitter != 0 || c.Validate() != nil {
		t.Fatalf("restart settings %v %v %v (%v)", c.RestartDelay, c.RestartMax, c.RestartJitter, c.Validate())
	}
	for _, tc := range []struct{ in, want string }{
		{"5/1m", "5/1m0s"}, {"0", "0"}, {"none", "0"}, {"2/90", "2/1m30s"},
	} {
		l, err := ParseRestartLimit(tc.in)
		if err != nil || l.String() != tc.want {
			t.Errorf("ParseRestartLimit(%q) = %v, %v; want %s", tc.in, l.String(), err, tc.want)
		}
	}
	for _, bad := range []string{"5", "x/1m", "5/", "5/-1s", "-2/1m"} {
		if _, err := ParseRestartLimit(bad); err == nil {
			t.Errorf("ParseRestartLimit(%q) accepted", bad)
		}
	}
	c.RestartMultiplier = 0.5
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--restart-multiplier") {
		t.Fatalf("multiplier 0.5: %v", err)
	}
}
