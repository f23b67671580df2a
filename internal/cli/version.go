package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/procd/procd/internal/version"
	pb "github.com/procd/procd/proto/procd/v1"
)

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print procctl's version and the daemon's",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(a.stdout, "procctl", version.String())
			c, err := a.dial()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			s, err := c.Process.GetStats(ctx, &pb.GetStatsRequest{})
			if err != nil {
				return a.explain(err)
			}
			fmt.Fprintf(a.stdout, "procd %s (pid %d)\n", s.GetDaemon().GetVersion(), s.GetDaemon().GetPid())
			return nil
		},
	}
}
