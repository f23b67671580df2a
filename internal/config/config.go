// Package config holds procd's daemon configuration as plain values: its
// defaults, the flags and PROCD_* variables that set it, config files, the
// default socket path shared with procctl, and the value types used by both
// command lines (durations that accept bare seconds, byte sizes with units).
// Precedence is defaults, then a config file, then PROCD_* environment
// variables, then flags the user actually set.
//
// config is a leaf: it imports no other procd package but the policy
// vocabulary (to decode a config file's command policy and check client
// identities), so procctl links it without the daemon's core. The daemon
// (internal/daemon) turns a Config into the settings of each component.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/procd/procd/internal/policy"
)

// Config is the daemon's configuration.
type Config struct {
	Socket   string // Unix socket path
	Listen   string // optional TCP address (loopback only, with Insecure)
	Insecure bool   // allow plaintext TCP on loopback

	LogLevel  string // debug, info, warn, error
	LogFormat string // json or console

	RingSize        Size
	SessionWindow   Size
	EventRingSize   int
	MaxProcesses    int
	RetainFinished  int
	RetainAge       Duration
	Grace           Duration
	PipeWait        Duration
	ShutdownTimeout Duration
	MaxMsgSize      Size

	// Watchdog defaults, with the original ProcessWatchdog's values.
	CheckInterval  Duration
	ProcessTimeout Duration
	ExtraBuffer    Duration
	MaxHangTime    Duration
	AutoKill       bool
	NotifySocket   string // "" : next to Socket; "none": no notify socket

	// Readiness defaults, for processes started with a readiness check.
	StartupTimeout      Duration // 0: none
	ReadyInterval       Duration
	ReadyAttemptTimeout Duration

	MaxBatchJobs int // batch jobs running at once across all batches

	// Restart policy defaults, for specs that leave a field unset.
	RestartDelay      Duration
	RestartMultiplier float64
	RestartMaxDelay   Duration
	RestartJitter     float64
	RestartMax        RestartLimit
	RestartResetAfter Duration // 0: never
	RestartHistory    int      // runs listed per record

	Containment string // auto, cgroup or pgroup
	CgroupName  string // procd's directory in each cgroup hierarchy; "": derived from Socket
	// ExactPeakMemory gives every tree a fresh cgroup with memory
	// accounting, so each exit reports its exact peak memory; without it,
	// trees without limits run in recycled cgroups (far cheaper per start)
	// and report CPU time only.
	ExactPeakMemory bool

	StateDir     string // per-process output log files live under StateDir/logs
	Store        bool   // keep records across restarts in the state directory's database
	LogFiles     bool   // default for processes that do not say
	LogFileSize  Size   // per file
	LogFileCount int    // files per stream

	// Access on the Unix socket (numbers or names).
	AllowUIDs, AllowGIDs []string // control: everything
	ReadUIDs, ReadGIDs   []string // read-only
	SocketGroup          string   // group owning the socket (and its directory)
	SocketMode           string   // octal, e.g. 0660

	// TCP security: every TCP client proves who it is, with a client
	// certificate verified against ClientCA and mapped to a role by
	// ControlClients/ReadClients (cn:NAME, dns:NAME, uri:URI), or with a
	// bearer token from TokenFile (NAME ROLE TOKEN lines).
	TLSCert, TLSKey, ClientCA   string
	ControlClients, ReadClients []string
	TokenFile                   string

	// Policy is the config file's command policy; nil: the default.
	Policy *policy.Config

	MaxStreams uint32 // concurrent calls per connection

	MetricsAddr string // host:port serving /metrics ("" : off)
	PprofAddr   string // host:port serving /debug/pprof ("" : off)

	// Input limits per request.
	MaxArgs, MaxEnv, MaxLabels int
	MaxArgBytes                Size
}

// InstanceStateDir is this daemon's part of the state directory, named like
// its cgroup directory so daemons on different sockets never share it.
func (c *Config) InstanceStateDir() string {
	if c.StateDir == "" {
		return ""
	}
	return filepath.Join(c.StateDir, c.CgroupDir())
}

// DefaultStateDir is /var/lib/procd for root, else $XDG_STATE_HOME/procd,
// else ~/.local/state/procd.
func DefaultStateDir() string {
	if os.Getuid() == 0 {
		return "/var/lib/procd"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "procd")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "procd")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("procd-%d-state", os.Getuid()))
}

// CgroupDir is procd's directory name in the cgroup hierarchies: "procd"
// for the default socket, else "procd-" and a hash of the socket path, so
// daemons on different sockets never sweep each other's processes.
func (c *Config) CgroupDir() string {
	switch {
	case c.CgroupName != "":
		return c.CgroupName
	case c.Socket == DefaultSocket():
		return "procd"
	}
	sum := sha256.Sum256([]byte(c.Socket + "\x00" + c.Listen))
	return "procd-" + hex.EncodeToString(sum[:4])
}

// Default returns the defaults. The process-table and watchdog values are
// the original ProcessWatchdog's and the manager's own (the daemon's tests
// check that they agree); config holds them itself so that it stays a leaf
// procctl can link without the core.
func Default() Config {
	return Config{
		Socket:              DefaultSocket(),
		LogLevel:            "info",
		LogFormat:           "json",
		RingSize:            1 << 20,
		SessionWindow:       4 << 20,
		EventRingSize:       8192,
		MaxProcesses:        10000,
		RetainFinished:      1000,
		RetainAge:           Duration(time.Hour),
		Grace:               Duration(2 * time.Second),
		PipeWait:            Duration(2 * time.Second),
		ShutdownTimeout:     Duration(10 * time.Second),
		MaxMsgSize:          4 << 20,
		CheckInterval:       Duration(time.Second),
		ProcessTimeout:      Duration(30 * time.Second),
		ExtraBuffer:         Duration(5 * time.Second),
		MaxHangTime:         Duration(60 * time.Second),
		AutoKill:            true,
		StartupTimeout:      Duration(60 * time.Second),
		ReadyInterval:       Duration(250 * time.Millisecond),
		ReadyAttemptTimeout: Duration(time.Second),
		MaxBatchJobs:        64,
		Containment:         "auto",
		StateDir:            DefaultStateDir(),
		Store:               true,
		LogFileSize:         16 << 20,
		LogFileCount:        4,
		SocketMode:          "0600",
		MaxStreams:          256,
		MaxArgs:             4096,
		MaxEnv:              4096,
		MaxLabels:           64,
		MaxArgBytes:         1 << 20,

		RestartDelay:      Duration(time.Second),
		RestartMultiplier: 2,
		RestartMaxDelay:   Duration(time.Minute),
		RestartJitter:     0.1,
		RestartMax:        RestartLimit{Count: 5, Window: Duration(time.Minute)},
		RestartResetAfter: Duration(time.Minute),
		RestartHistory:    20,
	}
}

// NotifyPath is where the sd_notify socket goes: --notify-socket, or
// notify.sock next to the control socket; "" when there is none (always off
// Linux, where senders cannot be identified).
func (c *Config) NotifyPath() string {
	switch {
	case c.NotifySocket == "none" || runtime.GOOS != "linux":
		return ""
	case c.NotifySocket != "":
		return c.NotifySocket
	case c.Socket != "":
		return filepath.Join(filepath.Dir(c.Socket), "notify.sock")
	}
	return ""
}

// DefaultSocket is /run/procd/procd.sock for root, else
// $XDG_RUNTIME_DIR/procd/procd.sock, else /tmp/procd-$UID/procd.sock.
func DefaultSocket() string {
	uid := os.Getuid()
	if uid == 0 {
		return "/run/procd/procd.sock"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "procd", "procd.sock")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("procd-%d", uid), "procd.sock")
}

// Validate checks values that flags cannot.
func (c *Config) Validate() error {
	for _, d := range []struct {
		flag string
		v    Duration
	}{{"--grace", c.Grace}, {"--pipe-wait", c.PipeWait}, {"--shutdown-timeout", c.ShutdownTimeout},
		{"--process-timeout", c.ProcessTimeout}, {"--extra-buffer", c.ExtraBuffer}, {"--max-hang-time", c.MaxHangTime},
		{"--startup-timeout", c.StartupTimeout}, {"--restart-reset-after", c.RestartResetAfter}} {
		if d.v < 0 {
			return fmt.Errorf("%s %v must not be negative", d.flag, time.Duration(d.v))
		}
	}
	switch {
	case c.Socket == "" && c.Listen == "":
		return fmt.Errorf("no listener: set --socket or --listen")
	case c.RingSize < 1:
		return fmt.Errorf("--ring-size must be at least 1 byte")
	case c.SessionWindow < 64<<10 || c.SessionWindow > 1<<30:
		return fmt.Errorf("--session-window %d is out of range (64KiB to 1GiB)", c.SessionWindow)
	case c.EventRingSize < 16:
		return fmt.Errorf("--event-ring-size %d is too small (at least 16)", c.EventRingSize)
	case c.CheckInterval < Duration(10*time.Millisecond):
		return fmt.Errorf("--check-interval %v is too short (at least 10ms)", time.Duration(c.CheckInterval))
	case c.ReadyInterval < Duration(10*time.Millisecond) || c.ReadyAttemptTimeout < Duration(10*time.Millisecond):
		return fmt.Errorf("--ready-interval and --ready-attempt-timeout must be at least 10ms")
	case c.LogFileSize < 4096 || c.LogFileCount < 1:
		return fmt.Errorf("--log-file-size must be at least 4KiB and --log-file-count at least 1")
	case c.LogFiles && c.StateDir == "":
		return fmt.Errorf("--log-files needs a --state-dir")
	case c.MaxBatchJobs < 1:
		return fmt.Errorf("--max-batch-jobs must be at least 1")
	case c.RestartDelay <= 0 || c.RestartMaxDelay < c.RestartDelay:
		return fmt.Errorf("--restart-delay must be positive and at most --restart-max-delay (%v)", time.Duration(c.RestartMaxDelay))
	case !(c.RestartMultiplier >= 1) || !(c.RestartJitter >= 0 && c.RestartJitter <= 1):
		return fmt.Errorf("--restart-multiplier must be at least 1 and --restart-jitter between 0 and 1")
	case c.RestartHistory < 1:
		return fmt.Errorf("--restart-history must be at least 1")
	case c.MaxMsgSize < 1024:
		return fmt.Errorf("--max-msg-size %d is too small (at least 1KiB)", c.MaxMsgSize)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", c.LogLevel)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if c.ClientCA != "" && c.TLSCert == "" {
		return fmt.Errorf("--client-ca needs --tls-cert and --tls-key")
	}
	if err := c.validateClients(); err != nil {
		return err
	}
	if m, err := strconv.ParseUint(c.SocketMode, 8, 32); err != nil || m > 0o777 {
		return fmt.Errorf("--socket-mode %q: give octal permissions such as 0600 or 0660", c.SocketMode)
	}
	switch c.Containment {
	case "auto", "cgroup", "pgroup":
	default:
		return fmt.Errorf("--containment %q: use auto, cgroup or pgroup", c.Containment)
	}
	if strings.ContainsAny(c.CgroupName, "/\x00") || c.CgroupName == "." || c.CgroupName == ".." {
		return fmt.Errorf("--cgroup-name %q: must be a plain directory name", c.CgroupName)
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		return fmt.Errorf("--log-format %q: use json or console", c.LogFormat)
	}
	return nil
}

// validateClients checks the certificate-to-role mappings.
func (c *Config) validateClients() error {
	if (len(c.ControlClients) > 0 || len(c.ReadClients) > 0) && c.ClientCA == "" {
		return fmt.Errorf("--control-client and --read-client map client certificates, which need --client-ca (the CA they are verified against)")
	}
	seen := map[string]string{}
	for _, m := range []struct {
		flag string
		ids  []string
	}{{"--control-client", c.ControlClients}, {"--read-client", c.ReadClients}} {
		for _, id := range m.ids {
			p, err := policy.ParseClientID(strings.TrimSpace(id))
			if err != nil {
				return fmt.Errorf("%s: %w", m.flag, err)
			}
			if prev, dup := seen[p]; dup && prev != m.flag {
				return fmt.Errorf("%s %s: the identity is also given to %s; give it one role", m.flag, id, prev)
			}
			seen[p] = m.flag
		}
	}
	return nil
}

// Bind registers the daemon's flags on fs, with c's values as defaults.
func (c *Config) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&c.Socket, "socket", c.Socket, "Unix socket to serve on (empty: none)")
	fs.StringVar(&c.Listen, "listen", c.Listen, "also serve on this TCP address; its clients must prove who they are (--client-ca with --control-client/--read-client, or --token-file)")
	fs.BoolVar(&c.Insecure, "insecure", c.Insecure, "allow plaintext TCP for --listen on a loopback address (bearer tokens then travel in clear)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn, error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: json or console")
	fs.Var(&c.RingSize, "ring-size", "output bytes kept in memory per stream (e.g. 1MiB); a record: the oldest bytes are dropped under pressure")
	fs.Var(&c.SessionWindow, "session-window", "how far a session (attach, procctl run) may fall behind per stream before procd stops reading the process's output, which then blocks in write(2) as on a direct pipe")
	fs.IntVar(&c.EventRingSize, "event-ring-size", c.EventRingSize, "events kept for replay to subscribers")
	fs.IntVar(&c.MaxProcesses, "max-processes", c.MaxProcesses, "live processes at once (-1: unlimited)")
	fs.IntVar(&c.RetainFinished, "retain-finished", c.RetainFinished, "finished records kept (-1: unlimited)")
	fs.Var(&c.RetainAge, "retain-age", "finished records older than this are dropped (e.g. 1h; -1: never)")
	fs.Var(&c.Grace, "grace", "default time between the stop signal and SIGKILL")
	fs.Var(&c.PipeWait, "pipe-wait", "how long to wait for output pipes held by escaped descendants")
	fs.Var(&c.ShutdownTimeout, "shutdown-timeout", "how long shutdown waits for processes to stop before SIGKILL")
	fs.Var(&c.MaxMsgSize, "max-msg-size", "largest request message accepted (e.g. 4MiB)")
	fs.Var(&c.ProcessTimeout, "process-timeout", "watchdog: a process idle longer is slow (0: no hang detection unless a process asks)")
	fs.Var(&c.ExtraBuffer, "extra-buffer", "watchdog: idle longer than process-timeout + this is hung")
	fs.Var(&c.MaxHangTime, "max-hang-time", "watchdog: without auto-kill, a hung process idle longer is SIGKILLed")
	fs.BoolVar(&c.AutoKill, "auto-kill", c.AutoKill, "watchdog: stop hung processes (--auto-kill=false: only past max-hang-time)")
	fs.Var(&c.RestartDelay, "restart-delay", "restart policies: the first delay before a restart, for processes that do not set one")
	fs.Float64Var(&c.RestartMultiplier, "restart-multiplier", c.RestartMultiplier, "restart policies: each further delay is the last one times this")
	fs.Var(&c.RestartMaxDelay, "restart-max-delay", "restart policies: the cap of the delay")
	fs.Float64Var(&c.RestartJitter, "restart-jitter", c.RestartJitter, "restart policies: each delay is spread at random over ± this fraction of it (0 to 1)")
	fs.Var(&c.RestartMax, "restart-max", "restart policies: at most N restarts within a window (N/WINDOW, e.g. 5/1m; 0: no limit); one more leaves the process FAILED, CRASH_LOOP")
	fs.Var(&c.RestartResetAfter, "restart-reset-after", "restart policies: a run lasting this long resets the delay to the first one (0: never)")
	fs.IntVar(&c.RestartHistory, "restart-history", c.RestartHistory, "runs listed in a process's record (the oldest are dropped)")
	fs.Var(&c.CheckInterval, "check-interval", "watchdog: sampling period of the cpu and file activity sources")
	fs.Var(&c.StartupTimeout, "startup-timeout", "readiness: a process with a readiness check not ready this long after its start is stopped (0: none)")
	fs.Var(&c.ReadyInterval, "ready-interval", "readiness: time between probe attempts (tcp, http, exec)")
	fs.Var(&c.ReadyAttemptTimeout, "ready-attempt-timeout", "readiness: bound on one probe attempt")
	fs.StringSliceVar(&c.AllowUIDs, "allow-uid", c.AllowUIDs, "users (uid or name) allowed to control procd on the socket (default: procd's own user and root)")
	fs.StringSliceVar(&c.AllowGIDs, "allow-gid", c.AllowGIDs, "groups (gid or name) allowed to control procd on the socket")
	fs.StringSliceVar(&c.ReadUIDs, "read-uid", c.ReadUIDs, "users allowed read-only access (status, list, wait, events, output, stats)")
	fs.StringSliceVar(&c.ReadGIDs, "read-gid", c.ReadGIDs, "groups allowed read-only access")
	fs.StringVar(&c.SocketGroup, "socket-group", c.SocketGroup, "group owning the socket and its directory (which then become group-accessible)")
	fs.StringVar(&c.SocketMode, "socket-mode", c.SocketMode, "permissions of the socket, in octal (0660 to let --socket-group connect)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "TLS certificate for --listen (PEM)")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "TLS private key for --listen (PEM)")
	fs.StringVar(&c.ClientCA, "client-ca", c.ClientCA, "verify TCP client certificates against this CA (mTLS); map them to roles with --control-client and --read-client")
	fs.StringSliceVar(&c.ControlClients, "control-client", c.ControlClients, "client certificate identity given the control role: cn:NAME, dns:NAME or uri:URI (e.g. a SPIFFE ID); repeatable")
	fs.StringSliceVar(&c.ReadClients, "read-client", c.ReadClients, "client certificate identity given the read role (status, list, wait, events, output, stats); repeatable")
	fs.StringVar(&c.TokenFile, "token-file", c.TokenFile, "bearer tokens for TCP clients, one a line: NAME ROLE TOKEN (ROLE control or read; # comments); must not be readable by others")
	fs.IntVar(&c.MaxArgs, "max-args", c.MaxArgs, "arguments in one command")
	fs.Var(&c.MaxArgBytes, "max-arg-bytes", "bytes of one command's arguments (and of its env) together")
	fs.IntVar(&c.MaxEnv, "max-env", c.MaxEnv, "environment variables in one spec")
	fs.IntVar(&c.MaxLabels, "max-labels", c.MaxLabels, "labels on one process")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "serve Prometheus metrics on this address at /metrics (e.g. 127.0.0.1:9464)")
	fs.StringVar(&c.PprofAddr, "pprof-addr", c.PprofAddr, "serve Go profiles at /debug/pprof on this address (for diagnosis; keep it on loopback)")
	fs.Uint32Var(&c.MaxStreams, "max-streams", c.MaxStreams, "concurrent calls per client connection")
	fs.StringVar(&c.StateDir, "state-dir", c.StateDir, "directory for the record database and per-process output log files")
	fs.BoolVar(&c.Store, "store", c.Store, "keep process records, restart state and the event sequence across restarts of procd in the state directory (--store=false: in memory only)")
	fs.BoolVar(&c.LogFiles, "log-files", c.LogFiles, "keep every process's output in rotated log files too (a process may ask either way)")
	fs.Var(&c.LogFileSize, "log-file-size", "size of one output log file before rotation")
	fs.IntVar(&c.LogFileCount, "log-file-count", c.LogFileCount, "log files kept per stream (disk use is at most count × size per stream)")
	fs.StringVar(&c.Containment, "containment", c.Containment, "how process trees are held: auto (cgroup when writable, else pgroup), cgroup or pgroup")
	fs.BoolVar(&c.ExactPeakMemory, "exact-peak-memory", c.ExactPeakMemory, "give every tree a fresh cgroup with memory accounting, so its exit reports its exact peak memory (costs ~0.5 ms of procd CPU per start); without it, trees without limits run in recycled cgroups and report CPU time only")
	fs.StringVar(&c.CgroupName, "cgroup-name", c.CgroupName, `procd's directory in the cgroup hierarchies (default "procd", or procd-HASH for a non-default socket)`)
	fs.IntVar(&c.MaxBatchJobs, "max-batch-jobs", c.MaxBatchJobs, "batch jobs running at once across all batches")
	fs.StringVar(&c.NotifySocket, "notify-socket", c.NotifySocket, `sd_notify socket given to children as NOTIFY_SOCKET (default: notify.sock next to --socket; "none": off)`)
}

// ApplyEnv sets every flag not in skip (the ones the command line set)
// from its PROCD_* variable (--ring-size from PROCD_RING_SIZE).
func ApplyEnv(fs *pflag.FlagSet, lookup func(string) (string, bool), skip map[string]bool) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || skip[f.Name] {
			return
		}
		name := EnvName(f.Name)
		if v, ok := lookup(name); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", name, v, e)
			}
		}
	})
	return err
}

// EnvName is the environment variable for a flag.
func EnvName(flag string) string {
	return "PROCD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// ApplyClientEnv sets procctl's connection flags (--socket, --addr, TLS and
// token) from PROCD_SOCKET, PROCD_ADDR… when the command line did not.
func ApplyClientEnv(fs *pflag.FlagSet, lookup func(string) (string, bool)) error {
	for _, name := range []string{"socket", "addr", "tls-ca", "tls-cert", "tls-key", "token-file"} {
		f := fs.Lookup(name)
		if f == nil || f.Changed {
			continue
		}
		if v, ok := lookup(EnvName(name)); ok {
			if err := fs.Set(name, v); err != nil {
				return fmt.Errorf("%s=%q: %v", EnvName(name), v, err)
			}
		}
	}
	return nil
}

// SetOnCommandLine lists the flags the command line set.
func SetOnCommandLine(fs *pflag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *pflag.Flag) { set[f.Name] = true })
	return set
}
