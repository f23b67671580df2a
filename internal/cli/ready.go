package cli

import (
	"fmt"

	"strings"
	"time"

	"github.com/spf13/pflag"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procd/procd/internal/config"
	pb "github.com/procd/procd/proto/procd/v1"
)

// readyFlags are the readiness flags of start and run.
type readyFlags struct {
	ready                              string
	startupTimeout, interval, attemptT config.Duration
	fs                                 *pflag.FlagSet
}

const readyHelp = `Readiness (--ready): the process is STARTING until its check passes, then
RUNNING; its hang watchdog counts idleness only from then on, and --wait-ready
returns then. A check is one of:
  notify          the process sends READY=1 to $NOTIFY_SOCKET (sd_notify)
  tcp:PORT        a TCP connection to 127.0.0.1:PORT succeeds (or tcp:HOST:PORT,
                  a loopback host)
  http://HOST:PORT/PATH   a GET answers 2xx (https:// too; loopback hosts only)
  exec:CMD ARG…   the command exits 0 (run like the process, under the same policy)
  log:REGEX       a line of stdout or stderr matches the regular expression
A process not ready within --startup-timeout (default the daemon's, 60s; 0:
none) is stopped with reason STARTUP_TIMEOUT.`

func (f *readyFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.ready, "ready", "", "readiness check: notify, tcp:PORT, http://127.0.0.1:PORT/PATH, exec:CMD or log:REGEX (see below)")
	fs.Var(&f.startupTimeout, "startup-timeout", "stop the process if it is not ready this long after its start (default: the daemon's, 60s; 0: none)")
	fs.Var(&f.interval, "ready-interval", "time between readiness probe attempts (default: the daemon's, 250ms)")
	fs.Var(&f.attemptT, "ready-attempt-timeout", "bound on one readiness probe attempt (default: the daemon's, 1s)")
	f.fs = fs
}

// probe converts the flags; nil when no check is asked for.
func (f *readyFlags) probe(s *pb.ProcessSpec) error {
	if f.ready == "" {
		for _, name := range []string{"startup-timeout", "ready-interval", "ready-attempt-timeout"} {
			if f.fs.Changed(name) {
				return usagef("--%s needs --ready", name)
			}
		}
		return nil
	}
	p, err := parseReady(f.ready)
	if err != nil {
		return err
	}
	if f.fs.Changed("ready-interval") {
		p.Interval = durationpb.New(time.Duration(f.interval))
	}
	if f.fs.Changed("ready-attempt-timeout") {
		p.AttemptTimeout = durationpb.New(time.Duration(f.attemptT))
	}
	if f.fs.Changed("startup-timeout") {
		s.StartupTimeout = durationpb.New(time.Duration(f.startupTimeout))
	}
	s.Ready = p
	return nil
}

// parseReady reads a --ready value.
func parseReady(v string) (*pb.ReadinessProbe, error) {
	kind, arg, _ := strings.Cut(v, ":")
	switch {
	case v == "notify":
		return &pb.ReadinessProbe{Notify: true}, nil
	case kind == "http" || kind == "https":
		return &pb.ReadinessProbe{Http: v}, nil
	case kind == "tcp" && arg != "":
		return &pb.ReadinessProbe{Tcp: arg}, nil
	case kind == "exec" && strings.TrimSpace(arg) != "":
		return &pb.ReadinessProbe{Exec: strings.Fields(arg)}, nil
	case kind == "log" && arg != "":
		return &pb.ReadinessProbe{Log: arg}, nil
	}
	return nil, usagef("--ready %q: use notify, tcp:PORT, http://127.0.0.1:PORT/PATH, exec:CMD or log:REGEX", v)
}

// notReadyReason says how a process that was never ready ended.
func notReadyReason(p *pb.Process) string {
	reason := stateName(p.GetState())
	if e := p.GetExit(); e != nil {
		reason = reasonName(e.GetReason()) + ", " + exitSummary(e)
	}
	if msg := p.GetReadyError(); msg != "" {
		reason += "; last probe: " + msg
	}
	return reason
}

// readySummary is the status line for a process's readiness.
func readySummary(p *pb.Process) string {
	r := p.GetReady()
	if r == nil {
		return ""
	}
	var check string
	switch {
	case r.GetNotify():
		check = "notify (READY=1)"
	case r.GetTcp() != "":
		check = "tcp " + r.GetTcp()
	case r.GetHttp() != "":
		check = "GET " + r.GetHttp()
	case len(r.GetExec()) > 0:
		check = "exec " + shellQuote(r.GetExec())
	case r.GetLog() != "":
		check = fmt.Sprintf("log line matching %q", r.GetLog())
	}
	switch {
	case p.GetReadyAt() != nil:
		took := p.GetReadyAt().AsTime().Sub(p.GetStartedAt().AsTime())
		check += fmt.Sprintf("; ready after %v", roundDuration(took))
	case p.GetExit() != nil:
		check += "; never ready"
	default:
		check += "; not ready yet"
		if t := p.GetStartupTimeout().AsDuration(); t > 0 {
			check += fmt.Sprintf(" (startup timeout %v)", t)
		}
	}
	if n := p.GetReadyAttempts(); n > 0 {
		check += fmt.Sprintf(", %d attempt(s)", n)
	}
	if e := p.GetReadyError(); e != "" {
		check += "; last: " + e
	}
	return check
}

func printReady(row func(k, v string), p *pb.Process) {
	if s := readySummary(p); s != "" {
		row("ready", s)
	}
}
