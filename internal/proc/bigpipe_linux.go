package proc

import (
	"sync"

	"golang.org/x/sys/unix"
)

const (
	// bigPipeSize is what a busy output pipe is raised to: the most a
	// pipe takes by default (fs.pipe-max-size), 16 times the default.
	bigPipeSize = 1 << 20
	// bigPipes bounds the pipes raised at once: each can hold bigPipeSize
	// of kernel memory, charged to procd's user (so 16 of them are a
	// quarter of the default fs.pipe-user-pages-soft).
	bigPipes = 16
	// bigChunk is one read from a raised pipe.
	bigChunk = 256 << 10
)

// pipeBudget hands out the raising of busy output pipes. Only a privileged
// procd (CAP_SYS_RESOURCE) raises any: pipes are charged to the user that
// made them, and a user over fs.pipe-user-pages-soft gets one-page pipes
// from then on, unless privileged. A non-root procd's budget would come
// out of the same user's allowance as its children's own pipes.
type pipeBudget struct {
	mu     sync.Mutex
	left   int
	bigBuf []byte // the loop's read buffer for raised pipes, made at the first; loop only
}

func newPipeBudget() *pipeBudget {
	b := &pipeBudget{}
	if hasCapSysResource() {
		b.left = bigPipes
	}
	return b
}

// hasCapSysResource reports whether procd's pipes are exempt from the
// per-user allowance: CAP_SYS_RESOURCE or CAP_SYS_ADMIN (fs/pipe.c,
// pipe_is_unprivileged_user; a root without the first, as in some
// sandboxes, still has the second). bigPipeSize is pipe-max-size's
// default, which needs neither.
func hasCapSysResource() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	has := func(c int) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	return has(unix.CAP_SYS_RESOURCE) || has(unix.CAP_SYS_ADMIN)
}

// raise makes pp's pipe bigPipeSize if the budget allows; pp.mu is held.
// A pipe is raised once, after a read found it full (its writer outpaces
// a wake-up per 64 KiB), so quiet processes cost nothing.
func (b *pipeBudget) raise(pp *pipe) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left == 0 || pp.raised {
		return
	}
	if _, err := unix.FcntlInt(uintptr(pp.fd), unix.F_SETPIPE_SZ, bigPipeSize); err != nil {
		return
	}
	b.left--
	pp.raised = true
	if b.bigBuf == nil {
		b.bigBuf = make([]byte, bigChunk)
	}
}

// release returns a closed pipe's share of the budget; pp.mu is held.
func (b *pipeBudget) release(pp *pipe) {
	if !pp.raised {
		return
	}
	b.mu.Lock()
	b.left++
	b.mu.Unlock()
	pp.raised = false
}

// buf is the loop's read buffer for pp; pp.mu is held.
func (b *pipeBudget) buf(pp *pipe, small []byte) []byte {
	if pp.raised {
		return b.bigBuf
	}
	return small
}
