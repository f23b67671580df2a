package manager

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/cgroup"
	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/output"
	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/watchdog"
)

// defaultPath is searched when the child's environment has no PATH, as
// execvp does with its built-in default.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Start starts a process. It fails without leaving a record when the spec is
// invalid, the executable or working directory is missing or not permitted,
// the process limit is reached, or the daemon is shutting down.
func (m *Manager) Start(spec Spec) (Info, error) {
	if spec.BindToSession {
		m.stats.startFailures.Add(1)
		return Info{}, errdefs.Errorf(errdefs.ErrInvalidArgument,
			"start %q: bind_to_session needs a session to bind to: start the process with Attach (its first message carrying the spec)", spec.Name)
	}
	info, _, err := m.startChecked(spec, nil)
	return info, err
}

// startChecked validates spec and starts it; with attach, it also opens a
// session on the new process before a byte of its output is read.
func (m *Manager) startChecked(spec Spec, attach *AttachOptions) (Info, *Session, error) {
	err := spec.Validate()
	if err == nil {
		err = m.cfg.Input.check(&spec)
	}
	var info Info
	var sess *Session
	if err == nil {
		info, sess, err = m.start(m.normalise(spec), attach, nil)
	}
	if err != nil {
		m.stats.startFailures.Add(1)
		return Info{}, nil, err
	}
	return info, sess, nil
}

// CountStartFailure counts a start request refused before it reached
// Start (a request the API layer could not convert).
func (m *Manager) CountStartFailure() { m.stats.startFailures.Add(1) }

// start starts a valid, normalised spec: a new logical process, or with
// l the next run of l (l.mu held). Whatever it has acquired when a
// step fails (the live-process slot, the output rings and log files, the
// cgroup, the pending-start mark) is released by one deferred cleanup, in
// reverse order; every error it returns names the process.
func (m *Manager) start(spec Spec, attach *AttachOptions, l *lineage) (_ Info, _ *Session, err error) {
	var undo []func() // releases, in acquisition order
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
			err = fmt.Errorf("start %q: %w", spec.Name, fdError(err))
		}
	}()
	res, err := m.resolve(&spec)
	if err != nil {
		return Info{}, nil, err
	}
	if err := m.reserve(); err != nil {
		return Info{}, nil, err
	}
	undo = append(undo, m.unreserve)
	r := m.newRun(spec, res.exe, l)
	if err := m.openStreams(r); err != nil {
		return Info{}, nil, err
	}
	undo = append(undo, func() { m.removeStreams(r) })
	outSink := &streamSink{m: m, r: r, s: r.stdout, stream: "stdout", lines: r.lineMatcher()}
	errSink := &streamSink{m: m, r: r, s: r.stderr, stream: "stderr", lines: r.lineMatcher()}
	r.wdConfig = res.wd
	r.startMono = m.clock.Now()
	r.act = watchdog.NewActivity(r.startMono, res.wd.Sources)
	r.startedAt = time.Now()
	m.initReady(r, &res)
	attr := &proc.Attr{Path: res.exe, Args: spec.Command, Env: res.env, Dir: spec.Dir, Rlimits: spec.Limits.Rlimits,
		StdinPipe: spec.Stdin == StdinPipe, TTY: spec.TTY, Credential: res.cred}
	if attach != nil && attach.StdinFile != nil {
		attr.StdinFile, attr.StdinPipe = attach.StdinFile, false
		r.stdinExternal = true
	}
	if err := m.contain(r, attr); err != nil {
		return Info{}, nil, err
	}
	undo = append(undo, func() {
		if r.cg != nil {
			r.cg.Remove()
		}
	})
	var errSinkOrNil proc.Sink = errSink
	if spec.TTY != nil {
		errSinkOrNil = nil // a terminal has one output stream
		r.stderr.Close()
	}
	m.pending.begin()
	undo = append(undo, m.pending.end)
	p, err := m.rt.Start(attr, outSink, errSinkOrNil)
	if attr.Cgroup != nil {
		attr.Cgroup.Close()
	}
	if err != nil {
		return Info{}, nil, startError(res.exe, spec.Dir, err)
	}
	var sess *Session
	m.register(r, p, func() {
		if attach != nil {
			sess = m.newSession(r, attach) // before Watch: the session sees the first byte
		}
	})
	return m.info(r), sess, nil
}

// newRun is the record of a new run of lineage l (nil: a new process, with
// a new id).
func (m *Manager) newRun(spec Spec, exe string, l *lineage) *record {
	if l == nil {
		n := m.newID()
		l = m.newLineage(fmt.Sprintf("p-%d", n), n, &spec)
	}
	return &record{
		id:      l.id,
		seq:     l.seq,
		lin:     l,
		attempt: l.nextAttempt(),
		spec:    spec,
		exe:     exe,

		exited: make(chan struct{}),
		ended:  make(chan struct{}),
		done:   l.done,
		state:  Running,
	}
}

// resolved is what a spec resolves to before anything is acquired.
type resolved struct {
	exe      string
	env      []string
	wd       watchdog.Settings
	cred     *proc.Credential
	probeExe string // an exec readiness probe's program
}

// resolve checks the working directory, builds the environment, finds the
// executable, resolves the user and applies the start check.
func (m *Manager) resolve(spec *Spec) (resolved, error) {
	var res resolved
	if err := checkDir(spec.Dir); err != nil {
		return res, err
	}
	res.wd = m.settings(&spec.Watchdog)
	notify := ""
	if res.wd.Sources.Has(watchdog.Notify) || spec.Ready.Kind == ReadyNotify {
		notify = m.cfg.NotifySocket
	}
	if spec.Ready.Kind == ReadyNotify && notify == "" {
		return res, errdefs.Errorf(errdefs.ErrFailedPrecondition, "ready notify needs the daemon's sd_notify socket, and this daemon has none")
	}
	env, path := m.environ(spec, notify)
	res.env = env
	exe, err := proc.LookPath(spec.Command[0], path, spec.Dir)
	if err != nil {
		return res, err
	}
	if res.cred, err = runAs(spec, m.cfg.StartCheck == nil); err != nil {
		return res, err
	}
	if m.cfg.StartCheck != nil && spec.Caller != nil {
		if exe, err = m.admit(spec, exe, res.cred); err != nil {
			return res, err
		}
	}
	res.exe = exe
	return res, m.resolveProbe(spec, path, &res)
}

// checkDir checks a spec's working directory before anything is acquired.
func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errdefs.Errorf(errdefs.ErrNotFound, "working directory %q does not exist", dir)
	case errors.Is(err, syscall.ENOTDIR):
		return errdefs.Errorf(errdefs.ErrNotFound, "working directory %q does not exist (a component of it is not a directory)", dir)
	case errors.Is(err, syscall.ENAMETOOLONG):
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "working directory %q: name too long", dir)
	case err != nil:
		return errdefs.Errorf(errdefs.ErrPermissionDenied, "working directory %q: %v", dir, err)
	case !fi.IsDir():
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "working directory %q is not a directory", dir)
	}
	return nil
}

// register makes a started process's record visible, publishes Started and
// watches its exit; it cannot fail (a runtime closing under it ends the
// process at once). beforeWatch runs with the record complete, before any
// output is read.
func (m *Manager) register(r *record, p *proc.Process, beforeWatch func()) {
	r.p, r.pid, r.pgid = p, p.Pid(), p.Pgid()
	if f := p.Stdin(); f != nil {
		r.stdin = &stdin{id: r.id, f: f}
	}
	if r.cg == nil && m.cfg.Tracker != nil {
		m.cfg.Tracker.Track(r.pgid)
	}
	prev := r.lin.current
	r.lin.current = r // l.mu is held by the restart, or no one else knows the lineage yet
	if r.lin.newRun != nil {
		close(r.lin.newRun) // WaitReady follows a restart to its next run
	}
	r.lin.newRun = make(chan struct{})
	r.lin.beginRun(r)
	m.mu.Lock()
	if prev != nil && m.byPID[prev.pid] == prev {
		delete(m.byPID, prev.pid)
	}
	m.byID[r.id] = r
	m.byPID[r.pid] = r
	m.mu.Unlock()
	m.persist(r)
	m.pending.end()
	m.stats.started.Add(1)
	m.publish(r, events.Started, func(e *events.Event) {
		e.Detail = strings.Join(r.spec.Command, " ")
		e.Attempt = r.attempt
	})
	if ce := m.log.Check(zap.DebugLevel, "process started"); ce != nil {
		ce.Write(zap.String("process-id", r.id), zap.Int("pid", r.pid), zap.String("name", r.spec.Name), zap.String("executable", r.exe))
	}
	beforeWatch()
	// Only now, with the record complete and Started published, may output
	// sinks (which publish OUTPUT_DROPPED) and the exit callback run.
	if err := m.rt.Watch(p, func() {
		close(r.exited)
		go m.settle(r)
	}); err != nil {
		// Only possible while the runtime closes; end the process at once.
		m.log.Error("cannot watch process exit", zap.String("process-id", r.id), zap.Error(err))
		p.SignalGroup(syscall.SIGKILL)
		close(r.exited)
		go m.settle(r)
	}
	r.mu.Lock()
	m.watchLocked(r)
	r.mu.Unlock()
	m.beginReadiness(r)
}

// reserve counts a new live process against the limit.
func (m *Manager) reserve() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return errdefs.Errorf(errdefs.ErrUnavailable, "the daemon is shutting down")
	}
	if m.cfg.MaxProcesses > 0 && m.live >= m.cfg.MaxProcesses {
		return errdefs.Errorf(errdefs.ErrResourceExhausted, "%d processes are running, the limit (max processes) is %d", m.live, m.cfg.MaxProcesses)
	}
	m.live++
	return nil
}

func (m *Manager) unreserve() {
	m.mu.Lock()
	m.live--
	m.mu.Unlock()
}

// startError words an exec failure and gives it its kind.
func startError(exe, dir string, err error) error {
	if se := (*proc.ShimError)(nil); errors.As(err, &se) && se.Op == "rlimit" {
		kind := errdefs.ErrInvalidArgument
		if se.Errno == syscall.EPERM {
			kind = errdefs.ErrPermissionDenied
		}
		return errdefs.Errorf(kind, "%s", se.Msg)
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err
	}
	switch errno {
	case syscall.ENOENT:
		if dir != "" {
			return errdefs.Errorf(errdefs.ErrNotFound, "exec %s: %v (the executable, its interpreter or working directory %q vanished)", exe, errno, dir)
		}
		return errdefs.Errorf(errdefs.ErrNotFound, "exec %s: %v (the executable or its #! interpreter is missing)", exe, errno)
	case syscall.EACCES, syscall.EPERM:
		return errdefs.Errorf(errdefs.ErrPermissionDenied, "exec %s: %v", exe, errno)
	case syscall.ENOEXEC, syscall.E2BIG, syscall.ENAMETOOLONG, syscall.ELOOP, syscall.ENOTDIR, syscall.EISDIR:
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "exec %s: %v", exe, errno)
	case syscall.EMFILE:
		// Not the executable's fault: procd's own descriptor table is full
		// (each managed process holds a pidfd and its pipe ends).
		return errdefs.Errorf(errdefs.ErrResourceExhausted,
			"procd is out of file descriptors (%v; each process holds a pidfd and up to three pipe ends): remove finished processes, stop some, or raise procd's RLIMIT_NOFILE (LimitNOFILE=)", errno)
	case syscall.ENFILE:
		return errdefs.Errorf(errdefs.ErrResourceExhausted, "the system is out of file descriptors (%v; fs.file-max)", errno)
	case syscall.EAGAIN, syscall.ENOMEM:
		return errdefs.Errorf(errdefs.ErrResourceExhausted, "exec %s: %v", exe, errno)
	}
	return fmt.Errorf("exec %s: %w", exe, err)
}

// contain gives r its cgroup — a fresh one with its limits, or, for a tree
// without limits when the pool is on (Config.PooledCgroups), one from the
// pool — and sets attr up to start the process in it. Without cgroups,
// cgroup limits are refused rather than ignored.
func (m *Manager) contain(r *record, attr *proc.Attr) error {
	l := r.spec.Limits
	sub := m.cfg.Cgroups
	if sub == nil {
		if (l.MemoryMax > 0 || l.PidsMax > 0 || l.CPUMax > 0) && runtime.GOOS != "linux" {
			return errdefs.Errorf(errdefs.ErrUnimplemented, "memory, pids and cpu limits need Linux cgroups")
		}
		if l.MemoryMax > 0 || l.PidsMax > 0 || l.CPUMax > 0 {
			return errdefs.Errorf(errdefs.ErrFailedPrecondition,
				"memory, pids and cpu limits need cgroups, and this daemon contains processes by process group only (see its start log)")
		}
		return nil
	}
	var g *cgroup.Group
	var err error
	if l.MemoryMax > 0 || l.PidsMax > 0 || l.CPUMax > 0 || !m.cfg.PooledCgroups {
		g, err = sub.New(r.id, cgroup.Limits{MemoryMax: l.MemoryMax, PidsMax: l.PidsMax, CPUMax: l.CPUMax})
	} else {
		g, err = sub.Take() // containment only: a recycled cgroup
	}
	if err != nil {
		return err
	}
	f, err := g.Open()
	if err != nil {
		g.Remove()
		if outOfFDs(err) {
			return startError("", "", err) // RESOURCE_EXHAUSTED, worded as for the pipes
		}
		return fmt.Errorf("open cgroup: %w", err)
	}
	r.cg = g
	attr.Cgroup = f
	for _, t := range g.V1Tasks() {
		attr.ThreadCgroups = append(attr.ThreadCgroups, proc.ThreadCgroup{Join: t.Join, Home: t.Home})
	}
	return nil
}

// openStreams creates r's output rings, and log files when asked for.
func (m *Manager) openStreams(r *record) error {
	logs := m.cfg.LogFiles
	if r.spec.LogFiles != nil {
		logs = *r.spec.LogFiles
	}
	var outLog, errLog *output.LogFile
	if logs {
		if m.cfg.StateDir == "" {
			return errdefs.Errorf(errdefs.ErrFailedPrecondition, "log files need a state directory, and the daemon has none")
		}
		name := r.id
		if r.attempt > 1 {
			name = fmt.Sprintf("%s.run%d", r.id, r.attempt) // beside the last run's, removed once this one started
		}
		dir := filepath.Join(m.cfg.StateDir, "logs", name)
		var err error
		if outLog, err = output.OpenLog(dir, "stdout", m.cfg.LogFileSize, m.cfg.LogFileCount); err != nil {
			return err
		}
		if errLog, err = output.OpenLog(dir, "stderr", m.cfg.LogFileSize, m.cfg.LogFileCount); err != nil {
			outLog.Remove()
			return err
		}
		r.logDir = dir
		outLog.SetFaults(m.cfg.Faults)
		errLog.SetFaults(m.cfg.Faults)
	}
	r.stdout = output.NewStream(output.NewRing(m.cfg.RingSize), outLog, m.cfg.SessionWindow)
	r.stderr = output.NewStream(output.NewRing(m.cfg.RingSize), errLog, m.cfg.SessionWindow)
	if logs {
		m.onLogDrop(r, r.stdout, "stdout")
		m.onLogDrop(r, r.stderr, "stderr")
	}
	return nil
}

// onLogDrop publishes output_dropped when a stream's log file falls too far
// behind (a slow disk) and starts skipping bytes; its readers are told the
// offsets it missed.
func (m *Manager) onLogDrop(r *record, s *output.Stream, stream string) {
	s.OnLogDrop(func() {
		m.publish(r, events.OutputDropped, func(e *events.Event) {
			e.Stream = stream
			e.Detail = fmt.Sprintf("the %s log file is more than %d MiB behind (the disk is slow); it skips bytes until it catches up", stream, output.LogBacklog>>20)
		})
	})
}

// removeStreams deletes r's log files.
func (m *Manager) removeStreams(r *record) {
	r.stdout.Remove()
	r.stderr.Remove()
}
