package manager

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/cgroup"
	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/output"
	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/procattr"
	"github.com/procd/procd/internal/watchdog"
)

// defaultPath is searched when the child's environment has no PATH, as
// execvp does with its built-in default.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Validate checks a spec without starting anything. Errors wrap
// errdefs.ErrInvalidArgument and say which field is wrong and why.
func (s *Spec) Validate() error {
	if len(s.Command) == 0 || s.Command[0] == "" {
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "empty command (give the program and its arguments)")
	}
	for i, a := range s.Command {
		if strings.IndexByte(a, 0) >= 0 {
			return errdefs.Errorf(errdefs.ErrInvalidArgument, "command argument %d contains a NUL byte", i)
		}
	}
	if strings.IndexByte(s.Dir, 0) >= 0 {
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "cwd contains a NUL byte")
	}
	for k, v := range s.Env {
		switch {
		case k == "":
			return errdefs.Errorf(errdefs.ErrInvalidArgument, "env: empty variable name")
		case strings.ContainsAny(k, "=\x00"):
			return errdefs.Errorf(errdefs.ErrInvalidArgument, "env: variable name %q contains '=' or NUL", k)
		case strings.IndexByte(v, 0) >= 0:
			return errdefs.Errorf(errdefs.ErrInvalidArgument, "env: value of %s contains a NUL byte", k)
		}
	}
	if err := ValidateLabels("labels", s.Labels); err != nil {
		return err
	}
	if s.Grace < 0 {
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "grace %v is negative", s.Grace)
	}
	if err := s.Restart.validate(); err != nil {
		return err
	}
	if s.BindToSession && s.Restart.Mode != RestartNever {
		return errdefs.Errorf(errdefs.ErrInvalidArgument,
			"bind_to_session and a restart policy exclude each other: a restart would run without the session it is bound to")
	}
	if s.KillMode != 0 && s.KillMode != KillGroup && s.KillMode != KillLeader {
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "unknown kill mode %d", s.KillMode)
	}
	if err := s.Limits.validate(); err != nil {
		return err
	}
	if err := s.Ready.validate(); err != nil {
		return err
	}
	return s.Watchdog.validate()
}

func (l *Limits) validate() error {
	switch {
	case l.MemoryMax < 0 || l.PidsMax < 0 || l.CPUMax < 0:
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "limits must not be negative")
	case l.MemoryMax > 0 && l.MemoryMax < 1<<20:
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "memory_max %d is below 1 MiB; nothing would start", l.MemoryMax)
	case l.CPUMax > 0 && l.CPUMax < 0.01:
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "cpu_max %v is below 0.01 cores", l.CPUMax)
	}
	for _, r := range l.Rlimits {
		if r.Soft > r.Hard {
			return errdefs.Errorf(errdefs.ErrInvalidArgument, "rlimit %s: soft limit %d is above the hard limit %d",
				procattr.RlimitName(r.Resource), r.Soft, r.Hard)
		}
	}
	return nil
}

func (w *WatchdogSpec) validate() error {
	for _, d := range []struct {
		name string
		v    *time.Duration
	}{{"timeout", w.Timeout}, {"extra_buffer", w.ExtraBuffer}, {"max_hang_time", w.MaxHangTime}, {"deadline", &w.Deadline}} {
		if d.v != nil && *d.v < 0 {
			return errdefs.Errorf(errdefs.ErrInvalidArgument, "%s %v is negative", d.name, *d.v)
		}
	}
	if w.Sources.Has(watchdog.File) && w.ActivityFile == "" {
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "the file activity source needs activity_file (the file whose modification time counts)")
	}
	if strings.IndexByte(w.ActivityFile, 0) >= 0 {
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "activity_file contains a NUL byte")
	}
	return nil
}

// settings resolves a spec's watchdog settings against the defaults.
func (m *Manager) settings(w *WatchdogSpec) watchdog.Settings {
	d := m.cfg.Watchdog
	pick := func(v *time.Duration, def time.Duration) time.Duration {
		if v != nil {
			return *v
		}
		return def
	}
	s := watchdog.Settings{
		Timeout:     pick(w.Timeout, d.ProcessTimeout),
		ExtraBuffer: pick(w.ExtraBuffer, d.ExtraBuffer),
		MaxHangTime: pick(w.MaxHangTime, d.MaxHangTime),
		AutoKill:    !d.NoAutoKill,
		Deadline:    w.Deadline,
		Sources:     w.Sources,
		File:        w.ActivityFile,
	}
	if w.AutoKill != nil {
		s.AutoKill = *w.AutoKill
	}
	if s.Sources == 0 {
		s.Sources = watchdog.DefaultSources
	}
	if s.File != "" {
		s.Sources |= watchdog.Sources(watchdog.File)
	}
	return s
}

// normalise fills defaults into a validated spec and copies its maps, so the
// record never shares memory with the caller.
func (m *Manager) normalise(s Spec) Spec {
	s.Command = append([]string(nil), s.Command...)
	s.Env = maps.Clone(s.Env)
	s.Labels = maps.Clone(s.Labels)
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	if s.Name == "" {
		s.Name = "unknown"
	}
	if s.KillMode == 0 {
		s.KillMode = KillGroup
	}
	if s.StopSignal == 0 {
		s.StopSignal = syscall.SIGTERM
	}
	if s.Grace == 0 {
		s.Grace = m.cfg.Grace
	}
	s.Ready = s.Ready.normalise(m.cfg.Readiness)
	return s
}

// baseEnv is the daemon's environment as children inherit it: sorted, and
// without the daemon's own NOTIFY_SOCKET (systemd's), which is never passed
// on. It is computed once; the daemon's environment does not change.
type baseEnv struct {
	vars map[string]string
	list []string // "K=V", sorted
}

func newBaseEnv(environ []string) baseEnv {
	b := baseEnv{vars: map[string]string{}}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "NOTIFY_SOCKET" {
			b.vars[k] = v
		}
	}
	b.list = sortedEnv(b.vars)
	return b
}

func sortedEnv(vars map[string]string) []string {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	env := make([]string, 0, len(keys))
	for _, k := range keys {
		env = append(env, k+"="+vars[k])
	}
	return env
}

// environ builds the child's environment and the PATH to search. The child
// gets procd's NOTIFY_SOCKET when notify is one of its activity sources and
// the spec does not set one.
func (m *Manager) environ(s *Spec, notifySocket string) (env []string, path string) {
	if !s.ClearEnv && len(s.Env) == 0 {
		// The common case: the cached environment, plus NOTIFY_SOCKET.
		env = make([]string, 0, len(m.env.list)+1)
		env = append(env, m.env.list...)
		if notifySocket != "" {
			env = append(env, "NOTIFY_SOCKET="+notifySocket)
		}
		path, ok := m.env.vars["PATH"]
		if !ok {
			path = defaultPath
		}
		return env, path
	}
	vars := map[string]string{}
	if !s.ClearEnv {
		maps.Copy(vars, m.env.vars)
	}
	maps.Copy(vars, s.Env)
	if notifySocket != "" {
		// The watchdog's notify source needs procd's socket; a spec's own
		// NOTIFY_SOCKET would silently cut it off.
		vars["NOTIFY_SOCKET"] = notifySocket
	}
	path, ok := vars["PATH"]
	if !ok {
		path = defaultPath
	}
	return sortedEnv(vars), path
}

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
	if l == nil {
		n := m.newID()
		l = m.newLineage(fmt.Sprintf("p-%d", n), n, &spec)
	}
	r := &record{
		id:      l.id,
		seq:     l.seq,
		lin:     l,
		attempt: l.nextAttempt(),
		spec:    spec,
		exe:     res.exe,

		exited: make(chan struct{}),
		ended:  make(chan struct{}),
		done:   l.done,
		state:  Running,
	}
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

// runAs resolves the user and groups a process runs as. With rootOnly
// (no StartCheck) only root callers may ask: another user's processes are
// that user's to start. procd itself must be root to switch.
func runAs(s *Spec, rootOnly bool) (*proc.Credential, error) {
	if s.User == "" && s.Group == "" && len(s.Groups) == 0 {
		return nil, nil
	}
	if rootOnly && s.Caller != nil && !s.Caller.Root {
		return nil, errdefs.Errorf(errdefs.ErrPermissionDenied,
			"running a process as another user needs a root caller; %s is not root", s.Caller.Desc)
	}
	if os.Geteuid() != 0 {
		return nil, errdefs.Errorf(errdefs.ErrPermissionDenied, "running a process as another user needs procd to run as root")
	}
	cred := &proc.Credential{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	if s.User != "" {
		u, err := lookupUser(s.User)
		if err != nil {
			return nil, err
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		cred.UID, cred.GID = uint32(uid), uint32(gid)
	}
	if s.Group != "" {
		gid, err := lookupGroup(s.Group)
		if err != nil {
			return nil, err
		}
		cred.GID = gid
	}
	for _, g := range s.Groups {
		gid, err := lookupGroup(g)
		if err != nil {
			return nil, err
		}
		cred.Groups = append(cred.Groups, gid)
	}
	return cred, nil
}

func lookupUser(name string) (*user.User, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if _, numErr := strconv.ParseUint(name, 10, 32); numErr == nil {
			if u, err = user.LookupId(name); err != nil {
				// A uid without a passwd entry is still a uid.
				return &user.User{Uid: name, Gid: name}, nil
			}
			return u, nil
		}
		if errors.As(err, new(user.UnknownUserError)) {
			return nil, errdefs.Errorf(errdefs.ErrNotFound, "user %q does not exist", name)
		}
		return nil, fmt.Errorf("look up user %q: %w", name, err)
	}
	return u, nil
}

func lookupGroup(name string) (uint32, error) {
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint32(n), nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		if errors.As(err, new(user.UnknownGroupError)) {
			return 0, errdefs.Errorf(errdefs.ErrNotFound, "group %q does not exist", name)
		}
		return 0, fmt.Errorf("look up group %q: %w", name, err)
	}
	n, _ := strconv.ParseUint(g.Gid, 10, 32)
	return uint32(n), nil
}

// check applies the input limits to a spec.
func (l *InputLimits) check(s *Spec) error {
	over := func(what string, n, limit int) error {
		return errdefs.Errorf(errdefs.ErrInvalidArgument, "%s is %d; the limit is %d", what, n, limit)
	}
	for _, c := range []struct {
		what string
		argv []string
	}{{"command", s.Command}, {"ready exec command", s.Ready.Command}} {
		if n := len(c.argv); n > l.MaxArgs {
			return over("the number of "+c.what+" arguments", n, l.MaxArgs)
		}
		n := 0
		for _, a := range c.argv {
			n += len(a) + 1
		}
		if n > l.MaxArgBytes {
			return over("the size of the "+c.what+" in bytes", n, l.MaxArgBytes)
		}
	}
	if len(s.Env) > l.MaxEnv {
		return over("the number of env variables", len(s.Env), l.MaxEnv)
	}
	n := 0
	for k, v := range s.Env {
		n += len(k) + len(v) + 2
	}
	if n > l.MaxEnvBytes {
		return over("the size of env in bytes", n, l.MaxEnvBytes)
	}
	if len(s.Labels) > l.MaxLabels {
		return over("the number of labels", len(s.Labels), l.MaxLabels)
	}
	for k, v := range s.Labels {
		if len(k)+len(v) > l.MaxLabelBytes {
			return errdefs.Errorf(errdefs.ErrInvalidArgument, "label %.40q is %d bytes; the limit is %d", k, len(k)+len(v), l.MaxLabelBytes)
		}
	}
	return nil
}
