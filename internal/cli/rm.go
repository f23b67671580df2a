package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	pb "github.com/procd/procd/proto/procd/v1"
)

func (a *app) rmCmd() *cobra.Command {
	var finished bool
	cmd := &cobra.Command{
		Use:   "rm (ID|PID | --finished)",
		Short: "remove a finished process's record (or all finished records)",
		Args:  cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if finished == (len(args) == 1) {
				return usagef("give a process id or pid, or --finished")
			}
			c, err := a.dial()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			if finished {
				resp, err := c.Process.CleanupFinished(ctx, &pb.CleanupFinishedRequest{})
				if err != nil {
					return a.explain(err)
				}
				if a.json {
					return printJSON(a.stdout, resp)
				}
				fmt.Fprintf(a.stdout, "removed %d finished record(s)\n", len(resp.GetRemovedIds()))
				return nil
			}
			id, pid, err := parseRef(args[0])
			if err != nil {
				return err
			}
			req := &pb.RemoveProcessRequest{}
			if id != "" {
				req.Target = &pb.RemoveProcessRequest_Id{Id: id}
			} else {
				req.Target = &pb.RemoveProcessRequest_Pid{Pid: pid}
			}
			resp, err := c.Process.RemoveProcess(ctx, req)
			if err != nil {
				return a.explain(err)
			}
			if a.json {
				return printJSON(a.stdout, resp.GetProcess())
			}
			fmt.Fprintf(a.stdout, "%s\tremoved\n", resp.GetProcess().GetId())
			return nil
		},
	}
	cmd.Flags().BoolVar(&finished, "finished", false, "remove every finished record")
	return cmd
}
