package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procd/procd/internal/client"
	"github.com/procd/procd/internal/config"
	pb "github.com/procd/procd/proto/procd/v1"
)

func (a *app) batchCmd() *cobra.Command {
	var bf batchFlags
	cmd := &cobra.Command{
		Use:   "batch [-f FILE] [--jsonl] [flags]",
		Short: "run many commands under a concurrency limit, with timeouts and retries, on one daemon or many",
		Long: `batch runs one job per input line, at most --max-concurrency at once (like xargs -P
or GNU parallel): each line is a shell command run with /bin/sh -c, or with --jsonl a
full process spec in protobuf JSON ({"command":["./t","-x"],"env":{"K":"V"}}).
Blank lines are skipped; a job's index is its position among the jobs, from 0.

Jobs are ordinary procd processes (see procctl ps --all -l procd.batch=ID). A job
that runs past --timeout has its tree stopped; failed jobs are retried up to
--retries times with exponential backoff from --retry-delay. On a terminal a
progress line shows done, failed, running and queued jobs, the rate and an ETA.

Fan-out: with --addr given several times, or --all-addresses and a name that
resolves to many addresses (a Kubernetes headless Service), the jobs are spread
over the daemons, each job to the daemon with the fewest jobs running. Results
stay keyed by job index. --max-concurrency-per-daemon caps each daemon
(default 5 when neither limit is given) and --max-concurrency caps the total;
either or both may be set. A daemon that goes away is dropped: its running jobs
are reported with the reason and run again on the others while the retry policy
has attempts left (the lost attempt counts: give --retries).

Exit status: 0 when every job succeeded, 1 otherwise, 130 when interrupted (the
daemon then stops the running jobs and starts no queued one).`,
		Example: `  printf 'true\nfalse\nsleep 30\n' | procctl batch --max-concurrency 2 --timeout 1s --json
  procctl batch -f cases.txt --max-concurrency 8 --retries 2 --retry-delay 100ms
  procctl batch -f cases.txt --addr node1:7443 --addr node2:7443 --max-concurrency-per-daemon 4 --retries 2
  procctl batch -f cases.txt --addr procd.procd-system.svc:7443 --all-addresses -P 32 --retries 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.batch(cmd, &bf) },
	}
	f := cmd.Flags()
	f.StringVarP(&bf.file, "file", "f", "", "read jobs from FILE (default: standard input)")
	f.BoolVar(&bf.jsonl, "jsonl", false, "each line is a process spec in JSON, not a shell command")
	f.IntVarP(&bf.maxConc, "max-concurrency", "P", 0, "jobs running at once in all (over every daemon of a fan-out)")
	f.IntVar(&bf.perDaemon, "max-concurrency-per-daemon", 0, "jobs running at once on each daemon (default 5 when --max-concurrency is not given)")
	f.BoolVar(&bf.allAddrs, "all-addresses", false, "fan out over every address each --addr name resolves to (a headless Service)")
	f.Var(&bf.timeout, "timeout", "stop a job attempt that runs longer (e.g. 30s)")
	f.IntVar(&bf.retries, "retries", 0, "retry a failed job up to N times")
	f.Var(&bf.retryDelay, "retry-delay", "delay before the first retry, doubling each time (default 1s)")
	f.Var(&bf.limit, "deadline", "stop the whole batch after this long")
	f.BoolVar(&bf.failFast, "fail-fast", false, "cancel the rest after the first job that fails for good")
	f.StringArrayVarP(&bf.labels, "label", "l", nil, "add a label key=value to every job (repeatable)")
	f.StringVar(&bf.name, "name", "", "name of the batch and its jobs")
	f.BoolVarP(&bf.verbose, "verbose", "v", false, "print each attempt's start and end on standard error")
	return cmd
}

// batchFlags are batch's flags.
type batchFlags struct {
	file, name                  string
	jsonl, failFast, verbose    bool
	allAddrs                    bool
	maxConc, perDaemon, retries int
	timeout, retryDelay, limit  config.Duration
	labels                      []string
}

// batch reads the jobs, builds the request and runs it on one daemon or
// fans it out.
func (a *app) batch(cmd *cobra.Command, bf *batchFlags) error {
	in := a.stdin
	if bf.file != "" && bf.file != "-" {
		f, err := os.Open(bf.file)
		if err != nil {
			return usagef("-f: %v", err)
		}
		defer f.Close()
		in = f
	}
	jobs, err := readJobs(in, bf.jsonl)
	if err != nil {
		return err
	}
	l, err := parseKV("label", bf.labels)
	if err != nil {
		return err
	}
	total, each, err := concurrency(cmd.Flags().Changed("max-concurrency"), bf.maxConc,
		cmd.Flags().Changed("max-concurrency-per-daemon"), bf.perDaemon)
	if err != nil {
		return err
	}
	if bf.retries < 0 {
		return usagef("--retries %d is negative", bf.retries)
	}
	req := &pb.RunBatchRequest{Jobs: jobs, FailFast: bf.failFast, Labels: l, Name: bf.name,
		Retry: &pb.RetryPolicy{MaxAttempts: int32(bf.retries + 1)}}
	if bf.timeout > 0 {
		req.Timeout = durationpb.New(time.Duration(bf.timeout))
	}
	if bf.limit > 0 {
		req.Deadline = durationpb.New(time.Duration(bf.limit))
	}
	if bf.retryDelay > 0 {
		req.Retry.Initial = durationpb.New(time.Duration(bf.retryDelay))
	}
	if len(a.addrs) > 1 || bf.allAddrs {
		return a.runFanout(cmd.Context(), req, fanoutLimits{total, each, bf.allAddrs}, bf.verbose)
	}
	req.MaxConcurrency = int32(oneDaemon(total, each))
	return a.runBatch(cmd.Context(), req, bf.verbose)
}

// concurrency checks the two limits and applies the default: 5 per daemon
// when neither is set. 0 means no limit of that kind.
func concurrency(totalSet bool, total int, eachSet bool, each int) (int, int, error) {
	if totalSet && total < 1 {
		return 0, 0, usagef("--max-concurrency %d: at least 1", total)
	}
	if eachSet && each < 1 {
		return 0, 0, usagef("--max-concurrency-per-daemon %d: at least 1", each)
	}
	if !totalSet && !eachSet {
		each = 5
	}
	return total, each, nil
}

// oneDaemon is the limit of a batch on a single daemon.
func oneDaemon(total, each int) int {
	switch {
	case total == 0:
		return each
	case each == 0:
		return total
	}
	return min(total, each)
}

// readJobs reads one job per non-blank line.
func readJobs(r io.Reader, jsonl bool) ([]*pb.ProcessSpec, error) {
	var jobs []*pb.ProcessSpec
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20) // a line is a command, not output: 16 MiB is plenty
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		if !jsonl {
			jobs = append(jobs, &pb.ProcessSpec{Command: []string{"/bin/sh", "-c", text}})
			continue
		}
		var spec pb.ProcessSpec
		if err := protojson.Unmarshal([]byte(text), &spec); err != nil {
			return nil, usagef("line %d: not a process spec: %v", line, err)
		}
		jobs = append(jobs, &spec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading jobs: %w", err)
	}
	if len(jobs) == 0 {
		return nil, usagef("no jobs: give one command per line on standard input or with -f")
	}
	return jobs, nil
}

func (a *app) runBatch(parent context.Context, req *pb.RunBatchRequest, verbose bool) error {
	c, err := a.dial()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
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
	stream, err := pb.NewBatchServiceClient(c.ClientConn).RunBatch(ctx, req)
	if err != nil {
		return a.explain(err)
	}
	p := newProgress(a.stderr, len(req.GetJobs()))
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			p.clear()
			return errors.New("the batch stream ended without a summary")
		}
		if err != nil {
			p.clear()
			if interrupted.Load() {
				fmt.Fprintln(a.stderr, "procctl: batch interrupted; procd stops its running jobs and starts no more")
				return &exitError{130}
			}
			return a.explain(err)
		}
		switch k := msg.GetKind().(type) {
		case *pb.RunBatchResponse_Started:
			p.batch = k.Started.GetBatchId()
		case *pb.RunBatchResponse_AttemptStarted:
			p.running++
			if verbose {
				at := k.AttemptStarted
				p.clear()
				fmt.Fprintf(a.stderr, "job %d attempt %d: started %s (pid %d)\n", at.GetIndex(), at.GetAttempt(),
					at.GetProcess().GetId(), at.GetProcess().GetPid())
			}
		case *pb.RunBatchResponse_AttemptFinished:
			p.finished(k.AttemptFinished)
			if verbose {
				p.clear()
				fmt.Fprintln(a.stderr, attemptLine(k.AttemptFinished))
			}
		case *pb.RunBatchResponse_Summary:
			p.clear()
			return a.printSummary(k.Summary)
		}
		p.draw()
	}
}

// jobFailure says how a job that did not succeed ended: its exit (but
// for a timeout, whose exit is procd's stop) and procd's reason.
func jobFailure(j *pb.JobResult) string {
	what := outcomeName(j.GetOutcome())
	if e := j.GetExit(); e != nil && j.GetOutcome() != pb.JobOutcome_JOB_OUTCOME_TIMEOUT {
		what = exitSummary(e)
	}
	if j.GetError() != "" {
		what += ": " + j.GetError()
	}
	return what
}

func (a *app) printSummary(s *pb.BatchSummary) error {
	if a.json {
		if err := printJSON(a.stdout, s); err != nil {
			return err
		}
	} else {
		for _, j := range s.GetJobs() {
			if j.GetOutcome() == pb.JobOutcome_JOB_OUTCOME_SUCCEEDED {
				continue
			}
			fmt.Fprintf(a.stdout, "job %d\t%s\t%s (%d attempt(s))\n", j.GetIndex(), j.GetProcessId(), jobFailure(j), j.GetAttempts())
		}
		stopped := ""
		if s.GetStopped() != "" {
			stopped = ", stopped early: " + s.GetStopped()
		}
		fmt.Fprintf(a.stdout, "batch %s: %d jobs, %d succeeded, %d failed, %d cancelled, %d retries in %v%s\n",
			s.GetBatchId(), len(s.GetJobs()), s.GetSucceeded(), s.GetFailed(), s.GetCancelled(), s.GetRetries(),
			roundDuration(s.GetWallTime().AsDuration()), stopped)
	}
	if s.GetFailed() > 0 || s.GetCancelled() > 0 {
		return &exitError{client.ExitFailure}
	}
	return nil
}

func outcomeName(o pb.JobOutcome) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(o.String(), "JOB_OUTCOME_")), "_", " ")
}

// progress draws a one-line status on a terminal, at most ten times a second.
type progress struct {
	w                            io.Writer
	tty                          bool
	batch                        string
	total, done, failed, running int
	t0, last                     time.Time
	drawn                        bool
}

func newProgress(w io.Writer, total int) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, tty: ok && term.IsTerminal(int(f.Fd())), total: total, t0: time.Now()}
}

func (p *progress) finished(a *pb.JobAttempt) {
	if a.GetProcess() != nil {
		p.running--
	}
	switch {
	case a.GetWillRetry():
	case a.GetOutcome() == pb.JobOutcome_JOB_OUTCOME_SUCCEEDED:
		p.done++
	default:
		p.done++
		p.failed++
	}
}

func (p *progress) draw() {
	if !p.tty || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	el := time.Since(p.t0)
	rate := float64(p.done) / el.Seconds()
	eta := "-"
	if p.done > 0 && rate > 0 {
		eta = time.Duration(float64(p.total-p.done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	queued := p.total - p.done - p.running
	fmt.Fprintf(p.w, "\r\033[K%s: %d/%d done, %d failed, %d running, %d queued | %.1f/s | ETA %s",
		p.batch, p.done, p.total, p.failed, p.running, queued, rate, eta)
	p.drawn = true
}

func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// attemptLine describes a finished attempt.
func attemptLine(at *pb.JobAttempt) string {
	what := outcomeName(at.GetOutcome())
	if e := at.GetProcess().GetExit(); e != nil && at.GetOutcome() != pb.JobOutcome_JOB_OUTCOME_TIMEOUT {
		what = exitSummary(e)
	}
	if at.GetError() != "" {
		what += ": " + at.GetError()
	}
	line := fmt.Sprintf("job %d attempt %d: %s", at.GetIndex(), at.GetAttempt(), what)
	if at.GetWillRetry() {
		line += fmt.Sprintf("; retrying in %v", roundDuration(at.GetRetryDelay().AsDuration()))
	}
	return line
}
