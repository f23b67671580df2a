//go:build unix

package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// maxSocketPath is sun_path's capacity minus the terminating NUL.
const maxSocketPath = 107

// listenUnix serves on a Unix socket created 0600, in a directory checked
// (and, when it is procd's own, created and given its mode) by
// socketDir.prepare. A lock file next to the socket makes two daemons
// starting at once agree on who serves; a socket left by a crashed daemon
// is replaced, while one another daemon answers on makes us refuse. It
// returns the locked file, which the caller closes last (and passes to the
// guardian, which keeps the lock until it has cleaned up after a crash).
func listenUnix(path string, dir socketDir, log *zap.Logger) (net.Listener, *os.File, error) {
	if len(path) > maxSocketPath {
		return nil, nil, fmt.Errorf("socket path %q is %d bytes; Unix sockets allow at most %d", path, len(path), maxSocketPath)
	}
	dir.path = filepath.Dir(path)
	if err := dir.prepare(log); err != nil {
		return nil, nil, err
	}
	lockPath := path + ".lock"
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := takeLock(lock, path, lockPath); err != nil {
		lock.Close()
		return nil, nil, err
	}
	fail := func(err error) (net.Listener, *os.File, error) {
		lock.Close()
		return nil, nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return fail(fmt.Errorf("%s exists and is not a socket; refusing to replace it", path))
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return fail(fmt.Errorf("another daemon answers on %s; refusing to start", path))
		}
		if err := os.Remove(path); err != nil {
			return fail(fmt.Errorf("remove stale socket: %w", err))
		}
	}
	old := syscall.Umask(0o177) // the socket is born 0600: no window where others may connect
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return fail(fmt.Errorf("listen on %s: %w", path, err))
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return fail(fmt.Errorf("chmod %s: %w", path, err))
	}
	return l, lock, nil
}

// lockWait bounds how long a starting daemon waits for a lock held while
// nothing answers on the socket.
const lockWait = 15 * time.Second

// takeLock locks the socket's lock file. A lock held while no daemon
// answers on the socket belongs to a daemon that is starting, or to a
// crashed daemon's guardian still removing its cgroups (it keeps the lock
// until it is done): either way it is worth waiting for, briefly.
func takeLock(lock *os.File, path, lockPath string) error {
	deadline := time.Now().Add(lockWait)
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, unix.EWOULDBLOCK):
			return fmt.Errorf("lock %s: %w", lockPath, err)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return fmt.Errorf("another procd is already running on %s (it holds %s)", path, lockPath)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("another procd is already running or starting on %s (it has held %s for %v)", path, lockPath, lockWait)
		}
		time.Sleep(delay) // polling: flock has no timed wait
	}
}
