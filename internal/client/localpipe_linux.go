package client

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

const (
	// localPipeSize is what a busy local pipe is raised to: the most an
	// unprivileged user may ask for by default (fs.pipe-max-size).
	localPipeSize = 1 << 20
	// localChunk is one read from a raised pipe.
	localChunk = 256 << 10
)

// CopyLocalPipe copies r, the read end of a pipe whose write end procd
// took for a session's output (AttachStart.local_pipes), to w until end of
// file. Once a read comes back full (a writer outpacing a wake-up per
// 64 KiB) it raises the pipe to 1 MiB and reads 256 KiB at a time: with a
// default pipe every 64 KiB pauses the process's own pipe in procd and
// wakes the client. Only a busy pipe is raised, once, so a quiet session
// costs nothing, and only by a caller the kernel exempts from the per-user
// pipe allowance (CAP_SYS_RESOURCE or CAP_SYS_ADMIN, as for procd's own):
// pipes are charged to the user that made them, and an unprivileged user
// over fs.pipe-user-pages-soft gets two-page pipes for everything it runs
// from then on (about 64 busy sessions at once would do it), a cost a
// single procctl cannot see coming. When the kernel refuses anyway
// (fs.pipe-max-size lowered) the copy goes on at the size it has, never
// failing over it. A write error on w is returned as is.
func CopyLocalPipe(w io.Writer, r *os.File) (int64, error) {
	buf := make([]byte, 64<<10)
	raised := false
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
			if n == len(buf) && !raised {
				raised = true // asked once, whatever the answer
				if raisePipe(r) {
					buf = make([]byte, localChunk)
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// raisePipe asks for localPipeSize on r's pipe, if the caller may, and
// says whether it got more than the default.
func raisePipe(r *os.File) bool {
	if !mayRaisePipes() {
		return false
	}
	sc, err := r.SyscallConn()
	if err != nil {
		return false
	}
	got := 0
	if err := sc.Control(func(fd uintptr) {
		got, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, localPipeSize)
	}); err != nil {
		return false
	}
	return got > 64<<10
}

// mayRaisePipes reports whether the caller has CAP_SYS_RESOURCE or
// CAP_SYS_ADMIN, either of which exempts its pipes from the per-user
// allowance (fs/pipe.c, pipe_is_unprivileged_user). A variable for tests.
var mayRaisePipes = func() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	has := func(c int) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	return has(unix.CAP_SYS_RESOURCE) || has(unix.CAP_SYS_ADMIN)
}
