package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procd/procd/internal/client"
	"github.com/procd/procd/internal/config"
	"github.com/procd/procd/internal/policy"
	pb "github.com/procd/procd/proto/procd/v1"
)

// specFlags are the process spec flags shared by start and run.
type specFlags struct {
	name, cwd, killMode, stopSignal string
	env, labels                     []string
	clearEnv                        bool
	grace                           config.Duration

	timeout, extraBuffer, maxHang, deadline config.Duration
	noAutoKill                              bool
	activity                                []string
	activityFile                            string
	stdin, user, group                      string
	groups                                  []string
	tty, logFiles                           bool
	daemonEnv, daemonCwd                    bool
	memory                                  config.Size
	pids                                    int64
	cpu                                     float64
	rlimits                                 []string
	ready                                   readyFlags
	restart                                 *restartFlags // start's; nil for run
	fs                                      *pflag.FlagSet
}

func (f *specFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.name, "name", "", `name of the process (default "unknown")`)
	fs.StringVarP(&f.cwd, "cwd", "C", "", "working directory (must exist; default: procctl's over the socket, the daemon's over --addr)")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable KEY=VALUE (repeatable)")
	fs.BoolVar(&f.clearEnv, "clear-env", false, "start from an empty environment (plus --env) instead of procctl's or the daemon's")
	fs.BoolVar(&f.daemonEnv, "daemon-env", false, "start from procd's environment instead of procctl's (the default over --addr)")
	fs.BoolVar(&f.daemonCwd, "daemon-cwd", false, "run in procd's working directory instead of procctl's (the default over --addr)")
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "add a label key=value (repeatable)")
	fs.StringVar(&f.killMode, "kill-mode", "group", "what is ended when the leader exits: group or leader")
	fs.StringVar(&f.stopSignal, "stop-signal", "", "signal that starts a stop (default SIGTERM)")
	fs.Var(&f.grace, "grace", "time between the stop signal and SIGKILL (default: the daemon's, 2s)")
	fs.Var(&f.timeout, "timeout", "watchdog: idle longer than this is slow (default: the daemon's, 30s; 0: no hang detection)")
	fs.Var(&f.extraBuffer, "extra-buffer", "watchdog: idle longer than timeout + this is hung and stopped (default 5s)")
	fs.Var(&f.maxHang, "max-hang-time", "watchdog: with --no-auto-kill, SIGKILL once idle longer than this (default 60s)")
	fs.BoolVar(&f.noAutoKill, "no-auto-kill", false, "watchdog: report a hung process but only kill it past --max-hang-time")
	fs.Var(&f.deadline, "deadline", "stop the process once it has run this long, whatever its activity")
	fs.StringSliceVar(&f.activity, "activity", nil, "what counts as activity: heartbeat,notify,output,cpu,file (default heartbeat,notify,output)")
	fs.StringVar(&f.activityFile, "activity-file", "", "a file whose modification time counts as activity (adds the file source)")
	fs.StringVar(&f.user, "user", "", "run as this user (name or uid; needs a root caller)")
	fs.StringVar(&f.group, "group", "", "run with this group (name or gid; needs a root caller)")
	fs.StringSliceVar(&f.groups, "groups", nil, "supplementary groups (needs a root caller)")
	fs.StringVar(&f.stdin, "stdin", "null", "stdin: null (/dev/null) or pipe (written with attach or WriteInput)")
	fs.BoolVarP(&f.tty, "tty", "t", false, "run on a pseudo-terminal (for programs that only line-buffer on one)")
	fs.BoolVar(&f.logFiles, "log-files", false, "keep the output in rotated log files too, readable beyond the ring")
	fs.Var(&f.memory, "memory", "memory limit of the whole tree, e.g. 512MiB (needs cgroups)")
	fs.Int64Var(&f.pids, "pids", 0, "most processes and threads in the tree at once (needs cgroups)")
	fs.Float64Var(&f.cpu, "cpu", 0, "CPU limit of the tree in cores, e.g. 0.5 (needs cgroups)")
	fs.StringArrayVar(&f.rlimits, "rlimit", nil, "resource limit NAME=SOFT[:HARD] (AS, CORE, CPU, NOFILE…; unlimited; sizes take units) (repeatable)")
	f.ready.bind(fs)
	fs.SetInterspersed(false) // flags after the command belong to it
	f.fs = fs
}

// parseRlimit reads NAME=SOFT[:HARD]; values are numbers, sizes with units
// or "unlimited".
func parseRlimit(s string) (*pb.Rlimit, error) {
	name, val, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return nil, usagef("--rlimit %q: expected NAME=SOFT[:HARD]", s)
	}
	softS, hardS, hasHard := strings.Cut(val, ":")
	parse := func(v string) (uint64, error) {
		if strings.EqualFold(v, "unlimited") || strings.EqualFold(v, "infinity") {
			return ^uint64(0), nil
		}
		n, err := config.ParseSize(v)
		if err != nil {
			return 0, usagef("--rlimit %q: %v", s, err)
		}
		return uint64(n), nil
	}
	soft, err := parse(softS)
	if err != nil {
		return nil, err
	}
	hard := soft
	if hasHard {
		if hard, err = parse(hardS); err != nil {
			return nil, err
		}
	}
	return &pb.Rlimit{Name: name, Soft: soft, Hard: hard}, nil
}

func parseKV(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--%s %q: expected KEY=VALUE", flag, kv)
		}
		m[k] = v
	}
	return m, nil
}

// contextHelp explains where a process's directory and environment come from.
const contextHelp = `Over the local socket the process runs in procctl's working directory with
procctl's environment, as a command run here would (procd receives both with the
spec); --daemon-cwd and --daemon-env use procd's instead. Variables that change
what a program loads or runs (LD_*, PYTHONPATH, NODE_OPTIONS, BASH_ENV… — procd's
default deny list, see SECURITY.md) are only passed on for root, since procd
refuses them from other users; pass one with --env to be told why. Over --addr
the caller's paths mean nothing to procd, so the process gets the daemon's
directory and environment (plus --cwd, --env).`

// fillContext gives spec procctl's working directory and environment,
// unless the flags or the transport say otherwise (see contextHelp).
func (f *specFlags) fillContext(s *pb.ProcessSpec, local bool) error {
	if !local {
		return nil
	}
	if s.Cwd == "" && !f.daemonCwd {
		wd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("procctl's working directory: %w (use --cwd or --daemon-cwd)", err)
		}
		s.Cwd = wd
	}
	if s.ClearEnv || f.daemonEnv {
		return nil
	}
	env := make(map[string]string, len(os.Environ())+len(s.Env))
	root := os.Geteuid() == 0
	for _, kv := range os.Environ() {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if _, denied := policy.DeniedEnv(k); (denied && !root) || serviceManagerVariable(k) {
			continue
		}
		env[k] = v
	}
	for k, v := range s.Env {
		env[k] = v
	}
	s.Env, s.ClearEnv = env, true
	return nil
}

// serviceManagerVariable reports whether name is service-manager plumbing
// of procctl's own (sd_notify, socket activation, watchdog): it addresses
// procctl's supervisor, not the process's; procd sets NOTIFY_SOCKET itself.
func serviceManagerVariable(name string) bool {
	switch name {
	case "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID":
		return true
	}
	return false
}

// watchdog fills the spec's watchdog settings from the flags given.
func (f *specFlags) watchdog(s *pb.ProcessSpec) error {
	for _, d := range []struct {
		flag string
		v    config.Duration
		dst  **durationpb.Duration
	}{{"timeout", f.timeout, &s.Timeout}, {"extra-buffer", f.extraBuffer, &s.ExtraBuffer},
		{"max-hang-time", f.maxHang, &s.MaxHangTime}, {"deadline", f.deadline, &s.Deadline}} {
		if f.fs.Changed(d.flag) {
			*d.dst = durationpb.New(time.Duration(d.v))
		}
	}
	if f.noAutoKill {
		off := false
		s.AutoKill = &off
	}
	for _, a := range f.activity {
		v, ok := pb.ActivitySource_value["ACTIVITY_SOURCE_"+strings.ToUpper(strings.TrimSpace(a))]
		if !ok || v == 0 {
			return usagef("--activity %q: use heartbeat, notify, output, cpu or file", a)
		}
		s.Activity = append(s.Activity, pb.ActivitySource(v))
	}
	s.ActivityFile = f.activityFile
	return nil
}

func (f *specFlags) spec(args []string) (*pb.ProcessSpec, error) {
	env, err := parseKV("env", f.env)
	if err != nil {
		return nil, err
	}
	labels, err := parseKV("label", f.labels)
	if err != nil {
		return nil, err
	}
	s := &pb.ProcessSpec{
		Command:    args,
		Cwd:        f.cwd,
		Env:        env,
		ClearEnv:   f.clearEnv,
		Name:       f.name,
		Labels:     labels,
		StopSignal: f.stopSignal,
	}
	switch f.killMode {
	case "group", "":
		s.KillMode = pb.KillMode_KILL_MODE_GROUP
	case "leader":
		s.KillMode = pb.KillMode_KILL_MODE_LEADER
	default:
		return nil, usagef("--kill-mode %q: use group or leader", f.killMode)
	}
	if f.grace != 0 {
		s.Grace = durationpb.New(time.Duration(f.grace))
	}
	if err := f.watchdog(s); err != nil {
		return nil, err
	}
	s.MemoryMax, s.PidsMax, s.CpuMax = int64(f.memory), f.pids, f.cpu
	switch f.stdin {
	case "null", "":
	case "pipe":
		s.Stdin = pb.StdinMode_STDIN_MODE_PIPE
	default:
		return nil, usagef("--stdin %q: use null or pipe", f.stdin)
	}
	if f.tty {
		s.Tty = true
		if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil && w > 0 && h > 0 {
			s.WindowSize = &pb.WindowSize{Rows: uint32(h), Cols: uint32(w)}
		}
	}
	s.User, s.Group, s.Groups = f.user, f.group, f.groups
	if f.fs.Changed("log-files") {
		s.LogFiles = &f.logFiles
	}
	for _, r := range f.rlimits {
		rl, err := parseRlimit(r)
		if err != nil {
			return nil, err
		}
		s.Rlimits = append(s.Rlimits, rl)
	}
	if err := f.ready.probe(s); err != nil {
		return nil, err
	}
	if f.restart != nil {
		if s.Restart, err = f.restart.policy(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// startProcess starts the process the flags and args describe; with
// untilReady it also waits, in the same call, until it is ready or ended
// (a wait --rpc-timeout does not bound).
func (a *app) startProcess(ctx context.Context, f *specFlags, args []string, untilReady bool) (*pb.Process, error) {
	spec, err := f.spec(args)
	if err != nil {
		return nil, err
	}
	if err := f.fillContext(spec, a.local()); err != nil {
		return nil, err
	}
	c, err := a.dial()
	if err != nil {
		return nil, err
	}
	if untilReady {
		p, _, err := client.StartWait(ctx, c.Process, spec, &pb.StartWait{UntilReady: true})
		return p, a.explain(err)
	}
	ctx, cancel := a.callCtx(ctx)
	defer cancel()
	resp, err := c.Process.StartProcess(ctx, &pb.StartProcessRequest{Spec: spec})
	if err != nil {
		return nil, a.explain(err)
	}
	return resp.GetProcess(), nil
}

func (a *app) startCmd() *cobra.Command {
	var f specFlags
	var rf restartFlags
	var quiet, waitReady bool
	cmd := &cobra.Command{
		Use:   "start [flags] [--] COMMAND [ARG...]",
		Short: "start a process and print its id",
		Long: `start starts a process under procd and prints its id; it runs on after procctl
exits (use run to wait for it, attach to talk to it). With --wait-ready it
returns only once the process is ready (see --ready), and fails if it ended
first.

` + readyHelp + `

` + contextHelp + "\n\n" + restartHelp,
		Example: `  procctl start --name fuzz-1 --label campaign=a -- ./target -runs=1000
  procctl start -q sleep 60
  procctl start --ready http://127.0.0.1:8000/ --startup-timeout 30s --wait-ready -- python3 -m http.server 8000
  procctl start --restart on-failure --restart-max 5/1m --restart-delay 100ms --restart-max-delay 1s -- ./server`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			untilReady := waitReady && f.ready.ready != ""
			p, err := a.startProcess(cmd.Context(), &f, args, untilReady)
			if err != nil {
				return err
			}
			if waitReady && !untilReady {
				fmt.Fprintf(a.stderr, "procctl: %s: no --ready check; it was ready when it started\n", p.GetId())
			}
			if untilReady && p.GetReadyAt() == nil {
				if a.json {
					printJSON(a.stdout, p)
				}
				return fmt.Errorf("%s ended before it was ready (%s)", p.GetId(), notReadyReason(p))
			}
			switch {
			case a.json:
				return printJSON(a.stdout, p)
			case quiet:
				fmt.Fprintln(a.stdout, p.GetId())
			default:
				fmt.Fprintf(a.stdout, "%s\tpid %d\n", p.GetId(), p.GetPid())
			}
			return nil
		},
	}
	f.bind(cmd.Flags())
	rf.bind(cmd.Flags())
	f.restart = &rf
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the id")
	cmd.Flags().BoolVar(&waitReady, "wait-ready", false, "return only once the process is ready (--ready); fail if it ends first")
	return cmd
}
