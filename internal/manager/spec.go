package manager

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/procattr"
	"github.com/procd/procd/internal/watchdog"
)

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
