//go:build !linux

package proc

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/faults"
	"github.com/procd/procd/internal/procattr"
)

// Runtime is the portable fallback used off Linux: one goroutine waits per
// process and one copies per pipe, there is no subreaper, and leftovers are
// found by probing the process group (Unix) or not at all (Windows). It
// keeps procd usable for development on macOS and Windows; Linux is where
// its guarantees hold.
type Runtime struct {
	log *zap.Logger

	mu     sync.Mutex
	byPgid map[int]*Process
}

// NewRuntime returns the fallback runtime.
func NewRuntime(log *zap.Logger) (*Runtime, error) {
	if log == nil {
		log = zap.NewNop()
	}
	return &Runtime{log: log, byPgid: map[int]*Process{}}, nil
}

// Process is a started process.
type Process struct {
	p     *os.Process
	stdin *os.File
	job   uintptr // Windows job object
	rt    *Runtime
	pgid  int
	pipes []*fallbackPipe

	mu     sync.Mutex
	state  *os.ProcessState
	err    error
	exited chan struct{}
	reaped bool
}

type fallbackPipe struct {
	r    *os.File
	sink Sink
	done chan struct{}
}

// Start starts a process with stdin from the null device.
func (rt *Runtime) Start(a *Attr, stdout, stderr Sink) (*Process, error) {
	if a.TTY != nil {
		return nil, errdefs.Errorf(errdefs.ErrUnimplemented, "terminals (tty) are only supported on Linux")
	}
	if len(a.Rlimits) > 0 || a.Cgroup != nil || a.Credential != nil {
		return nil, errdefs.Errorf(errdefs.ErrUnimplemented, "rlimits, cgroups and running as another user are only supported on Linux")
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devNull.Close()
	files := []*os.File{devNull, nil, nil}
	var stdinR, stdinW *os.File
	if a.StdinPipe {
		if stdinR, stdinW, err = os.Pipe(); err != nil {
			return nil, err
		}
		defer stdinR.Close()
		files[0] = stdinR
	}
	var readers []*os.File
	var writers []*os.File
	for i, sink := range []Sink{stdout, stderr} {
		if sink == nil {
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		readers = append(readers, r)
		writers = append(writers, w)
		files[1+i] = w
	}
	p, err := os.StartProcess(a.Path, a.Args, &os.ProcAttr{Dir: a.Dir, Env: a.Env, Files: files, Sys: sysProcAttr()})
	for _, w := range writers {
		w.Close()
	}
	if err != nil {
		for _, r := range readers {
			r.Close()
		}
		if stdinW != nil {
			stdinW.Close()
		}
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err
		}
		return nil, err
	}
	proc := &Process{p: p, pgid: p.Pid, exited: make(chan struct{}), stdin: stdinW}
	contain(proc)
	rt.mu.Lock()
	rt.byPgid[proc.pgid] = proc
	rt.mu.Unlock()
	proc.rt = rt
	j := 0
	for _, sink := range []Sink{stdout, stderr} {
		if sink == nil {
			continue
		}
		proc.pipes = append(proc.pipes, &fallbackPipe{r: readers[j], sink: sink, done: make(chan struct{})})
		j++
	}
	return proc, nil
}

// Watch starts copying output into the sinks and calls onExit once the
// process has exited.
func (rt *Runtime) Watch(p *Process, onExit func()) error {
	for _, fp := range p.pipes {
		go fp.copy()
	}
	go func() {
		st, err := p.p.Wait()
		p.mu.Lock()
		p.state, p.err = st, err
		p.mu.Unlock()
		close(p.exited)
		onExit()
	}()
	return nil
}

func (fp *fallbackPipe) copy() {
	defer close(fp.done)
	defer fp.sink.Close()
	defer fp.r.Close()
	buf := make([]byte, 32<<10)
	flow, _ := fp.sink.(FlowSink)
	var room chan struct{}
	if flow != nil {
		room = make(chan struct{}, 1)
		flow.SetResume(func() {
			select {
			case room <- struct{}{}:
			default:
			}
		})
	}
	for {
		want := buf
		if flow != nil {
			// Hold the pipe back while a session lags (see FlowSink).
			n := flow.Room()
			for ; n == 0; n = flow.Room() {
				<-room
			}
			want = buf[:min(len(buf), n)]
		}
		n, err := fp.r.Read(want)
		if n > 0 {
			fp.sink.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// GroupMembers probes the process group (or Windows job) of the process
// whose group is pgid; the result only says whether anything is left.
func (rt *Runtime) GroupMembers(pgid int) []int {
	rt.mu.Lock()
	p := rt.byPgid[pgid]
	rt.mu.Unlock()
	if p != nil && groupAlive(p) {
		return []int{-1}
	}
	return nil
}

// OrphansReaped is always 0: the fallback is no subreaper.
func (rt *Runtime) OrphansReaped() int64 { return 0 }

// SetFaults is a no-op off Linux.
func (rt *Runtime) SetFaults(*faults.Injector) {}

// Close is a no-op.
func (rt *Runtime) Close() error { return nil }

// Pid returns the leader's pid.
func (p *Process) Pid() int { return p.p.Pid }

// Pgid returns the process group recorded at spawn.
func (p *Process) Pgid() int { return p.pgid }

// Signal signals the leader.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.exited:
		return ErrProcessDone
	default:
	}
	if err := p.p.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return ErrProcessDone
		}
		return err
	}
	return nil
}

// SignalGroup signals the process group where the platform has them.
func (p *Process) SignalGroup(sig syscall.Signal) error {
	return signalGroup(p, sig)
}

// Exited reports whether the leader has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Reap returns the exit status once the leader has exited.
func (p *Process) Reap() (ExitStatus, error) {
	<-p.exited
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return ExitStatus{}, errors.New("process already reaped")
	}
	p.reaped = true
	if p.err != nil {
		return ExitStatus{}, p.err
	}
	return exitStatus(p.state), nil
}

// WaitOutput waits up to d for the pipes to reach end of file. The
// fallback cannot close a pipe under its reader goroutine, so it only
// reports whether they ended.
func (p *Process) WaitOutput(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for _, pp := range p.pipes {
		select {
		case <-pp.done:
		case <-timer.C:
			return false
		}
	}
	return true
}

// Release frees the process handle.
func (p *Process) Release() {
	p.rt.mu.Lock()
	delete(p.rt.byPgid, p.pgid)
	p.rt.mu.Unlock()
	releaseJob(p)
	p.p.Release()
}

// Stdin is the writing end of a stdin pipe, or nil.
func (p *Process) Stdin() *os.File { return p.stdin }

// Resize fails: no terminals off Linux.
func (p *Process) Resize(procattr.WindowSize) error {
	return errors.New("terminals are only supported on Linux")
}
