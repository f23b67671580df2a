package server

import (
	"fmt"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// peerCred reads the kernel-verified credentials of the process at the
// other end of a Unix socket: uid, gid and pid (SO_PEERCRED) and its
// supplementary groups (SO_PEERGROUPS), both as the kernel recorded them
// when the peer connected, so neither can race with pid reuse.
func peerCred(c *net.UnixConn) (peerCredInfo, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return peerCredInfo{}, err
	}
	var cred *unix.Ucred
	var groups []int
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if credErr == nil {
			groups, credErr = peerGroups(int(fd))
		}
	}); err != nil {
		return peerCredInfo{}, err
	}
	if credErr != nil {
		return peerCredInfo{}, credErr
	}
	info := peerCredInfo{uid: int(cred.Uid), gid: int(cred.Gid), pid: int(cred.Pid), groups: groups}
	info.SecurityLevel = 3 // credentials.PrivacyAndIntegrity: a local socket
	return info, nil
}

// peerGroups reads SO_PEERGROUPS (Linux 4.13): the peer's supplementary
// groups at connect time, translated into procd's user namespace. The
// kernel says how much room it needs when the buffer is too small.
func peerGroups(fd int) ([]int, error) {
	buf := make([]uint32, 64)
	for range 4 {
		size := uint32(len(buf) * 4)
		_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)), 0)
		switch {
		case errno == unix.ERANGE && int(size) > len(buf)*4:
			buf = make([]uint32, size/4)
			continue
		case errno != 0:
			return nil, fmt.Errorf("read the peer's groups (SO_PEERGROUPS): %w", errno)
		}
		out := make([]int, size/4)
		for i := range out {
			out[i] = int(buf[i])
		}
		return out, nil
	}
	return nil, fmt.Errorf("read the peer's groups (SO_PEERGROUPS): the group list kept growing")
}
