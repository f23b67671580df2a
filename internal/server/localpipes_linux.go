package server

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/peer"

	pb "github.com/procd/procd/proto/procd/v1"
)

// takeLocalPipes takes copies of the pipes a local caller named in lp
// (AttachStart.local_pipes) out of its descriptor table, or says why it
// cannot. The caller is the process the kernel recorded when it connected
// (SO_PEERPIDFD, Linux 6.5): a pidfd cannot come to mean another process,
// so procd only ever takes what the caller itself offers. pidfd_getfd needs
// procd to be allowed to trace the caller (a root procd is); where it is
// not, the session stays on the stream.
func takeLocalPipes(ctx context.Context, lp *pb.LocalPipes) (*localPipes, string) {
	p, _ := peer.FromContext(ctx)
	var info peerCredInfo
	if p != nil {
		info, _ = p.AuthInfo.(peerCredInfo)
	}
	if info.conn == nil {
		return nil, "local pipes are only taken over the Unix socket"
	}
	raw, err := info.conn.SyscallConn()
	if err != nil {
		return nil, fmt.Sprintf("the connection's descriptor: %v", err)
	}
	pidfd := -1
	var optErr error
	if err := raw.Control(func(fd uintptr) {
		pidfd, optErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PEERPIDFD)
	}); err != nil || optErr != nil {
		return nil, fmt.Sprintf("the caller's pidfd (SO_PEERPIDFD needs Linux 6.5): %v", firstErr(err, optErr))
	}
	defer unix.Close(pidfd)
	out := &localPipes{}
	take := func(num int32, what string, mode int) (*os.File, string) {
		fd, err := unix.PidfdGetfd(pidfd, int(num), 0)
		if err != nil {
			return nil, fmt.Sprintf("take the caller's %s, fd %d (pidfd_getfd): %v", what, num, err)
		}
		var st unix.Stat_t
		fl, flErr := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err := unix.Fstat(fd, &st); err != nil || flErr != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO || fl&unix.O_ACCMODE != mode {
			unix.Close(fd)
			end := "write"
			if mode == unix.O_RDONLY {
				end = "read"
			}
			return nil, fmt.Sprintf("the caller's %s, fd %d, is not the %s end of a pipe", what, num, end)
		}
		if mode == unix.O_WRONLY {
			unix.SetNonblock(fd, true) // so that ending the session interrupts a write
		}
		return os.NewFile(uintptr(fd), what), ""
	}
	var why string
	if lp.Stdin != nil {
		if out.stdin, why = take(lp.GetStdin(), "stdin pipe", unix.O_RDONLY); why != "" {
			return nil, why
		}
	}
	for i, num := range []int32{lp.GetStdout(), lp.GetStderr()} {
		name := [...]string{"stdout pipe", "stderr pipe"}[i]
		if out.out[i], why = take(num, name, unix.O_WRONLY); why != "" {
			out.close()
			return nil, why
		}
	}
	return out, ""
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
