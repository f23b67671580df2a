package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procd/procd/internal/client"
	"github.com/procd/procd/internal/config"
	pb "github.com/procd/procd/proto/procd/v1"
)

func (a *app) waitCmd() *cobra.Command {
	var timeout config.Duration
	var untilReady bool
	cmd := &cobra.Command{
		Use:   "wait [--timeout D] [--ready] ID|PID",
		Short: "wait for a process to end and exit with its code",
		Long: `wait blocks until the process and its tree are gone, then exits with the
process's exit code (128+N when signal N killed it). A process with a restart
policy is waited for across its restarts, until it is final (EXITED, or FAILED
when the policy gave up); the code is then its last run's. With --timeout it gives up
after that long, prints the live record's state and exits 124. With --ready it
returns as soon as the process is ready (see start --ready), exiting 0, or 1 if
the process ended before it was ready.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, pid, err := parseRef(args[0])
			if err != nil {
				return err
			}
			c, err := a.dial()
			if err != nil {
				return err
			}
			req := &pb.WaitForProcessRequest{UntilReady: untilReady}
			if id != "" {
				req.Target = &pb.WaitForProcessRequest_Id{Id: id}
			} else {
				req.Target = &pb.WaitForProcessRequest_Pid{Pid: pid}
			}
			if timeout > 0 {
				req.Timeout = durationpb.New(time.Duration(timeout))
			}
			resp, err := c.Process.WaitForProcess(cmd.Context(), req)
			if err != nil {
				return a.explain(err)
			}
			if a.json {
				if err := printJSON(a.stdout, resp); err != nil {
					return err
				}
			}
			if resp.GetTimedOut() {
				if !a.json {
					fmt.Fprintf(a.stderr, "procctl: %s is still %s after %v\n", resp.GetProcess().GetId(),
						stateName(resp.GetProcess().GetState()), time.Duration(timeout))
				}
				return &exitError{client.ExitTimeout}
			}
			if untilReady {
				if p := resp.GetProcess(); p.GetReadyAt() == nil {
					return fmt.Errorf("%s ended before it was ready (%s)", p.GetId(), notReadyReason(p))
				}
				return nil
			}
			if code := exitCodeOf(resp.GetProcess()); code != 0 {
				return &exitError{code}
			}
			return nil
		},
	}
	cmd.Flags().Var(&timeout, "timeout", "give up after this long and exit 124 (e.g. 30s)")
	cmd.Flags().BoolVar(&untilReady, "ready", false, "return once the process is ready (exit 1 if it ends first)")
	return cmd
}

func exitCodeOf(p *pb.Process) int { return client.ProcessExitCode(p) }
