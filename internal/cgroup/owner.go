//go:build linux

package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Ownership: which procd directories are abandoned.
//
// Each daemon has its own directory in every hierarchy (a name per
// socket), which its clean shutdown removes, and its guardian after a
// crash. When the daemon and the guardian die together (kill -9 of the
// process group, an interrupted test run), nothing did, and no later
// daemon has that name. So Setup also removes the procd directories
// beside its own that are provably abandoned. Empty is no proof: an idle
// daemon's directory holds only empty pooled cgroups.
//
// The proof is a lock on the directory itself. The owner opens each of
// its directories and holds a shared flock on it for as long as it lives;
// the guardian inherits the descriptors (a flock belongs to the open file,
// so it holds while either process does) and exits only after its
// cleanup. A directory whose lock a sweeper can take exclusively has no
// live owner. A lock on the kernel's own object needs no lock-file
// directory, cannot name the wrong directory, and holds across users and
// mount namespaces.
//
// A free lock also describes a directory that was just made and is not
// locked yet, and one made by a procd older than this rule, which never
// locks (a live one would lose its pool). So the owner marks the
// directory (the user.procd.owner extended attribute) once it holds the
// lock, and a sweeper removes only a marked directory: it was locked by
// an owner that is gone. Unmarked directories are left and logged; a
// kernel that refuses the attribute (cgroupfs has user xattrs since
// Linux 5.7) leaves them too.
//
// Races. A sweeper takes the lock without waiting and holds it while it
// removes the tree, children first; it removes nothing that holds a
// process (left and logged: only the daemon on that socket may kill
// them, at its next start). An owner that finds its directory removed
// while it waited for the lock (a daemon restarted on the socket of the
// one being swept) makes it again. Two sweepers: one gets the lock, the
// other passes.

// ownerAttr marks a directory whose owner held its lock (see above).
const ownerAttr = "user.procd.owner"

// claimWait bounds how long an owner waits for a sweeper to let go of its
// directory (a sweeper holds it only while it removes the directory).
const claimWait = 10 * time.Second

// claim makes dir if it does not exist and locks it for its owner: the
// returned file holds the lock until it and every inherited copy are
// closed. marked is false when the attribute could not be set (then no
// sweeper will remove the directory).
func claim(dir string) (f *os.File, marked bool, err error) {
	for range 10 {
		// 0711: others may reach the cgroups below (a process reading
		// its own limits) but not open the directory to hold its lock.
		err := os.Mkdir(dir, 0o711)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return nil, false, err
		}
		// A directory this call made and could not lock is removed again:
		// left, it would carry no mark, and every other procd would log it
		// for removal by hand.
		made := err == nil
		f, err := openDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue // swept between the mkdir and the open
		}
		if err != nil {
			if made {
				os.Remove(dir)
			}
			return nil, false, err
		}
		if err := lockShared(f, claimWait); err != nil {
			f.Close()
			if made {
				os.Remove(dir)
			}
			return nil, false, fmt.Errorf("lock %s: %w", dir, err)
		}
		if !sameDir(f, dir) {
			f.Close() // a sweeper removed it while we waited: make it again
			continue
		}
		f.Chmod(0o711) // an older procd made it 0755: see the Mkdir above
		return f, unix.Fsetxattr(int(f.Fd()), ownerAttr, []byte("flock"), 0) == nil, nil
	}
	return nil, false, fmt.Errorf("lock %s: it was removed under procd ten times", dir)
}

// lockShared takes a shared flock on f, polling (flock has no timed wait)
// for at most wait.
func lockShared(f *os.File, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
		if err == nil || !errors.Is(err, unix.EWOULDBLOCK) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("held exclusively for %v: %w", wait, err)
		}
		time.Sleep(delay)
	}
}

func openDir(dir string) (*os.File, error) {
	return os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
}

// sameDir reports whether path still names the directory f has open.
func sameDir(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Lstat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// marked reports whether f's directory carries the owner attribute.
func marked(f *os.File) bool {
	var buf [16]byte
	n, err := unix.Fgetxattr(int(f.Fd()), ownerAttr, buf[:])
	return err == nil && n > 0
}

// sweepAbandoned removes the procd directories beside own in parent
// ("procd" and "procd-*") whose owner is provably gone: see the rule at
// the top of this file. v2 says parent is in the cgroup2 hierarchy.
func sweepAbandoned(parent, own string, v2 bool, out *Abandoned) {
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || name == own || (name != "procd" && !strings.HasPrefix(name, "procd-")) {
			continue
		}
		dir := filepath.Join(parent, name)
		f, err := openDir(dir)
		if err != nil {
			continue // gone already
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			f.Close() // owned: a live daemon, its guardian, or another sweeper
			continue
		}
		switch {
		case !sameDir(f, dir):
			// Removed and made again since the open: its new owner locks it.
		case !marked(f):
			out.Unmarked = append(out.Unmarked, dir)
		case populatedTree(dir, v2):
			out.Busy = append(out.Busy, dir)
		case removeTree(dir) != nil:
			out.Busy = append(out.Busy, dir)
		default:
			out.Removed = append(out.Removed, dir)
		}
		f.Close()
	}
}

// populatedTree reports whether a process is in dir's cgroup or any below
// it; a file that cannot be read counts as populated.
func populatedTree(dir string, v2 bool) bool {
	if v2 {
		b, err := readFile(filepath.Join(dir, "cgroup.events"))
		n, ok := keyedOK(b, "populated")
		return err != nil || !ok || n != 0
	}
	b, err := readFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil || len(bytes.TrimSpace(b)) > 0 {
		return true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return true
	}
	for _, e := range entries {
		if e.IsDir() && populatedTree(filepath.Join(dir, e.Name()), false) {
			return true
		}
	}
	return false
}

// removeTree removes an empty cgroup directory and every one below it,
// the deepest first (rmdir of a cgroup with children fails).
func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return removeDir(dir)
}

// LockFiles are procd's directories, open and locked: a process that
// inherits them (the guardian) keeps them owned until it exits.
func (s *Subtree) LockFiles() []*os.File { return s.locks }

// unlock closes the directories (after Remove, or a failed Setup): a
// directory still there is then free for the next start to sweep.
func (s *Subtree) unlock() {
	for _, f := range s.locks {
		f.Close()
	}
	s.locks = nil
}
