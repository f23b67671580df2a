package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procd/procd/internal/config"
	pb "github.com/procd/procd/proto/procd/v1"
)

// restartFlags are start's restart policy flags. Unset ones take the
// daemon's defaults (procd's --restart-* settings).
type restartFlags struct {
	mode                        string
	on                          []string
	delay, maxDelay, resetAfter config.Duration
	multiplier, jitter          float64
	max                         config.RestartLimit
	fs                          *pflag.FlagSet
}

const restartHelp = `Restart policy: --restart on-failure starts the process again, under the same
id, when a run fails (--restart-on: nonzero exit, a signal procd did not send,
hung, deadline, startup timeout; default all); --restart always also after a
clean exit. A stop (procctl stop, or a terminating signal from procctl signal)
is never restarted, and cancels a pending restart. Delays grow from
--restart-delay by --restart-multiplier up to --restart-max-delay, spread by
--restart-jitter; a run lasting --restart-reset-after resets them. The failure
that would need more than --restart-max N/WINDOW restarts leaves the process
FAILED with reason CRASH_LOOP. procctl status lists the runs; procctl wait waits
until the process is final.`

func (f *restartFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.mode, "restart", "never", "restart policy: never, on-failure or always")
	fs.StringSliceVar(&f.on, "restart-on", nil, "with --restart on-failure, the failures that restart: nonzero,signal,hung,deadline,startup-timeout (default all)")
	fs.Var(&f.delay, "restart-delay", "first delay before a restart (default: the daemon's, 1s)")
	fs.Float64Var(&f.multiplier, "restart-multiplier", 0, "each further delay is the last one times this (default: the daemon's, 2)")
	fs.Var(&f.maxDelay, "restart-max-delay", "cap of the delay (default: the daemon's, 1m)")
	fs.Float64Var(&f.jitter, "restart-jitter", 0, "spread each delay at random over ± this fraction of it, 0 to 1 (default: the daemon's, 0.1)")
	fs.Var(&f.max, "restart-max", "at most N restarts within WINDOW (N/WINDOW, e.g. 5/1m; 0: no limit; default: the daemon's, 5/1m)")
	fs.Var(&f.resetAfter, "restart-reset-after", "a run lasting this long resets the delay (0: never; default: the daemon's, 1m)")
	f.fs = fs
}

// policy is the restart policy the flags ask for; nil without --restart.
func (f *restartFlags) policy() (*pb.RestartPolicy, error) {
	var p pb.RestartPolicy
	switch f.mode {
	case "never", "":
	case "on-failure":
		p.Mode = pb.RestartMode_RESTART_MODE_ON_FAILURE
	case "always":
		p.Mode = pb.RestartMode_RESTART_MODE_ALWAYS
	default:
		return nil, usagef("--restart %q: use never, on-failure or always", f.mode)
	}
	var set []string
	f.fs.Visit(func(fl *pflag.Flag) {
		if strings.HasPrefix(fl.Name, "restart-") {
			set = append(set, "--"+fl.Name)
		}
	})
	if p.Mode == pb.RestartMode_RESTART_MODE_UNSPECIFIED {
		if len(set) > 0 {
			return nil, usagef("%s need --restart on-failure or always", strings.Join(set, ", "))
		}
		return nil, nil
	}
	if len(f.on) > 0 && p.Mode != pb.RestartMode_RESTART_MODE_ON_FAILURE {
		return nil, usagef("--restart-on only applies to --restart on-failure")
	}
	for _, o := range f.on {
		v, ok := pb.RestartFailure_value["RESTART_FAILURE_"+strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(o), "-", "_"))]
		if !ok || v == 0 {
			return nil, usagef("--restart-on %q: use nonzero, signal, hung, deadline or startup-timeout", o)
		}
		p.On = append(p.On, pb.RestartFailure(v))
	}
	changed := f.fs.Changed
	if changed("restart-delay") {
		p.Delay = durationpb.New(time.Duration(f.delay))
	}
	if changed("restart-max-delay") {
		p.MaxDelay = durationpb.New(time.Duration(f.maxDelay))
	}
	if changed("restart-reset-after") {
		p.ResetAfter = durationpb.New(time.Duration(f.resetAfter))
	}
	p.Multiplier = f.multiplier
	if changed("restart-jitter") {
		p.Jitter = &f.jitter
	}
	if changed("restart-max") {
		n := int32(f.max.Count)
		p.Limit = &n
		if n > 0 {
			p.Window = durationpb.New(time.Duration(f.max.Window))
		}
	}
	return &p, nil
}

// printRestart writes a record's runs and restart state (status).
func printRestart(tw io.Writer, p *pb.Process) {
	r := p.GetRestart()
	if r == nil && len(p.GetRuns()) <= 1 {
		return
	}
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	if r != nil {
		row("restart", policySummary(r.GetPolicy()))
		att := fmt.Sprintf("%d (%d restarts", p.GetAttempt(), r.GetRestarts())
		if p.GetState() == pb.ProcessState_PROCESS_STATE_BACKOFF {
			att += ", the next one pending" // counted in the window already
		}
		row("attempt", att+fmt.Sprintf("; %d within the window)", r.GetRecentRestarts()))
		if p.GetState() == pb.ProcessState_PROCESS_STATE_BACKOFF && r.GetNextRestartAt() != nil {
			at := r.GetNextRestartAt().AsTime()
			row("next restart", fmt.Sprintf("in %v (at %s; delay %v)", roundDuration(max(time.Until(at), 0)),
				at.Local().Format("15:04:05.000"), roundDuration(r.GetDelay().AsDuration())))
		}
		if r.GetError() != "" {
			row("restart error", r.GetError())
		}
	}
	label := "runs:"
	for i, run := range p.GetRuns() {
		fmt.Fprintf(tw, "%s\t%s\n", label, runSummary(run, p.GetRuns()[:i]))
		label = ""
	}
}

// runSummary is one run in a line: its number, pid, start (and the delay
// since the run before), how long it ran and how it ended.
func runSummary(run *pb.ProcessRun, before []*pb.ProcessRun) string {
	start := run.GetStartedAt().AsTime()
	s := fmt.Sprintf("#%d pid %d %s", run.GetAttempt(), run.GetPid(), start.Local().Format("15:04:05.000"))
	if n := len(before); n > 0 && before[n-1].GetFinishedAt() != nil {
		s += fmt.Sprintf(" (+%v)", roundDuration(start.Sub(before[n-1].GetFinishedAt().AsTime())))
	}
	if run.GetFinishedAt() == nil {
		return s + ", running"
	}
	ran := run.GetFinishedAt().AsTime().Sub(start)
	if run.GetExit() == nil {
		// Lost: procd died during the run, and a restarted procd found it
		// gone (its guardian ended the tree) at finished_at.
		return s + fmt.Sprintf(", lost when procd died (found gone after at most %v)", roundDuration(ran))
	}
	return s + fmt.Sprintf(", ran %v, %s, %s", roundDuration(ran), exitSummary(run.GetExit()), reasonName(run.GetExit().GetReason()))
}

func policySummary(p *pb.RestartPolicy) string {
	mode := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(p.GetMode().String(), "RESTART_MODE_"), "_", "-"))
	if p.GetMode() == pb.RestartMode_RESTART_MODE_ON_FAILURE {
		var on []string
		for _, f := range p.GetOn() {
			on = append(on, strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(f.String(), "RESTART_FAILURE_"), "_", "-")))
		}
		mode += " (" + strings.Join(on, ",") + ")"
	}
	s := fmt.Sprintf("%s, delay %v ×%g up to %v, jitter %g", mode, p.GetDelay().AsDuration(), p.GetMultiplier(),
		p.GetMaxDelay().AsDuration(), p.GetJitter())
	if p.GetLimit() > 0 {
		s += fmt.Sprintf(", at most %d restarts per %v", p.GetLimit(), p.GetWindow().AsDuration())
	} else {
		s += ", no restart limit"
	}
	if d := p.GetResetAfter().AsDuration(); d > 0 {
		s += fmt.Sprintf(", reset after %v", d)
	}
	return s
}
