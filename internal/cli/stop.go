package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procd/procd/internal/config"
	pb "github.com/procd/procd/proto/procd/v1"
)

func (a *app) stopCmd() *cobra.Command {
	var sel selectorFlags
	var grace config.Duration
	var sig string
	cmd := &cobra.Command{
		Use:   "stop (ID|PID | --all | --name N | --label k=v) [--grace D] [--signal SIG]",
		Short: "stop processes gracefully and wait until their trees are gone",
		Long: `stop sends the stop signal (default SIGTERM) to each target's process group,
waits the grace period, then sends SIGKILL to the group, even if the leader has
already exited. It returns once every tree is gone. Stopping a finished process
succeeds and prints its record.`,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &pb.StopProcessRequest{Signal: sig}
			if cmd.Flags().Changed("grace") {
				req.Grace = durationpb.New(time.Duration(grace))
			}
			if err := a.target(&sel, args, func(id string, pid int32, s *pb.Selector) {
				switch {
				case s != nil:
					req.Target = &pb.StopProcessRequest_Selector{Selector: s}
				case id != "":
					req.Target = &pb.StopProcessRequest_Id{Id: id}
				default:
					req.Target = &pb.StopProcessRequest_Pid{Pid: pid}
				}
			}); err != nil {
				return err
			}
			c, err := a.dial()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := c.Process.StopProcess(ctx, req)
			if err != nil {
				return a.explain(err)
			}
			if a.json {
				return printJSON(a.stdout, resp)
			}
			failed := 0
			for _, r := range resp.GetResults() {
				p := r.GetProcess()
				if r.GetError() != "" {
					failed++
					fmt.Fprintf(a.stdout, "%s\tpid %d\tnot stopped: %s\n", p.GetId(), p.GetPid(), r.GetError())
					continue
				}
				fmt.Fprintf(a.stdout, "%s\tpid %d\t%s (%s)\n", p.GetId(), p.GetPid(),
					exitSummary(p.GetExit()), reasonName(p.GetExit().GetReason()))
			}
			if len(resp.GetResults()) == 0 {
				fmt.Fprintln(a.stderr, "procctl: no process matched")
			}
			if failed > 0 {
				return fmt.Errorf("%d process(es) could not be stopped", failed)
			}
			return nil
		},
	}
	sel.bind(cmd.Flags())
	cmd.Flags().Var(&grace, "grace", "time between the stop signal and SIGKILL (default: the process's; 0: kill at once)")
	cmd.Flags().StringVar(&sig, "signal", "", "stop signal (default: the process's, SIGTERM)")
	return cmd
}
