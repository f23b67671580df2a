package cli

import (
	"github.com/spf13/cobra"

	pb "github.com/procd/procd/proto/procd/v1"
)

func (a *app) psCmd() *cobra.Command {
	var all bool
	var name string
	var labels []string
	cmd := &cobra.Command{
		Use:     "ps",
		Aliases: []string{"list"},
		Short:   "list processes (live ones: starting, running, stopping, or waiting to restart; --all includes finished)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := parseKV("label", labels)
			if err != nil {
				return err
			}
			req := &pb.ListProcessesRequest{Name: name, Labels: l}
			if !all {
				req.States = []pb.ProcessState{pb.ProcessState_PROCESS_STATE_STARTING, pb.ProcessState_PROCESS_STATE_RUNNING,
					pb.ProcessState_PROCESS_STATE_STOPPING, pb.ProcessState_PROCESS_STATE_BACKOFF}
			}
			c, err := a.dial()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := c.Process.ListProcesses(ctx, req)
			if err != nil {
				return a.explain(err)
			}
			if a.json {
				return printJSON(a.stdout, resp)
			}
			printTable(a.stdout, resp.GetProcesses())
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "include finished processes")
	cmd.Flags().StringVar(&name, "name", "", "only processes with this name")
	cmd.Flags().StringArrayVarP(&labels, "label", "l", nil, "only processes with this label key=value (repeatable)")
	return cmd
}
