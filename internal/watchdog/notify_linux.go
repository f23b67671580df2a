package watchdog

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// maxNotify is the largest datagram accepted (systemd allows more, but a
// watchdog ping is a few bytes; anything larger is refused, not truncated).
const maxNotify = 4096

// NotifyListener receives sd_notify datagrams (WATCHDOG=1, READY=1,
// STATUS=…) on a Unix datagram socket whose path children get as
// NOTIFY_SOCKET. Every datagram carries the sender's credentials
// (SO_PASSCRED, verified by the kernel); the handler attributes the sender
// to a process tree and accepts or refuses the message.
type NotifyListener struct {
	conn    *net.UnixConn
	path    string
	handler func(pid int, msg []byte) bool
	done    chan struct{}

	accepted, rejected atomic.Int64
}

// ListenNotify creates the socket at path (replacing a stale socket there)
// and serves it until Close. The socket is writable by everyone; who may
// reach it is decided by its directory's permissions, and who counts by
// the credentials.
func ListenNotify(path string, handler func(pid int, msg []byte) bool) (*NotifyListener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("notify socket %s exists and is not a socket", path)
		}
		os.Remove(path)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	raw, err := conn.SyscallConn()
	if err == nil {
		ctlErr := raw.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
		})
		if ctlErr != nil {
			err = ctlErr
		}
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("notify socket: SO_PASSCRED: %w", err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		conn.Close()
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	l := &NotifyListener{conn: conn, path: path, handler: handler, done: make(chan struct{})}
	go l.serve()
	return l, nil
}

// Path is the socket's path (the value of NOTIFY_SOCKET).
func (l *NotifyListener) Path() string { return l.path }

func (l *NotifyListener) serve() {
	defer close(l.done)
	buf := make([]byte, maxNotify+1)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)*2)
	for {
		n, oobn, flags, _, err := l.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.rejected.Add(1)
			continue
		}
		pid, ok := senderPID(oob[:oobn])
		if !ok || n > maxNotify || flags&unix.MSG_TRUNC != 0 || flags&unix.MSG_CTRUNC != 0 {
			l.rejected.Add(1)
			continue
		}
		if l.handler(pid, buf[:n]) {
			l.accepted.Add(1)
		} else {
			l.rejected.Add(1)
		}
	}
}

// senderPID finds the SCM_CREDENTIALS message among the control messages.
func senderPID(oob []byte) (int, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_CREDENTIALS {
			cred, err := unix.ParseUnixCredentials(&m)
			if err == nil && cred.Pid > 0 {
				return int(cred.Pid), true
			}
		}
	}
	return 0, false
}

// Stats returns the datagrams accepted and rejected so far.
func (l *NotifyListener) Stats() (accepted, rejected int64) {
	return l.accepted.Load(), l.rejected.Load()
}

// Close stops serving and removes the socket.
func (l *NotifyListener) Close() error {
	err := l.conn.Close()
	<-l.done
	os.Remove(l.path)
	return err
}
