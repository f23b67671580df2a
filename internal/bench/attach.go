//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/procd/procd/internal/client"
	pb "github.com/procd/procd/proto/procd/v1"
)

// P7: request/response round trips with a line echo server, driven
// through pipes directly (the baseline), through a session on the local
// fast path (the client's own pipes, as procctl run -i uses them), and
// through a session on the gRPC stream (a remote client's path).
func p7Attach(cfg Config, t *Table) error {
	n := 5000
	if cfg.Quick {
		n = 200
	}
	dm, err := startDaemon(cfg)
	if err != nil {
		return err
	}
	defer dm.stop()
	// Interleaved, best of three each: a shared VM's noise only ever
	// slows a run down.
	var direct, relay, bare, fast, stream float64
	for range 3 {
		d, err := p7Direct(cfg, n)
		if err != nil {
			return fmt.Errorf("direct: %w", err)
		}
		r, err := p7Relay(cfg, n, true)
		if err != nil {
			return fmt.Errorf("tee: %w", err)
		}
		relay = max(relay, r)
		if r, err = p7Relay(cfg, n, false); err != nil {
			return fmt.Errorf("cat: %w", err)
		}
		bare = max(bare, r)
		f, err := p7Local(cfg, dm, n)
		if err != nil {
			return fmt.Errorf("local pipes: %w", err)
		}
		s, err := p7Stream(cfg, dm, n)
		if err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		direct, fast, stream = max(direct, d), max(fast, f), max(stream, s)
	}
	ratio := fast / direct
	t.Rows = append(t.Rows, Row{ID: "P7", Measure: "session round trips, line echo server, local client (pipes handed over)",
		Figure: fmt.Sprintf("%.0f/s", fast), Baseline: fmt.Sprintf("pipes from Go %.0f/s; through tee(1) %.0f/s (procd %.2fx)", direct, relay, fast/relay),
		Ratio: fmt.Sprintf("%.2fx", ratio), Goal: "≥ 0.5x", Verdict: verdict(ratio >= 0.5)})
	ratio = stream / direct
	t.Rows = append(t.Rows, Row{ID: "P7", Measure: "same over the gRPC stream (a remote client's path)",
		Figure: fmt.Sprintf("%.0f/s", stream), Baseline: fmt.Sprintf("pipes from Go %.0f/s", direct),
		Ratio: fmt.Sprintf("%.2fx", ratio), Goal: "(for reference)", Verdict: "-"})
	t.Notes = append(t.Notes, fmt.Sprintf("P7: one relay process in the path, for scale: through tee(1) into a file %.0f/s (%.2fx pipes), through cat(1) %.0f/s (%.2fx pipes); procd's local path is %.2fx tee's and %.2fx cat's (best of 3 interleaved rounds each)",
		relay, relay/direct, bare, bare/direct, fast/relay, fast/bare))
	return nil
}

// roundTrips writes n lines to w and reads each echo from r, and returns
// the rate.
func roundTrips(n int, w io.Writer, readLine func() error) (float64, error) {
	t0 := time.Now()
	for i := range n {
		if _, err := fmt.Fprintf(w, "request %d\n", i); err != nil {
			return 0, err
		}
		if err := readLine(); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

func p7Direct(cfg Config, n int) (float64, error) {
	cmd := exec.Command(cfg.Self, "echo-server")
	in, _ := cmd.StdinPipe()
	outPipe, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer cmd.Wait()
	defer in.Close()
	r := bufio.NewReader(outPipe)
	return roundTrips(n, in, func() error { _, err := r.ReadString('\n'); return err })
}

// p7Relay is what a user who wants a record would reach for without
// procd: the server's output through tee(1) into a file, one recording
// process in the path, as procd is on the local fast path (stdin goes to
// the server directly on both). With record false the relay is cat(1):
// the price of the extra hop alone on this machine.
func p7Relay(cfg Config, n int, record bool) (float64, error) {
	srv := exec.Command(cfg.Self, "echo-server")
	in, err := srv.StdinPipe()
	if err != nil {
		return 0, err
	}
	mid, err := srv.StdoutPipe()
	if err != nil {
		return 0, err
	}
	rec, err := os.CreateTemp("", "procd-bench-tee-*")
	if err != nil {
		return 0, err
	}
	rec.Close()
	defer os.Remove(rec.Name())
	relay := exec.Command("cat")
	if record {
		relay = exec.Command("tee", rec.Name())
	}
	relay.Stdin = mid
	out, err := relay.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := srv.Start(); err != nil {
		return 0, err
	}
	defer srv.Wait()
	if err := relay.Start(); err != nil {
		in.Close()
		return 0, err
	}
	defer relay.Wait()
	defer in.Close() // first: the server's end of file is the relay's
	r := bufio.NewReader(out)
	return roundTrips(n, in, func() error { _, err := r.ReadString('\n'); return err })
}

// p7Local starts the server through Attach with the client's own pipes
// (AttachStart.local_pipes): stdin read by the server directly, stdout
// and stderr written by procd, which records them on the way.
func p7Local(cfg Config, dm *daemon, n int) (float64, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer inW.Close()
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	defer outR.Close()
	defer errR.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	spec := &pb.ProcessSpec{Command: []string{cfg.Self, "echo-server"}, Stdin: pb.StdinMode_STDIN_MODE_PIPE, BindToSession: true}
	st, err := attachLocal(ctx, dm.c, spec, inR, outW, errW)
	if err != nil {
		return 0, err
	}
	r := bufio.NewReader(outR)
	rate, err := roundTrips(n, inW, func() error { _, err := r.ReadString('\n'); return err })
	if err != nil {
		return 0, err
	}
	inW.Close()
	for { // to the final record
		if m, err := st.Recv(); err != nil || m.GetExit() != nil {
			return rate, err
		}
	}
}

// p7Stream is the stream path: StartProcess, then Attach with stdin.
func p7Stream(cfg Config, dm *daemon, n int) (float64, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := dm.c.StartProcess(ctx, &pb.StartProcessRequest{Spec: &pb.ProcessSpec{Command: []string{cfg.Self, "echo-server"},
		Stdin: pb.StdinMode_STDIN_MODE_PIPE}})
	if err != nil {
		return 0, err
	}
	st, err := dm.c.Attach(ctx)
	if err != nil {
		return 0, err
	}
	st.Send(&pb.AttachRequest{Kind: &pb.AttachRequest_Start{Start: &pb.AttachStart{Target: &pb.AttachStart_Id{Id: s.GetProcess().GetId()}, Stdin: true}}})
	var pending bytes.Buffer
	line := func() error {
		for !bytes.Contains(pending.Bytes(), []byte("\n")) {
			m, err := st.Recv()
			if err != nil {
				return err
			}
			pending.Write(m.GetOutput().GetData())
		}
		_, err := pending.ReadString('\n')
		return err
	}
	w := writerFunc(func(p []byte) (int, error) {
		return len(p), st.Send(&pb.AttachRequest{Kind: &pb.AttachRequest_Stdin{Stdin: append([]byte(nil), p...)}})
	})
	rate, err := roundTrips(n, w, line)
	if err != nil {
		return 0, err
	}
	st.Send(&pb.AttachRequest{Kind: &pb.AttachRequest_CloseStdin{CloseStdin: true}})
	for {
		if m, err := st.Recv(); err != nil || m.GetExit() != nil {
			return rate, err
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// pipeCapture starts args through Attach with the client's own pipes (a
// lossless session on the local fast path, as procctl run uses it), reads
// every byte from the stdout pipe, and returns the time from the request
// to the final record.
func pipeCapture(c pb.ProcessServiceClient, args []string, size int64) (time.Duration, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	errR, errW, _ := os.Pipe()
	defer outR.Close()
	defer errR.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := time.Now()
	st, err := attachLocal(ctx, c, &pb.ProcessSpec{Command: args, BindToSession: true}, nil, outW, errW)
	if err != nil {
		return 0, err
	}
	st.CloseSend()
	go io.Copy(io.Discard, errR)
	got, _ := client.CopyLocalPipe(io.Discard, outR) // procctl's copy
	for {
		m, err := st.Recv()
		if err != nil {
			return 0, err
		}
		if m.GetExit() != nil {
			break
		}
	}
	if got != size {
		return 0, fmt.Errorf("the session's pipe got %d bytes of %d", got, size)
	}
	return time.Since(t0), nil
}

// attachLocal starts spec through Attach on the local fast path, handing
// procd stdin (the read end, or nil), stdout and stderr (write ends), which
// it closes once procd answered: procd holds its own copies then. It fails
// unless procd took them.
func attachLocal(ctx context.Context, c pb.ProcessServiceClient, spec *pb.ProcessSpec, stdin, stdout, stderr *os.File) (pb.ProcessService_AttachClient, error) {
	defer func() {
		for _, f := range []*os.File{stdin, stdout, stderr} {
			if f != nil {
				f.Close()
			}
		}
	}()
	st, err := c.Attach(ctx)
	if err != nil {
		return nil, err
	}
	lp := &pb.LocalPipes{Stdout: int32(stdout.Fd()), Stderr: int32(stderr.Fd())}
	if stdin != nil {
		fd := int32(stdin.Fd())
		lp.Stdin = &fd
	}
	start := &pb.AttachStart{Target: &pb.AttachStart_Spec{Spec: spec}, Stdin: stdin != nil, LocalPipes: lp}
	if err := st.Send(&pb.AttachRequest{Kind: &pb.AttachRequest_Start{Start: start}}); err != nil {
		return nil, err
	}
	m, err := st.Recv()
	if err != nil {
		return nil, err
	}
	if !m.GetLocalPipes().GetTaken() {
		return nil, fmt.Errorf("procd did not take the local pipes: %s", m.GetLocalPipes().GetReason())
	}
	return st, nil
}
