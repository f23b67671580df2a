//go:build unix

package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"go.uber.org/zap"
)

// socketDir says how procd may treat the directory its socket goes in.
type socketDir struct {
	path string
	// own: the directory is procd's alone (the default socket's directory,
	// or one procd creates now), so procd sets its mode: 0700, or 0750
	// with its group set to gid when gid >= 0 (--socket-group). Otherwise
	// it is the user's directory (--socket /some/dir/procd.sock): procd
	// checks it but never changes it.
	own bool
	gid int
}

// prepare creates the directory if it is missing and refuses to serve from
// one another user could tamper with: the directory must be owned by
// procd's user (or root, for a directory procd does not own) and writable
// by nobody else, and each directory above it must be owned by procd's
// user or root and not writable by others unless sticky (/tmp): whoever
// can write a directory can swap what is in it, and so put their own
// socket where clients look for procd, or plant the lock file.
func (s socketDir) prepare(log *zap.Logger) error {
	euid := os.Geteuid()
	if abs, err := filepath.Abs(s.path); err == nil {
		s.path = abs
	}
	if _, err := os.Lstat(s.path); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
			return fmt.Errorf("create socket directory: %w", err)
		}
		switch err := os.Mkdir(s.path, 0o700); {
		case err == nil:
			s.own = true
		case !errors.Is(err, fs.ErrExist): // another process made it meanwhile: checked below
			return fmt.Errorf("create socket directory: %w", err)
		}
	}
	real, err := filepath.EvalSymlinks(s.path)
	if err != nil {
		return fmt.Errorf("socket directory %s: %w", s.path, err)
	}
	fi, err := os.Lstat(real)
	if err != nil {
		return fmt.Errorf("socket directory %s: %w", s.path, err)
	}
	name := s.path
	if real != s.path {
		name = fmt.Sprintf("%s (%s)", s.path, real)
	}
	uid, mode := fileOwner(fi), fi.Mode()
	switch {
	case !fi.IsDir():
		return fmt.Errorf("socket directory %s is not a directory", name)
	case uid != euid && (s.own || uid != 0):
		return fmt.Errorf("refusing to serve from socket directory %s: it is owned by %s (mode %s), not by procd's user %s; "+
			"another user may have created it to capture the socket or plant files in it. Remove it (procd creates it 0700), or choose another --socket",
			name, describeUID(uid), modeString(mode), describeUID(euid))
	case mode.Perm()&0o022 != 0 && mode&fs.ModeSticky != 0:
		return fmt.Errorf("refusing to serve from socket directory %s: owner %s, mode %s is a shared directory other users can create files in "+
			"(a fake socket, the lock file); put the socket in a directory of procd's own, e.g. --socket %s, which procd creates 0700",
			name, describeUID(uid), modeString(mode), filepath.Join(real, fmt.Sprintf("procd-%d", euid), "procd.sock"))
	case mode.Perm()&0o022 != 0:
		return fmt.Errorf("refusing to serve from socket directory %s: owner %s, mode %s lets other users write in it "+
			"(replace the socket or plant the lock file); run chmod go-w %s (procd's own directory is 0700), or choose another --socket",
			name, describeUID(uid), modeString(mode), real)
	}
	if err := checkParents(real, name, euid); err != nil {
		return err
	}
	if !s.own {
		if s.gid >= 0 && !traversable(fi, s.gid) {
			log.Warn("members of --socket-group cannot reach the socket: its directory is not theirs to enter, and procd leaves a directory it does not own as it is",
				zap.String("dir", real), zap.String("mode", modeString(mode)))
		}
		return nil
	}
	want := fs.FileMode(0o700)
	if s.gid >= 0 {
		want = 0o750
		if err := os.Lchown(real, -1, s.gid); err != nil {
			return fmt.Errorf("--socket-group: %w", err)
		}
	}
	if mode.Perm() != want {
		if err := os.Chmod(real, want); err != nil {
			return fmt.Errorf("socket directory %s: %w", name, err)
		}
	}
	return nil
}

// traversable reports whether members of gid may enter the directory.
func traversable(fi fs.FileInfo, gid int) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	perm := fi.Mode().Perm()
	return perm&0o001 != 0 || (int(st.Gid) == gid && perm&0o010 != 0)
}

// modeString is the octal mode with the sticky bit: 0700, 1777.
func modeString(m fs.FileMode) string {
	v := uint32(m.Perm())
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	return fmt.Sprintf("%04o", v)
}

// checkParents refuses a socket directory under a directory that another
// user (but root) owns, or that others may write without the sticky bit:
// either could replace the socket directory.
func checkParents(real, name string, euid int) error {
	for dir := filepath.Dir(real); ; dir = filepath.Dir(dir) {
		pi, err := os.Lstat(dir)
		if err != nil {
			return fmt.Errorf("socket directory %s: %w", name, err)
		}
		pu, pm := fileOwner(pi), pi.Mode()
		switch {
		case pu != euid && pu != 0:
			return fmt.Errorf("refusing to serve from socket directory %s: the directory above it, %s, is owned by %s (mode %s), "+
				"who could replace the socket directory; choose a --socket under directories owned by procd's user or root",
				name, dir, describeUID(pu), modeString(pm))
		case pm.Perm()&0o022 != 0 && pm&fs.ModeSticky == 0:
			return fmt.Errorf("refusing to serve from socket directory %s: the directory above it, %s (owner %s, mode %s), "+
				"lets other users rename or replace what is in it; choose a --socket under directories only their owner can write",
				name, dir, describeUID(pu), modeString(pm))
		}
		if dir == "/" {
			return nil
		}
	}
}
