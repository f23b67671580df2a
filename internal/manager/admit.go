package manager

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/proc"
)

// StartCheck is what Config.StartCheck is asked about one start.
type StartCheck struct {
	Caller *Caller
	// Command0 is the program as the spec named it; Executable is the
	// absolute path it resolved to (PATH lookup, then symbolic links —
	// not those with Config.CheckSkipsExecutable), which runs when
	// Config.RunResolved is set.
	Command0, Executable string
	// Env lists the names of the variables the spec sets (not those
	// inherited from procd's environment), sorted.
	Env []string
	// User, Group and Groups are as the spec gave them, with the ids they
	// resolved to (-1 when not given).
	User   string
	UID    int
	Group  string
	GID    int
	Groups []string
	GIDs   []int
}

// admit resolves exe to the absolute path without symbolic links (only
// the absolute path when Config.CheckSkipsExecutable says the check does
// not look), asks Config.StartCheck, and returns the path to run: the
// resolved one with Config.RunResolved, else exe.
func (m *Manager) admit(spec *Spec, exe string, cred *proc.Credential) (string, error) {
	abs := exe
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(spec.Dir, abs) // relative to the child's working directory
	}
	abs, err := filepath.Abs(abs)
	if err != nil {
		return "", fmt.Errorf("resolve executable %q: %w", exe, err)
	}
	resolved := abs
	if m.cfg.RunResolved || !m.cfg.CheckSkipsExecutable {
		if resolved, err = filepath.EvalSymlinks(abs); err != nil {
			return "", errdefs.Errorf(errdefs.ErrNotFound, "resolve executable %q: %v", exe, err)
		}
	}
	req := &StartCheck{Caller: spec.Caller, Command0: spec.Command[0], Executable: resolved,
		User: spec.User, UID: -1, Group: spec.Group, GID: -1, Groups: spec.Groups}
	for k := range spec.Env {
		req.Env = append(req.Env, k)
	}
	sort.Strings(req.Env)
	if cred != nil {
		if spec.User != "" {
			req.UID = int(cred.UID)
		}
		if spec.Group != "" {
			req.GID = int(cred.GID)
		}
		for _, g := range cred.Groups {
			req.GIDs = append(req.GIDs, int(g))
		}
	}
	if err := m.cfg.StartCheck(req); err != nil {
		return "", errdefs.Errorf(errdefs.ErrPermissionDenied, "%v", err)
	}
	if m.cfg.RunResolved {
		return resolved, nil
	}
	return exe, nil
}
