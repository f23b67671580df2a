package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/procd/procd/proto/procd/v1"
)

func (a *app) runCmd() *cobra.Command {
	var f specFlags
	var interactive bool
	cmd := &cobra.Command{
		Use:   "run [flags] [--] COMMAND [ARG...]",
		Short: "start a process, stream its output, wait and exit with its code",
		Long: `run starts a process under procd, streams its stdout and stderr to procctl's own,
waits for it and its tree to end, and exits with its exit code (128+N when signal N
killed it), like systemd-run --wait --pipe. With -i procctl's standard input is
forwarded to the process (end of input closes its stdin); with --tty the process
runs on a pseudo-terminal (and procctl's terminal is put in raw mode).

run is a session, a pipe: every byte of output arrives, in order, however fast the
process writes; when procctl cannot keep up (a slow terminal, a full pipe after
procctl) the process waits in write(2), as it would writing to a pipe directly.
The process is bound to the session: if procctl goes away before it ends (killed,
its connection lost), procd stops the process's tree with reason CLIENT_GONE and
closes its stdin.

The first Ctrl-C (SIGINT or SIGTERM to procctl) stops the process gracefully
(stop signal, grace period, SIGKILL to its tree); a second one kills it at once.

` + contextHelp,
		Example: `  procctl run -- sh -c 'echo hi; exit 3'; echo $?   # prints hi, then 3
  echo hello | procctl run -i -- cat`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if interactive {
				f.stdin = "pipe"
			}
			spec, err := f.spec(args)
			if err != nil {
				return err
			}
			if err := f.fillContext(spec, a.local()); err != nil {
				return err
			}
			spec.BindToSession = true
			stopForwarding := func() {}
			defer func() { stopForwarding() }()
			start := &pb.AttachStart{Target: &pb.AttachStart_Spec{Spec: spec}, Stdin: interactive}
			return a.attach(cmd.Context(), start, f.tty, func(p *pb.Process) {
				stopForwarding = a.forwardStops(p.GetId())
			}, nil)
		},
	}
	f.bind(cmd.Flags())
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "forward procctl's standard input to the process")
	return cmd
}

// forwardStops turns procctl's SIGINT/SIGTERM into a graceful stop of the
// process, and a second one into an immediate kill.
func (a *app) forwardStops(id string) (stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case <-sigs:
			case <-done:
				return
			}
			n++
			req := &pb.StopProcessRequest{Target: &pb.StopProcessRequest_Id{Id: id}}
			if n > 1 {
				req.Grace = durationpb.New(0)
				fmt.Fprintf(a.stderr, "procctl: killing %s\n", id)
			} else {
				fmt.Fprintf(a.stderr, "procctl: stopping %s (again to kill)\n", id)
			}
			go a.conn.Process.StopProcess(context.Background(), req)
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

// copyOutput streams output chunks to stdout/stderr (or JSON lines) until
// the stream ends, warning about bytes the ring dropped before they were read.
func (a *app) copyOutput(ctx context.Context, req *pb.ReadOutputRequest) error {
	c, err := a.dial()
	if err != nil {
		return err
	}
	stream, err := c.Process.ReadOutput(ctx, req)
	if err != nil {
		return a.explain(err)
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return a.explain(err)
		}
		if err := a.writeChunk(msg); err != nil {
			return err
		}
	}
}
