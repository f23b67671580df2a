package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	pb "github.com/procd/procd/proto/procd/v1"
)

func (a *app) heartbeatCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "heartbeat ID|PID",
		Short: "record activity for a process (the watchdog's heartbeat source)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, pid, err := parseRef(args[0])
			if err != nil {
				return err
			}
			req := &pb.UpdateActivityRequest{}
			if id != "" {
				req.Target = &pb.UpdateActivityRequest_Id{Id: id}
			} else {
				req.Target = &pb.UpdateActivityRequest_Pid{Pid: pid}
			}
			c, err := a.dial()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := c.Process.UpdateActivity(ctx, req)
			if err != nil {
				return a.explain(err)
			}
			if a.json {
				return printJSON(a.stdout, resp.GetProcess())
			}
			fmt.Fprintf(a.stdout, "%s\tactivity recorded\n", resp.GetProcess().GetId())
			return nil
		},
	}
}
