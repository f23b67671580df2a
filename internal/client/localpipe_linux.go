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
// costs nothing. The pages are charged to the caller's own user; when the
// kernel refuses (fs.pipe-max-size lowered, or an unprivileged user over
// fs.pipe-user-pages-soft: EPERM) the copy goes on at the size it has,
// never failing over it. A write error on w is returned as is.
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
				raised = true
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

// raisePipe asks for localPipeSize on r's pipe, and says whether it got
// more than the default.
func raisePipe(r *os.File) bool {
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
