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
// is replaced, while one another daemon answers on makes us refuse.
func listenUnix(path string, dir socketDir, log *zap.Logger) (net.Listener, func(), error) {
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
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil, fmt.Errorf("another procd is already running on %s (it holds %s)", path, lockPath)
		}
		return nil, nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	unlock := func() { lock.Close() }
	fail := func(err error) (net.Listener, func(), error) {
		unlock()
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
	return l, unlock, nil
}
