package cli

import (
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/procd/procd/internal/client"
	pb "github.com/procd/procd/proto/procd/v1"
)

// clientPipes is the client side of a session's local fast path
// (AttachStart.local_pipes): procctl offers procd the write ends of two
// pipes for stdout and stderr, and for a session that starts its process
// with -i the read end of one for stdin, which the process then reads
// directly. The bytes then skip gRPC altogether; procd still records and
// watches every one. If procd cannot take them (a remote daemon, a
// non-root one not allowed to take descriptors from procctl), the session
// runs on the stream as before.
type clientPipes struct {
	out, outW, errR, errW *os.File
	inR, inW              *os.File // nil without stdin
	copies                sync.WaitGroup
}

// offerPipes makes the pipes and fills start.local_pipes, or returns nil
// when the fast path does not apply: over --addr, with --json (chunks are
// printed as messages), for a lossy observer or a terminal.
func (a *app) offerPipes(start *pb.AttachStart, tty bool) *clientPipes {
	if runtime.GOOS != "linux" || !a.local() || a.json || tty || start.GetLossy() || os.Getenv("PROCCTL_NO_LOCAL_PIPES") != "" {
		return nil
	}
	p := &clientPipes{}
	var err error
	if p.out, p.outW, err = os.Pipe(); err != nil {
		return nil
	}
	if p.errR, p.errW, err = os.Pipe(); err != nil {
		p.closeAll()
		return nil
	}
	lp := &pb.LocalPipes{Stdout: int32(p.outW.Fd()), Stderr: int32(p.errW.Fd())}
	if start.GetStdin() && start.GetSpec() != nil {
		if p.inR, p.inW, err = os.Pipe(); err != nil {
			p.closeAll()
			return nil
		}
		fd := int32(p.inR.Fd())
		lp.Stdin = &fd
	}
	start.LocalPipes = lp
	return p
}

func (p *clientPipes) closeAll() {
	for _, f := range []*os.File{p.out, p.outW, p.errR, p.errW, p.inR, p.inW} {
		if f != nil {
			f.Close()
		}
	}
}

// taken starts the copies once procd holds its copies: procctl closes the
// ends it gave (so end of file comes when procd closes its own), copies
// stdout and stderr out (client.CopyLocalPipe: a privileged procctl raises a busy pipe to
// 1 MiB) and, with stdin, its standard input in (closing the pipe at end
// of input).
func (p *clientPipes) taken(a *app) {
	p.outW.Close()
	p.errW.Close()
	for _, c := range []struct {
		w io.Writer
		r *os.File
	}{{a.stdout, p.out}, {a.stderr, p.errR}} {
		p.copies.Add(1)
		go func() {
			defer p.copies.Done()
			if _, err := client.CopyLocalPipe(c.w, c.r); err != nil {
				io.Copy(io.Discard, c.r) // procctl's own output is gone: keep procd unblocked
			}
			c.r.Close()
		}()
	}
	if p.inR != nil {
		p.inR.Close()
		go func() {
			io.Copy(p.inW, a.stdin)
			p.inW.Close() // end of input
		}()
	}
}

// wait returns once stdout and stderr reached end of file: procd closes its
// ends before it sends the final record, so every byte is out by then.
func (p *clientPipes) wait() { p.copies.Wait() }
