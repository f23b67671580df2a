package cli

import (
	"github.com/spf13/cobra"

	pb "github.com/procd/procd/proto/procd/v1"
)

func (a *app) logsCmd() *cobra.Command {
	var follow bool
	var stream string
	var offset, tail int64
	cmd := &cobra.Command{
		Use:   "logs [-f] [--stream stdout|stderr] [--since-offset N | --tail N] ID|PID",
		Short: "print a process's captured output",
		Long: `logs prints captured output: stdout to stdout and stderr to stderr. Offsets are
byte offsets into each stream, so a reader can resume exactly (--since-offset).
Bytes already dropped from procd's ring are reported on stderr, never skipped
silently. -f keeps streaming until the process has exited.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, pid, err := parseRef(args[0])
			if err != nil {
				return err
			}
			req := &pb.ReadOutputRequest{Follow: follow, Offset: offset}
			if id != "" {
				req.Target = &pb.ReadOutputRequest_Id{Id: id}
			} else {
				req.Target = &pb.ReadOutputRequest_Pid{Pid: pid}
			}
			switch stream {
			case "":
			case "stdout":
				req.Stream = pb.Stream_STREAM_STDOUT
			case "stderr":
				req.Stream = pb.Stream_STREAM_STDERR
			default:
				return usagef("--stream %q: use stdout or stderr", stream)
			}
			if cmd.Flags().Changed("tail") {
				if cmd.Flags().Changed("since-offset") {
					return usagef("--tail and --since-offset exclude each other")
				}
				req.TailBytes = &tail
			}
			return a.copyOutput(cmd.Context(), req)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep streaming until the process exits")
	cmd.Flags().StringVar(&stream, "stream", "", "only this stream: stdout or stderr (default both)")
	cmd.Flags().Int64Var(&offset, "since-offset", 0, "start at this byte offset of each stream")
	cmd.Flags().Int64Var(&tail, "tail", 0, "start this many bytes before the end of each stream")
	return cmd
}
