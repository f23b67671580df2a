//go:build unix

package proc

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/procd/procd/internal/errdefs"
)

// LookPath resolves file the way execvp would for a child whose PATH is path
// and whose working directory is dir (empty: the daemon's): a name with a
// slash is used as is, anything else is searched in path. Relative results
// stay relative, as the child resolves them after changing to dir. Unlike
// exec.LookPath it never consults the daemon's own environment, since the
// child's PATH may differ. Errors wrap errdefs.ErrNotFound or
// errdefs.ErrPermissionDenied and name the executable and the PATH searched.
func LookPath(file, path, dir string) (string, error) {
	if file == "" {
		return "", errdefs.Errorf(errdefs.ErrInvalidArgument, "empty executable name")
	}
	if strings.Contains(file, "/") {
		if err := checkExecutable(inDir(dir, file)); err != nil {
			return "", err
		}
		return file, nil
	}
	var denied error
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "." // POSIX: an empty PATH element is the current directory
		}
		cand := filepath.Join(dir, file)
		switch probeExecutable(inDir(dir, cand)) {
		case probeFound:
			return cand, nil
		case probeMissing:
			continue
		}
		err := checkExecutable(inDir(dir, cand))
		if err == nil {
			return cand, nil
		}
		if denied == nil && !errors.Is(err, errdefs.ErrNotFound) {
			denied = err
		}
	}
	if denied != nil {
		return "", denied
	}
	return "", errdefs.Errorf(errdefs.ErrNotFound, "executable %q not found in PATH (%s)", file, path)
}

// probe is what probeExecutable found.
type probe int

const (
	probeFound   probe = iota // a regular file the daemon's user may execute
	probeMissing              // nothing there (ENOENT, ENOTDIR): try the next PATH entry
	probeOther                // anything else: checkExecutable says what
)

// probeExecutable is LookPath's check of one candidate: a stat and an
// access, and no error built. Most candidates of a PATH search miss (true
// is in the fourth directory of Debian's default PATH), and building each
// miss's error (checkExecutable's message, os.Stat's PathError) was half
// of resolving a command by name, 3-7% of the daemon's CPU in the start
// rows (issue 18's profiles).
func probeExecutable(file string) probe {
	var st unix.Stat_t
	switch err := unix.Stat(file, &st); err {
	case nil:
	case unix.ENOENT, unix.ENOTDIR:
		return probeMissing
	default:
		return probeOther
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || unix.Access(file, unix.X_OK) != nil {
		return probeOther
	}
	return probeFound
}

func checkExecutable(file string) error {
	fi, err := os.Stat(file)
	if err != nil {
		if os.IsNotExist(err) {
			return errdefs.Errorf(errdefs.ErrNotFound, "executable %q does not exist", file)
		}
		return errdefs.Errorf(errdefs.ErrPermissionDenied, "executable %q: %v", file, err)
	}
	if fi.IsDir() {
		return errdefs.Errorf(errdefs.ErrPermissionDenied, "executable %q is a directory", file)
	}
	if fi.Mode()&fs.ModeType != 0 && !fi.Mode().IsRegular() {
		return errdefs.Errorf(errdefs.ErrPermissionDenied, "executable %q is not a regular file", file)
	}
	if err := unix.Access(file, unix.X_OK); err != nil {
		return errdefs.Errorf(errdefs.ErrPermissionDenied, "executable %q is not executable by the daemon's user: %v", file, err)
	}
	return nil
}

// inDir returns where the child will find a relative path once in dir.
func inDir(dir, file string) string {
	if dir == "" || filepath.IsAbs(file) {
		return file
	}
	return filepath.Join(dir, file)
}
