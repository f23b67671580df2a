package server

import (
	"context"
	"fmt"
	"math"
	"slices"
	"syscall"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/procattr"
	"github.com/procd/procd/internal/watchdog"
	pb "github.com/procd/procd/proto/procd/v1"
)

// target is what the generated oneof getters of every single-process
// request provide.
type target interface {
	GetId() string
	GetPid() int32
}

// refFrom converts a request's oneof target to a manager reference.
func refFrom(req target) manager.Ref {
	return manager.Ref{ID: req.GetId(), PID: int(req.GetPid())}
}

// duration converts an optional protobuf duration; nil stays zero.
func duration(field string, d *durationpb.Duration) (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, errdefs.Errorf(errdefs.ErrInvalidArgument, "%s: %v", field, err)
	}
	v := d.AsDuration()
	if v < 0 {
		return 0, errdefs.Errorf(errdefs.ErrInvalidArgument, "%s %v is negative", field, v)
	}
	return v, nil
}

// parseSignal resolves a signal field; empty returns 0 (the default).
func parseSignal(field, s string) (syscall.Signal, error) {
	if s == "" {
		return 0, nil
	}
	sig, err := procattr.ParseSignal(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	return sig, nil
}

func specFrom(s *pb.ProcessSpec) (manager.Spec, error) {
	if s == nil {
		return manager.Spec{}, errdefs.Errorf(errdefs.ErrInvalidArgument, "spec is required")
	}
	grace, err := duration("spec.grace", s.GetGrace())
	if err != nil {
		return manager.Spec{}, err
	}
	sig, err := parseSignal("spec.stop_signal", s.GetStopSignal())
	if err != nil {
		return manager.Spec{}, err
	}
	km := manager.KillGroup
	if s.GetKillMode() != pb.KillMode_KILL_MODE_UNSPECIFIED {
		var ok bool
		if km, ok = killModes.core(s.GetKillMode()); !ok {
			return manager.Spec{}, errdefs.Errorf(errdefs.ErrInvalidArgument, "spec.kill_mode: unknown value %d", s.GetKillMode())
		}
	}
	wd, err := watchdogFrom(s)
	if err != nil {
		return manager.Spec{}, err
	}
	limits, err := limitsFrom(s)
	if err != nil {
		return manager.Spec{}, err
	}
	spec := manager.Spec{
		Limits:     limits,
		Watchdog:   wd,
		Command:    s.GetCommand(),
		Dir:        s.GetCwd(),
		Env:        s.GetEnv(),
		ClearEnv:   s.GetClearEnv(),
		Name:       s.GetName(),
		Labels:     s.GetLabels(),
		KillMode:   km,
		StopSignal: sig,
		Grace:      grace,
	}
	if s.GetStdin() != pb.StdinMode_STDIN_MODE_UNSPECIFIED {
		var ok bool
		if spec.Stdin, ok = stdinModes.core(s.GetStdin()); !ok {
			return manager.Spec{}, errdefs.Errorf(errdefs.ErrInvalidArgument, "spec.stdin: unknown value %d", s.GetStdin())
		}
	}
	if s.GetTty() {
		size, err := windowSize(s.GetWindowSize())
		if err != nil {
			return manager.Spec{}, err
		}
		spec.TTY = &size
	} else if s.GetWindowSize() != nil {
		return manager.Spec{}, errdefs.Errorf(errdefs.ErrInvalidArgument, "spec.window_size is set but spec.tty is not")
	}
	if s.LogFiles != nil {
		v := s.GetLogFiles()
		spec.LogFiles = &v
	}
	spec.User, spec.Group, spec.Groups = s.GetUser(), s.GetGroup(), s.GetGroups()
	spec.BindToSession = s.GetBindToSession()
	if spec.Ready, err = readinessFrom(s); err != nil {
		return manager.Spec{}, err
	}
	if spec.Restart, err = restartFrom(s.GetRestart()); err != nil {
		return manager.Spec{}, err
	}
	return spec, nil
}

// restartFrom converts a restart policy; the manager checks its values.
func restartFrom(r *pb.RestartPolicy) (manager.RestartPolicy, error) {
	var p manager.RestartPolicy
	if r == nil {
		return p, nil
	}
	if r.GetMode() != pb.RestartMode_RESTART_MODE_UNSPECIFIED {
		var ok bool
		if p.Mode, ok = restartModes.core(r.GetMode()); !ok {
			return p, errdefs.Errorf(errdefs.ErrInvalidArgument, "spec.restart.mode: unknown value %d", r.GetMode())
		}
	}
	for _, f := range r.GetOn() {
		bit, ok := restartFailures.core(f)
		if !ok {
			return p, errdefs.Errorf(errdefs.ErrInvalidArgument, "spec.restart.on: unknown failure %d", f)
		}
		p.On |= bit
	}
	var err error
	for _, d := range []struct {
		field string
		from  *durationpb.Duration
		to    *time.Duration
	}{{"spec.restart.delay", r.GetDelay(), &p.Delay}, {"spec.restart.max_delay", r.GetMaxDelay(), &p.MaxDelay},
		{"spec.restart.window", r.GetWindow(), &p.Window}} {
		if *d.to, err = duration(d.field, d.from); err != nil {
			return p, err
		}
	}
	if r.GetResetAfter() != nil {
		v, err := duration("spec.restart.reset_after", r.GetResetAfter())
		if err != nil {
			return p, err
		}
		p.ResetAfter = &v
	}
	p.Multiplier = r.GetMultiplier()
	if r.Jitter != nil {
		p.Jitter = r.Jitter
	}
	if r.Limit != nil {
		n := int(r.GetLimit())
		p.Limit = &n
	}
	return p, nil
}

func restartPolicyToProto(p *manager.RestartPolicy) *pb.RestartPolicy {
	out := &pb.RestartPolicy{
		Mode:       restartModes.proto(p.Mode),
		Delay:      durationpb.New(p.Delay),
		Multiplier: p.Multiplier,
		MaxDelay:   durationpb.New(p.MaxDelay),
		Jitter:     p.Jitter,
		Window:     durationpb.New(p.Window),
	}
	for bit, f := range restartFailures.toProto {
		if p.On&bit != 0 {
			out.On = append(out.On, f)
		}
	}
	slices.Sort(out.On)
	if p.Limit != nil {
		n := int32(*p.Limit)
		out.Limit = &n
	}
	if p.ResetAfter != nil {
		out.ResetAfter = durationpb.New(*p.ResetAfter)
	}
	return out
}

func restartToProto(r *manager.RestartInfo) *pb.RestartStatus {
	return &pb.RestartStatus{
		Policy:         restartPolicyToProto(&r.Policy),
		Restarts:       int32(max(r.Attempt-1, 0)),
		RecentRestarts: int32(len(r.Recent)),
		Step:           int32(r.Step),
		NextRestartAt:  timestamp(r.NextAt),
		Delay:          durationpb.New(r.Delay),
		Error:          r.Error,
	}
}

func runsToProto(runs []manager.Run) []*pb.ProcessRun {
	out := make([]*pb.ProcessRun, len(runs))
	for i, r := range runs {
		out[i] = &pb.ProcessRun{Attempt: int32(r.Attempt), Pid: int32(r.PID),
			StartedAt: timestamp(r.StartedAt), FinishedAt: timestamp(r.FinishedAt)}
		if r.Exit != nil {
			out[i].Exit = exitToProto(r.Exit)
		}
	}
	return out
}

// callerOf describes the caller for the manager: who started a process,
// and whether it may run processes as other users.
func callerOf(ctx context.Context) *manager.Caller {
	c := CallerFrom(ctx)
	if c == nil {
		return &manager.Caller{UID: -1, GID: -1, Desc: "unknown caller"}
	}
	ids := slices.Clone(c.Identities)
	if c.Token != "" {
		ids = append(ids, "token:"+c.Token)
	}
	return &manager.Caller{UID: c.UID, GID: c.GID, PID: c.PID, Groups: c.Groups, Root: c.IsRoot(), Desc: c.String(),
		Transport: c.Transport, Role: c.Role.String(), Identities: ids}
}

// windowSize converts a terminal size; nil is 24×80.
func windowSize(w *pb.WindowSize) (procattr.WindowSize, error) {
	if w == nil {
		return procattr.WindowSize{Rows: 24, Cols: 80}, nil
	}
	if w.GetRows() == 0 || w.GetCols() == 0 || w.GetRows() > 10000 || w.GetCols() > 10000 {
		return procattr.WindowSize{}, errdefs.Errorf(errdefs.ErrInvalidArgument, "window size %dx%d: rows and columns must be 1-10000", w.GetRows(), w.GetCols())
	}
	return procattr.WindowSize{Rows: uint16(w.GetRows()), Cols: uint16(w.GetCols())}, nil
}

func limitsFrom(s *pb.ProcessSpec) (manager.Limits, error) {
	l := manager.Limits{MemoryMax: s.GetMemoryMax(), PidsMax: s.GetPidsMax(), CPUMax: s.GetCpuMax()}
	if math.IsNaN(l.CPUMax) || math.IsInf(l.CPUMax, 0) {
		return l, errdefs.Errorf(errdefs.ErrInvalidArgument, "spec.cpu_max %v is not a number of cores", l.CPUMax)
	}
	for _, r := range s.GetRlimits() {
		res, ok := procattr.RlimitByName(r.GetName())
		if !ok {
			return l, errdefs.Errorf(errdefs.ErrInvalidArgument,
				"spec.rlimits: unknown resource %q (use AS, CORE, CPU, DATA, FSIZE, MEMLOCK, NOFILE, NPROC or STACK)", r.GetName())
		}
		l.Rlimits = append(l.Rlimits, procattr.Rlimit{Resource: res, Soft: r.GetSoft(), Hard: r.GetHard()})
	}
	return l, nil
}

func rlimitsToProto(rs []procattr.Rlimit) []*pb.Rlimit {
	var out []*pb.Rlimit
	for _, r := range rs {
		out = append(out, &pb.Rlimit{Name: procattr.RlimitName(r.Resource), Soft: r.Soft, Hard: r.Hard})
	}
	return out
}

func treeUsageToProto(u manager.TreeUsage, live bool) *pb.TreeUsage {
	t := &pb.TreeUsage{Cpu: durationpb.New(u.CPU), MemoryPeakBytes: u.MemPeak}
	if live {
		t.MemoryCurrentBytes = u.MemCurrent
	}
	return t
}

// optDuration converts a duration field whose absence means "default".
func optDuration(field string, d *durationpb.Duration) (*time.Duration, error) {
	if d == nil {
		return nil, nil
	}
	v, err := duration(field, d)
	return &v, err
}

func watchdogFrom(s *pb.ProcessSpec) (manager.WatchdogSpec, error) {
	var w manager.WatchdogSpec
	var err error
	if w.Timeout, err = optDuration("spec.timeout", s.GetTimeout()); err != nil {
		return w, err
	}
	if w.ExtraBuffer, err = optDuration("spec.extra_buffer", s.GetExtraBuffer()); err != nil {
		return w, err
	}
	if w.MaxHangTime, err = optDuration("spec.max_hang_time", s.GetMaxHangTime()); err != nil {
		return w, err
	}
	if w.Deadline, err = duration("spec.deadline", s.GetDeadline()); err != nil {
		return w, err
	}
	if s.AutoKill != nil {
		v := s.GetAutoKill()
		w.AutoKill = &v
	}
	for _, src := range s.GetActivity() {
		ws, ok := activitySources.core(src)
		if !ok {
			return w, errdefs.Errorf(errdefs.ErrInvalidArgument, "spec.activity: unknown activity source %d", src)
		}
		w.Sources |= watchdog.Sources(ws)
	}
	w.ActivityFile = s.GetActivityFile()
	return w, nil
}

func watchdogToProto(w *manager.WatchdogInfo, last watchdog.Source, finished bool) *pb.WatchdogStatus {
	s := w.Settings
	st := &pb.WatchdogStatus{
		Enabled:            s.Enabled(),
		Timeout:            durationpb.New(s.Timeout),
		ExtraBuffer:        durationpb.New(s.ExtraBuffer),
		MaxHangTime:        durationpb.New(s.MaxHangTime),
		AutoKill:           s.AutoKill,
		ActivityFile:       s.File,
		LastActivitySource: activitySources.proto(last),
		Slow:               w.Slow,
		Hung:               w.Hung,
		DeadlineAt:         timestamp(w.DeadlineAt),
		Ready:              w.Ready,
		NotifyStatus:       w.NotifyStatus,
	}
	if s.Deadline > 0 {
		st.Deadline = durationpb.New(s.Deadline)
	}
	if !finished {
		st.Idle = durationpb.New(w.Idle)
	}
	for _, src := range []watchdog.Source{watchdog.Heartbeat, watchdog.Notify, watchdog.Output, watchdog.CPU, watchdog.File} {
		if s.Sources.Has(src) {
			st.Sources = append(st.Sources, activitySources.proto(src))
		}
	}
	return st
}

func selectorFrom(s *pb.Selector) *manager.Selector {
	if s == nil {
		return nil
	}
	return &manager.Selector{All: s.GetAll(), Name: s.GetName(), Labels: s.GetLabels(), IDs: s.GetIds()}
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func processToProto(i *manager.Info, now time.Time) *pb.Process {
	ended := i.Exit != nil || i.State == manager.Lost
	p := &pb.Process{
		Id:           i.ID,
		Pid:          int32(i.PID),
		Pgid:         int32(i.PGID),
		Name:         i.Name,
		Labels:       i.Labels,
		Command:      i.Command,
		Executable:   i.Executable,
		Cwd:          i.Dir,
		State:        processStates.proto(i.State),
		StartedAt:    timestamp(i.StartedAt),
		FinishedAt:   timestamp(i.FinishedAt),
		Duration:     durationpb.New(i.Duration(now)),
		LastActivity: timestamp(i.LastActivity),
		Stdout:       &pb.OutputInfo{TotalBytes: i.Stdout.Total, DroppedBytes: i.Stdout.Dropped, LogBytes: i.Stdout.LogBytes},
		Stderr:       &pb.OutputInfo{TotalBytes: i.Stderr.Total, DroppedBytes: i.Stderr.Dropped, LogBytes: i.Stderr.LogBytes},
		Tty:          i.TTY,
		LogDir:       i.LogDir,
		RunAs:        i.RunAs,
		Caller:       i.Caller,
		KillMode:     killModes.proto(i.KillMode),
		Watchdog:     watchdogToProto(&i.Watchdog, i.LastSource, ended),
		Cgroup:       i.Cgroup,
		MemoryMax:    i.Limits.MemoryMax,
		PidsMax:      i.Limits.PidsMax,
		CpuMax:       i.Limits.CPUMax,
		Rlimits:      rlimitsToProto(i.Limits.Rlimits),

		BoundToSession: i.BoundToSession,
		Restored:       i.Restored,
		LostAt:         timestamp(i.LostAt),
	}
	if i.State == manager.Lost {
		p.LastState = processStates.proto(i.LastState)
	}
	if i.Cgroup != "" {
		p.Usage = treeUsageToProto(i.Usage, !ended)
	}
	p.Stdin = stdinModes.proto(i.Stdin)
	if i.Exit != nil {
		p.Exit = exitToProto(i.Exit)
	}
	readyToProto(p, &i.Ready)
	p.Attempt = int32(i.Attempt)
	p.Runs = runsToProto(i.Runs)
	if i.Restart != nil {
		p.Restart = restartToProto(i.Restart)
	}
	return p
}

func exitToProto(e *manager.Exit) *pb.ExitStatus {
	x := &pb.ExitStatus{
		Reason:     exitReasons.proto(e.Reason),
		CoreDumped: e.CoreDumped,
		Rusage: &pb.ResourceUsage{
			MaxRssBytes: e.Usage.MaxRSS,
			UserCpu:     durationpb.New(e.Usage.User),
			SystemCpu:   durationpb.New(e.Usage.System),
		},
		LeftoversKilled: int32(e.Leftovers),
		OutputTruncated: e.OutputTruncated,
		OomKilled:       e.OOMKilled,
	}
	if e.Tree != (manager.TreeUsage{}) {
		x.Tree = treeUsageToProto(e.Tree, false)
	}
	if e.Signal != 0 {
		n := int32(e.Signal)
		x.SignalNumber = &n
		x.Signal = procattr.SignalName(e.Signal)
	} else {
		c := int32(e.Code)
		x.ExitCode = &c
	}
	return x
}
