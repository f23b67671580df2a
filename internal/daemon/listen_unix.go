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

	"golang.org/x/sys/unix"
)

// maxSocketPath is sun_path's capacity minus the terminating NUL.
const maxSocketPath = 107

// listenUnix serves on a Unix socket created 0600. The socket's directory
// is created 0700 if missing. A lock file next to the socket makes two
// daemons starting at once agree on who serves; a socket left by a crashed
// daemon is replaced, while one another daemon answers on makes us refuse.
func listenUnix(path string) (net.Listener, func(), error) {
	if len(path) > maxSocketPath {
		return nil, nil, fmt.Errorf("socket path %q is %d bytes; Unix sockets allow at most %d", path, len(path), maxSocketPath)
	}
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("create socket directory: %w", err)
		}
	}
	lockPath := path + ".lock"
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
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
