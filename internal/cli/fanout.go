package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/procd/procd/internal/client"
	pb "github.com/procd/procd/proto/procd/v1"
)

// fanoutLimits are batch's fan-out flags.
type fanoutLimits struct {
	total, each int
	resolve     bool
}

// runFanout runs a batch over every daemon of --addr (see client.RunFanout)
// with the same progress line and summary as one daemon's, plus a line per
// daemon.
func (a *app) runFanout(parent context.Context, req *pb.RunBatchRequest, lim fanoutLimits, verbose bool) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	conns, err := client.DialAll(ctx, a.opts, a.addrs, lim.resolve)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var interrupted atomic.Bool
	go func() {
		if _, ok := <-sigs; ok {
			interrupted.Store(true)
			cancel()
		}
	}()
	p := newProgress(a.stderr, len(req.GetJobs()))
	p.batch = fmt.Sprintf("%d daemons", len(conns))
	lost := map[string]bool{}
	sum, err := client.RunFanout(ctx, client.Fanout{Daemons: conns, Request: req, PerDaemon: lim.each, Total: lim.total,
		Progress: func(e client.FanoutEvent) {
			switch {
			case e.Started != nil:
				p.running++
				if verbose {
					p.clear()
					fmt.Fprintf(a.stderr, "job %d attempt %d: started %s (pid %d) on %s\n", e.Started.GetIndex(), e.Started.GetAttempt(),
						e.Started.GetProcess().GetId(), e.Started.GetProcess().GetPid(), e.Daemon)
				}
			case e.Finished != nil:
				p.finished(e.Finished)
				if verbose {
					p.clear()
					fmt.Fprintf(a.stderr, "%s on %s\n", attemptLine(e.Finished), e.Daemon)
				}
			case e.Lost != nil:
				a.lostLine(p, e, lost, verbose)
			}
			p.draw()
		}})
	p.clear()
	if interrupted.Load() {
		fmt.Fprintln(a.stderr, "procctl: batch interrupted; the daemons stop its running jobs and no more are sent")
		return &exitError{130}
	}
	if err != nil {
		return err
	}
	return a.printFanout(sum)
}

// lostLine reports a daemon's loss once, and each job it took under -v.
func (a *app) lostLine(p *progress, e client.FanoutEvent, lost map[string]bool, verbose bool) {
	l := e.Lost
	if l.Attempt > 0 {
		p.running--
	}
	if !l.Retried {
		p.done++
		p.failed++
	}
	if !lost[e.Daemon] {
		lost[e.Daemon] = true
		p.clear()
		fmt.Fprintf(a.stderr, "procctl: dropping a daemon: %s; its jobs go to the others while the retry policy allows\n", l.Reason)
	}
	if verbose {
		p.clear()
		what := "retried on another daemon"
		if !l.Retried {
			what = "not retried (no attempts left)"
		}
		fmt.Fprintf(a.stderr, "job %d attempt %d: lost with %s; %s\n", l.Index, l.Attempt, e.Daemon, what)
	}
}

// printFanout prints the merged summary, then one line per daemon; --json
// prints {"summary", "daemons", "placement", "rerouted"}.
func (a *app) printFanout(f *client.FanoutSummary) error {
	s := f.Summary
	if a.json {
		doc, err := jsonDoc.Marshal(s)
		if err != nil {
			return err
		}
		out, err := json.MarshalIndent(struct {
			Summary   json.RawMessage      `json:"summary"`
			Daemons   []client.DaemonTally `json:"daemons"`
			Placement []string             `json:"placement"`
			Rerouted  int                  `json:"rerouted"`
		}{doc, f.Daemons, f.Placement, f.Rerouted}, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "%s\n", out)
	} else {
		a.printJobFailures(s, f.Placement)
		stopped := ""
		if s.GetStopped() != "" {
			stopped = ", stopped early: " + s.GetStopped()
		}
		fmt.Fprintf(a.stdout, "batch %s: %d jobs over %s, %d succeeded, %d failed, %d cancelled, %d retries, %d rerouted from lost daemons in %v%s\n",
			s.GetBatchId(), len(s.GetJobs()), plural(len(f.Daemons), "daemon"), s.GetSucceeded(), s.GetFailed(), s.GetCancelled(), s.GetRetries(),
			f.Rerouted, roundDuration(s.GetWallTime().AsDuration()), stopped)
		for _, d := range f.Daemons {
			line := fmt.Sprintf("  %s\t%s, %d succeeded", d.Addr, plural(d.Jobs, "job"), d.Succeeded)
			if d.Lost != "" {
				line += fmt.Sprintf("\tLOST with %s: %s", plural(d.LostJobs, "job"), d.Lost)
			}
			fmt.Fprintln(a.stdout, line)
		}
	}
	if s.GetFailed() > 0 || s.GetCancelled() > 0 {
		return &exitError{client.ExitFailure}
	}
	return nil
}

// printJobFailures lists the jobs that did not succeed, as printSummary
// does, with the daemon of their last attempt.
func (a *app) printJobFailures(s *pb.BatchSummary, placement []string) {
	for _, j := range s.GetJobs() {
		if j.GetOutcome() == pb.JobOutcome_JOB_OUTCOME_SUCCEEDED {
			continue
		}
		what := jobFailure(j)
		where := placement[j.GetIndex()]
		if where == "" {
			where = "-"
		}
		fmt.Fprintf(a.stdout, "job %d\t%s\t%s\t%s (%d attempt(s))\n", j.GetIndex(), where, j.GetProcessId(), what, j.GetAttempts())
	}
}

// plural is "1 job", "2 jobs".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
