package server

import (
	"bytes"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// peerCred reads the kernel-verified credentials of the process at the
// other end of a Unix socket, and its supplementary groups from /proc.
func peerCred(c *net.UnixConn) (peerCredInfo, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return peerCredInfo{}, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return peerCredInfo{}, err
	}
	if credErr != nil {
		return peerCredInfo{}, credErr
	}
	info := peerCredInfo{uid: int(cred.Uid), gid: int(cred.Gid), pid: int(cred.Pid)}
	info.SecurityLevel = 3 // credentials.PrivacyAndIntegrity: a local socket
	info.groups = supplementaryGroups(int(cred.Pid))
	return info, nil
}

// supplementaryGroups reads the Groups line of /proc/PID/status.
func supplementaryGroups(pid int) []int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("Groups:")); ok {
			var out []int
			for _, f := range bytes.Fields(rest) {
				if g, err := strconv.Atoi(string(f)); err == nil {
					out = append(out, g)
				}
			}
			return out
		}
	}
	return nil
}
