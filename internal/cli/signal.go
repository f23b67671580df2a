package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	pb "github.com/procd/procd/proto/procd/v1"
)

func (a *app) signalCmd() *cobra.Command {
	var sel selectorFlags
	var leaderOnly bool
	cmd := &cobra.Command{
		Use:   "signal (ID|PID | --all | --name N | --label k=v) SIGNAL",
		Short: "send a signal to a process group (or to many)",
		Long: `signal sends SIGNAL to the process group of each target (the leader alone with
--leader-only). SIGNAL is a kind of the original API (timeout = SIGTERM, force =
SIGKILL, interrupt = SIGINT), a name (SIGUSR1, HUP) or a number (9).

A process that already exited is reported, not treated as a failure.`,
		Example: `  procctl signal p-3 USR1
  procctl signal --label campaign=a timeout`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &pb.SendSignalRequest{LeaderOnly: leaderOnly}
			if err := a.target(&sel, args[:len(args)-1], func(id string, pid int32, s *pb.Selector) {
				switch {
				case s != nil:
					req.Target = &pb.SendSignalRequest_Selector{Selector: s}
				case id != "":
					req.Target = &pb.SendSignalRequest_Id{Id: id}
				default:
					req.Target = &pb.SendSignalRequest_Pid{Pid: pid}
				}
			}); err != nil {
				return err
			}
			req.Signal = args[len(args)-1]
			return a.sendSignal(cmd, req)
		},
	}
	sel.bind(cmd.Flags())
	cmd.Flags().BoolVar(&leaderOnly, "leader-only", false, "signal the leader only, not its process group")
	return cmd
}

func (a *app) killCmd() *cobra.Command {
	var sel selectorFlags
	cmd := &cobra.Command{
		Use:   "kill (ID|PID | --all | --name N | --label k=v)",
		Short: "send SIGKILL to a process group at once (signal ... force)",
		Args:  cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &pb.SendSignalRequest{Signal: "force"}
			if err := a.target(&sel, args, func(id string, pid int32, s *pb.Selector) {
				switch {
				case s != nil:
					req.Target = &pb.SendSignalRequest_Selector{Selector: s}
				case id != "":
					req.Target = &pb.SendSignalRequest_Id{Id: id}
				default:
					req.Target = &pb.SendSignalRequest_Pid{Pid: pid}
				}
			}); err != nil {
				return err
			}
			return a.sendSignal(cmd, req)
		},
	}
	sel.bind(cmd.Flags())
	return cmd
}

// target resolves the process arguments of a bulk-capable command: either
// selector flags and no argument, or one id or pid.
func (a *app) target(sel *selectorFlags, procArgs []string, set func(id string, pid int32, s *pb.Selector)) error {
	if sel.set() {
		if len(procArgs) != 0 {
			return usagef("give either a process or --all/--name/--label, not both")
		}
		s, err := sel.selector()
		if err != nil {
			return err
		}
		set("", 0, s)
		return nil
	}
	if len(procArgs) != 1 {
		return usagef("give a process id or pid (or --all, --name, --label)")
	}
	id, pid, err := parseRef(procArgs[0])
	if err != nil {
		return err
	}
	set(id, pid, nil)
	return nil
}

func (a *app) sendSignal(cmd *cobra.Command, req *pb.SendSignalRequest) error {
	c, err := a.dial()
	if err != nil {
		return err
	}
	ctx, cancel := a.callCtx(cmd.Context())
	defer cancel()
	resp, err := c.Process.SendSignal(ctx, req)
	if err != nil {
		return a.explain(err)
	}
	if a.json {
		return printJSON(a.stdout, resp)
	}
	failed := 0
	for _, r := range resp.GetResults() {
		switch {
		case r.GetDelivered():
			fmt.Fprintf(a.stdout, "%s\tpid %d\t%s sent\n", r.GetId(), r.GetPid(), resp.GetSignal())
		case r.GetError() == "already exited":
			fmt.Fprintf(a.stdout, "%s\tpid %d\talready exited\n", r.GetId(), r.GetPid())
		default:
			failed++
			fmt.Fprintf(a.stdout, "%s\tpid %d\tnot sent: %s\n", r.GetId(), r.GetPid(), r.GetError())
		}
	}
	if len(resp.GetResults()) == 0 {
		fmt.Fprintln(a.stderr, "procctl: no process matched")
	}
	if failed > 0 {
		return fmt.Errorf("%s could not be sent to %d process(es)", resp.GetSignal(), failed)
	}
	return nil
}
