package daemon

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// systemd integration without libsystemd: the notify protocol (a datagram
// per state change to $NOTIFY_SOCKET) and socket activation ($LISTEN_FDS).

// notifier sends sd_notify messages to the service manager, if there is one.
type notifier struct {
	addr     *net.UnixAddr // nil: not run by a service manager
	watchdog time.Duration // WatchdogSec, when the manager asks for pings
}

// newNotifier reads NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID, and
// removes them from the environment so children never inherit them.
func newNotifier() *notifier {
	n := &notifier{}
	if path := os.Getenv("NOTIFY_SOCKET"); path != "" {
		if path[0] == '@' {
			path = "\x00" + path[1:] // abstract socket
		}
		n.addr = &net.UnixAddr{Name: path, Net: "unixgram"}
	}
	if us, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64); err == nil && us > 0 {
		if pid := os.Getenv("WATCHDOG_PID"); pid == "" || pid == strconv.Itoa(os.Getpid()) {
			n.watchdog = time.Duration(us) * time.Microsecond
		}
	}
	for _, k := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} {
		os.Unsetenv(k)
	}
	return n
}

// send delivers one message; without a service manager it does nothing.
func (n *notifier) send(state string) error {
	if n.addr == nil {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}

// pingWatchdog sends WATCHDOG=1 at half the watchdog interval until stop.
func (n *notifier) pingWatchdog(stop <-chan struct{}) {
	if n.addr == nil || n.watchdog <= 0 {
		return
	}
	t := time.NewTicker(n.watchdog / 2)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			n.send("WATCHDOG=1")
		case <-stop:
			return
		}
	}
}

// activatedListeners returns the sockets systemd passed (socket
// activation), or nil. The variables are removed from the environment.
func activatedListeners() ([]net.Listener, error) {
	defer func() {
		for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
			os.Unsetenv(k)
		}
	}()
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		return nil, nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return nil, nil
	}
	const first = 3 // SD_LISTEN_FDS_START
	var out []net.Listener
	for fd := first; fd < first+n; fd++ {
		f := os.NewFile(uintptr(fd), "LISTEN_FD_"+strconv.Itoa(fd))
		l, err := net.FileListener(f)
		f.Close() // FileListener dups it
		if err != nil {
			return nil, fmt.Errorf("socket activation: fd %d is not a listening socket: %w", fd, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// statusLine is the STATUS= text shown by systemctl status.
func statusLine(d *Daemon) string {
	return "STATUS=serving on " + strings.Join(d.Addrs(), ", ") + " (" + d.mgr.Containment() + " containment)"
}
