package cli

import (
	"github.com/spf13/cobra"

	pb "github.com/procd/procd/proto/procd/v1"
)

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status ID|PID",
		Short: "show one process's record",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, pid, err := parseRef(args[0])
			if err != nil {
				return err
			}
			c, err := a.dial()
			if err != nil {
				return err
			}
			req := &pb.GetProcessRequest{}
			if id != "" {
				req.Target = &pb.GetProcessRequest_Id{Id: id}
			} else {
				req.Target = &pb.GetProcessRequest_Pid{Pid: pid}
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := c.Process.GetProcess(ctx, req)
			if err != nil {
				return a.explain(err)
			}
			if a.json {
				return printJSON(a.stdout, resp.GetProcess())
			}
			printProcess(a.stdout, resp.GetProcess())
			return nil
		},
	}
}
