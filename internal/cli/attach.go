package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/procd/procd/internal/client"
	pb "github.com/procd/procd/proto/procd/v1"
)

func (a *app) attachCmd() *cobra.Command {
	var noStdin, lossy bool
	var offset, tail int64
	cmd := &cobra.Command{
		Use:   "attach [--no-stdin] [--since-offset N | --tail N] ID|PID",
		Short: "stream a process's output and feed it stdin until it exits",
		Long: `attach prints a process's output (stdout to stdout, stderr to stderr) from the
given offset (default: the oldest byte still kept, so nothing produced since the
start is missed) and, when the process's stdin is a pipe or a terminal, sends
procctl's standard input to it: end of input closes it. When the process exits,
attach exits with its code (128+N for signal N).

attach is a session, a pipe: from the moment it attaches, every byte the process
writes arrives, in order; when procctl falls behind (a slow terminal, a full pipe
after procctl) procd stops reading the process's output and the process waits in
write(2), as on a direct pipe — other readers (logs -f, the ring) are unaffected,
and when several sessions are attached the slowest sets the pace. Bytes from
before the attach come from what procd kept (its ring, log files), and a gap
there is reported. --lossy makes attach an observer that never slows the
process and reports what it missed instead.

Ctrl-C detaches (exit 130) and leaves the process running with its stdin open for
another client; if procctl is killed instead, procd closes the stdin it held (end
of input, as for a pipe whose writer died). Only one attach at a time holds stdin.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, pid, err := parseRef(args[0])
			if err != nil {
				return err
			}
			c, err := a.dial()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			get := &pb.GetProcessRequest{}
			if id != "" {
				get.Target = &pb.GetProcessRequest_Id{Id: id}
			} else {
				get.Target = &pb.GetProcessRequest_Pid{Pid: pid}
			}
			resp, err := c.Process.GetProcess(ctx, get)
			if err != nil {
				return a.explain(err)
			}
			p := resp.GetProcess()
			start := &pb.AttachStart{Target: &pb.AttachStart_Id{Id: p.GetId()}, StdoutOffset: offset, StderrOffset: offset,
				Stdin: !noStdin && p.GetExit() == nil && (p.GetStdin() == pb.StdinMode_STDIN_MODE_PIPE || p.GetTty()),
				Lossy: lossy}
			if cmd.Flags().Changed("tail") {
				start.TailBytes = &tail
			}
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
			defer signal.Stop(sigs)
			detach := make(chan struct{})
			go func() {
				if _, ok := <-sigs; ok {
					close(detach)
				}
			}()
			err = a.attach(cmd.Context(), start, p.GetTty(), nil, detach)
			if errors.Is(err, errDetached) {
				fmt.Fprintf(a.stderr, "procctl: detached from %s; it keeps running\n", p.GetId())
				return &exitError{130}
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "only stream output; leave stdin alone")
	cmd.Flags().BoolVar(&lossy, "lossy", false, "observe without ever slowing the process; report bytes missed instead")
	cmd.Flags().Int64Var(&offset, "since-offset", 0, "start at this byte offset of each stream")
	cmd.Flags().Int64Var(&tail, "tail", 0, "start this many bytes before the end of each stream")
	return cmd
}

// attach runs one Attach call: output to stdout/stderr, procctl's stdin to
// the process when start.Stdin, and the process's exit code as the result.
// started is told the record of a process the attach started (start.spec).
// When detach is closed, the attach lets go of stdin (leaving it open for
// another client) and ends with errDetached.
func (a *app) attach(ctx context.Context, start *pb.AttachStart, tty bool, started func(*pb.Process), detach <-chan struct{}) error {
	c, err := a.dial()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stream, err := c.Process.Attach(ctx)
	if err != nil {
		return a.explain(err)
	}
	pipes := a.offerPipes(start, tty)
	if pipes != nil {
		defer pipes.closeAll()
	}
	if err := stream.Send(&pb.AttachRequest{Kind: &pb.AttachRequest_Start{Start: start}}); err != nil {
		if errors.Is(err, io.EOF) {
			// The call already ended (a refusal): its status comes from Recv.
			_, err = stream.Recv()
		}
		return a.explain(err)
	}
	var early *pb.AttachResponse
	if pipes != nil {
		// procd answers the offer first: with stdin handed over, nothing
		// may be pumped over the stream.
		if pipes, early, err = a.answeredPipes(stream, pipes); err != nil {
			return err
		}
	}
	send := &sender{stream: stream}
	switch {
	case start.GetStdin() && (pipes == nil || pipes.inR == nil):
		restore := a.rawTerminal(tty, send)
		defer restore()
		go a.pumpStdin(send)
	default:
		stream.CloseSend()
	}
	if detach != nil {
		stop := make(chan struct{})
		defer close(stop)
		go detachOn(detach, stop, start.GetStdin(), send, cancel)
	}
	return a.attachLoop(ctx, stream, early, pipes, started, cancel)
}

// detachOn ends the attach when detach is closed (until stop is): it lets
// go of stdin first, so it stays open for another client, and the output
// loop ends the call once procd confirms, or after 2 s anyway.
func detachOn(detach, stop <-chan struct{}, holdsStdin bool, send *sender, cancel context.CancelCauseFunc) {
	select {
	case <-detach:
	case <-stop:
		return
	}
	if !holdsStdin || send.send(&pb.AttachRequest{Kind: &pb.AttachRequest_ReleaseStdin{ReleaseStdin: true}}) != nil {
		cancel(errDetached)
		return
	}
	select {
	case <-time.After(2 * time.Second):
		cancel(errDetached)
	case <-stop:
	}
}

// attachLoop handles procd's messages on an attach (early first, if set)
// until the exit record, and returns the exit code as an error.
func (a *app) attachLoop(ctx context.Context, stream pb.ProcessService_AttachClient, early *pb.AttachResponse,
	pipes *clientPipes, started func(*pb.Process), cancel context.CancelCauseFunc) error {
	for {
		msg, err := early, error(nil)
		if early == nil {
			msg, err = stream.Recv()
		}
		early = nil
		if errors.Is(err, io.EOF) {
			return errors.New("the attach ended without the process's exit record")
		}
		if errors.Is(context.Cause(ctx), errDetached) {
			return errDetached
		}
		if err != nil {
			return a.explain(err)
		}
		switch k := msg.GetKind().(type) {
		case *pb.AttachResponse_StdinReleased:
			cancel(errDetached)
			return errDetached
		case *pb.AttachResponse_Started:
			if started != nil {
				started(k.Started)
			}
		case *pb.AttachResponse_Output:
			if err := a.writeChunk(k.Output); err != nil {
				return err
			}
		case *pb.AttachResponse_Exit:
			if pipes != nil {
				pipes.wait()
			}
			if a.json {
				if err := printJSONLine(a.stdout, k.Exit); err != nil {
					return err
				}
			}
			if code := client.ProcessExitCode(k.Exit); code != 0 {
				return &exitError{code}
			}
			return nil
		}
	}
}

// answeredPipes reads procd's answer to the pipes offered: it returns them
// (now in use) if procd took them, nil if the session stays on the stream.
// A procd older than the fast path does not answer: its first message is
// returned for the caller to handle, on the stream.
func (a *app) answeredPipes(stream pb.ProcessService_AttachClient, p *clientPipes) (*clientPipes, *pb.AttachResponse, error) {
	msg, err := stream.Recv()
	if err != nil {
		return nil, nil, a.explain(err)
	}
	res := msg.GetLocalPipes()
	if res == nil || !res.GetTaken() {
		p.closeAll()
		if res == nil {
			return nil, msg, nil
		}
		return nil, nil, nil
	}
	p.taken(a)
	return p, nil, nil
}

// errDetached ends an attach the user detached from.
var errDetached = errors.New("detached")

// writeChunk writes one output chunk where it belongs.
func (a *app) writeChunk(m *pb.ReadOutputResponse) error {
	if a.json {
		return printJSONLine(a.stdout, m)
	}
	name, w := "stdout", a.stdout
	if m.GetStream() == pb.Stream_STREAM_STDERR {
		name, w = "stderr", a.stderr
	}
	if n := m.GetSkippedBytes(); n > 0 {
		fmt.Fprintf(a.stderr, "procctl: %d bytes of %s were dropped from procd's ring before they could be read\n", n, name)
	}
	_, err := w.Write(m.GetData())
	return err
}

// sender serialises the messages procctl sends on an attach (stdin and
// resizes come from different goroutines).
type sender struct {
	mu     sync.Mutex
	stream pb.ProcessService_AttachClient
}

func (s *sender) send(m *pb.AttachRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stream.Send(m)
}

func (s *sender) closeSend() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stream.CloseSend()
}

// pumpStdin sends procctl's stdin to the process, then closes it.
func (a *app) pumpStdin(s *sender) {
	buf := make([]byte, 32<<10)
	for {
		n, err := a.stdin.Read(buf)
		if n > 0 {
			data := append([]byte(nil), buf[:n]...)
			if s.send(&pb.AttachRequest{Kind: &pb.AttachRequest_Stdin{Stdin: data}}) != nil {
				return
			}
		}
		if err != nil {
			s.send(&pb.AttachRequest{Kind: &pb.AttachRequest_CloseStdin{CloseStdin: true}})
			s.closeSend()
			return
		}
	}
}
