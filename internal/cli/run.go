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
	cmd := &cobra.Command{
		Use:   "run [flags] [--] COMMAND [ARG...]",
		Short: "start a process, stream its output, wait and exit with its code",
		Long: `run starts a process under procd, streams its stdout and stderr to procctl's own,
waits for it and its tree to end, and exits with its exit code (128+N when signal N
killed it), like systemd-run --wait --pipe.

The first Ctrl-C (SIGINT or SIGTERM to procctl) stops the process gracefully
(stop signal, grace period, SIGKILL to its group); a second one kills it at once.`,
		Example: `  procctl run -- sh -c 'echo hi; exit 3'; echo $?   # prints hi, then 3`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := a.startProcess(ctx, &f, args)
			if err != nil {
				return err
			}
			stopForwarding := a.forwardStops(p.GetId())
			defer stopForwarding()
			if err := a.copyOutput(ctx, &pb.ReadOutputRequest{Target: &pb.ReadOutputRequest_Id{Id: p.GetId()}, Follow: true}); err != nil {
				return err
			}
			final, err := a.waitFinal(ctx, p.GetId())
			if err != nil {
				return err
			}
			if a.json {
				if err := printJSONLine(a.stdout, final); err != nil {
					return err
				}
			}
			if code := exitCodeOf(final); code != 0 {
				return &exitError{code}
			}
			return nil
		},
	}
	f.bind(cmd.Flags())
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
		if a.json {
			if err := printJSONLine(a.stdout, msg); err != nil {
				return err
			}
			continue
		}
		name, w := "stdout", a.stdout
		if msg.GetStream() == pb.Stream_STREAM_STDERR {
			name, w = "stderr", a.stderr
		}
		if n := msg.GetSkippedBytes(); n > 0 {
			fmt.Fprintf(a.stderr, "procctl: %d bytes of %s were dropped from procd's ring before they could be read\n", n, name)
		}
		if _, err := w.Write(msg.GetData()); err != nil {
			return err
		}
	}
}

// waitFinal waits without a deadline for the final record.
func (a *app) waitFinal(ctx context.Context, id string) (*pb.Process, error) {
	resp, err := a.conn.Process.WaitForProcess(ctx, &pb.WaitForProcessRequest{Target: &pb.WaitForProcessRequest_Id{Id: id}})
	if err != nil {
		return nil, a.explain(err)
	}
	return resp.GetProcess(), nil
}
