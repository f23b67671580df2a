package server

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/peer"

	pb "github.com/procd/procd/proto/procd/v1"
)

// localPipesBudget bounds the sessions on the fast path at once: each holds
// two or three of procd's descriptors, which a client could otherwise
// multiply without starting a process (MaxProcesses would not apply).
// Beyond it sessions use the stream. A tenth of the descriptor limit.
var localPipesBudget = func() int64 {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) != nil || rl.Cur == unix.RLIM_INFINITY {
		return 1024
	}
	return max(int64(rl.Cur/10), 16)
}()

var localPipesInUse atomic.Int64

// takeLocalPipes takes the pipes a local caller named in lp
// (AttachStart.local_pipes) out of its descriptor table, or says why it
// cannot; release is called once the session is over.
//
// Whose table: the process the kernel recorded when the caller connected
// (SO_PEERPIDFD, Linux 6.5), which may since have forked, passed the
// connection on or run a setuid program. So procd does not take them with
// its own privilege (root may take any process's descriptors): the take
// runs on a throwaway thread with the caller's uid and gid and no
// capabilities, where the kernel's own ptrace rules decide — the caller's
// own, dumpable processes only. What is taken is reopened through
// /proc/self/fd as procd's own open file description, so the flags the
// caller sets on its copy (O_NONBLOCK) never reach procd's, or the reverse.
func takeLocalPipes(ctx context.Context, lp *pb.LocalPipes) (*localPipes, string) {
	p, _ := peer.FromContext(ctx)
	var info peerCredInfo
	if p != nil {
		info, _ = p.AuthInfo.(peerCredInfo)
	}
	switch {
	case info.conn == nil:
		return nil, "local pipes are only taken over the Unix socket"
	case lp.GetStdout() == lp.GetStderr():
		return nil, "stdout and stderr must be different pipes"
	case lp.Stdin != nil && (lp.GetStdin() == lp.GetStdout() || lp.GetStdin() == lp.GetStderr()):
		return nil, "stdin must be a pipe of its own"
	}
	if localPipesInUse.Add(1) > localPipesBudget {
		localPipesInUse.Add(-1)
		return nil, fmt.Sprintf("procd already serves %d sessions on local pipes", localPipesBudget)
	}
	out, why := takeFrom(info, lp)
	if out == nil {
		localPipesInUse.Add(-1)
		return nil, why
	}
	out.release = func() { localPipesInUse.Add(-1) }
	return out, ""
}

// takeFrom does takeLocalPipes' work once the request is admitted.
func takeFrom(info peerCredInfo, lp *pb.LocalPipes) (*localPipes, string) {
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
	type want struct {
		num  int32
		what string
		mode int
	}
	wants := []want{{lp.GetStdout(), "stdout pipe", unix.O_WRONLY}, {lp.GetStderr(), "stderr pipe", unix.O_WRONLY}}
	if lp.Stdin != nil {
		wants = append(wants, want{lp.GetStdin(), "stdin pipe", unix.O_RDONLY})
	}
	nums := make([]int, len(wants))
	for i, w := range wants {
		nums[i] = int(w.num)
	}
	taken, err := getfdsAs(info.uid, info.gid, pidfd, nums)
	if err != nil {
		return nil, err.Error()
	}
	out := &localPipes{}
	files := make([]*os.File, len(wants))
	var why string
	for i, w := range wants {
		if why == "" {
			files[i], why = reopenPipe(taken[i], w.num, w.what, w.mode)
		}
		unix.Close(taken[i])
	}
	if why != "" {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
		return nil, why
	}
	out.out[0], out.out[1] = files[0], files[1]
	if lp.Stdin != nil {
		out.stdin = files[2]
	}
	return out, ""
}

// getfdsAs takes descriptors nums of the process behind pidfd with
// pidfd_getfd, as uid/gid would: on a thread of its own that takes those
// credentials (losing every capability, CAP_SYS_PTRACE included) and is
// never used again (the goroutine ends locked to it, so Go ends the
// thread). When procd already runs as uid, or as a non-root user (who has
// no other uid to take), it takes them as itself.
func getfdsAs(uid, gid, pidfd int, nums []int) ([]int, error) {
	type result struct {
		fds []int
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() { done <- r }()
		if os.Geteuid() == 0 && uid != 0 {
			runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
			if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); e != 0 {
				r.err = fmt.Errorf("take the caller's pipes as gid %d: %v", gid, e)
				return
			}
			if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
				r.err = fmt.Errorf("take the caller's pipes as uid %d: %v", uid, e)
				return
			}
		}
		for _, n := range nums {
			fd, err := unix.PidfdGetfd(pidfd, n, 0)
			if err != nil {
				for _, f := range r.fds {
					unix.Close(f)
				}
				r.fds = nil
				r.err = fmt.Errorf("take the caller's fd %d (pidfd_getfd, with the caller's own rights): %v", n, err)
				return
			}
			r.fds = append(r.fds, fd)
		}
	}()
	r := <-done
	return r.fds, r.err
}

// reopenPipe checks that fd (taken from the caller as its descriptor num)
// is the mode end of a pipe and opens that pipe again as procd's own open
// file description: a write end non-blocking (ending the session interrupts
// a write), a read end (a process's stdin) blocking, as a child expects.
func reopenPipe(fd int, num int32, what string, mode int) (*os.File, string) {
	var st unix.Stat_t
	fl, flErr := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err := unix.Fstat(fd, &st); err != nil || flErr != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO || fl&unix.O_ACCMODE != mode {
		end := "write"
		if mode == unix.O_RDONLY {
			end = "read"
		}
		return nil, fmt.Sprintf("the caller's %s, fd %d, is not the %s end of a pipe", what, num, end)
	}
	// O_NONBLOCK on open too: a FIFO opened for reading would otherwise
	// wait for a writer the caller may have closed.
	own, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), mode|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Sprintf("the caller's %s, fd %d: open it as procd's own: %v", what, num, err)
	}
	if mode == unix.O_RDONLY {
		unix.SetNonblock(own, false)
	}
	return os.NewFile(uintptr(own), what), ""
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
