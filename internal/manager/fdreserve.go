package manager

import (
	"errors"
	"os"
	"sync"
	"syscall"

	"github.com/procd/procd/internal/errdefs"
)

// fdReserve holds a few descriptors (on /dev/null) that procd gives back
// when it runs out. Starting processes can use every descriptor procd may
// open (each holds a pidfd and its pipes); stopping them needs one or two
// more (to write cgroup.kill, to list a cgroup). Without a reserve, a
// daemon at its RLIMIT_NOFILE could not kill the very processes holding
// its descriptors. The reserve is refilled as processes finish, before new
// starts can take the freed descriptors again.
type fdReserve struct {
	mu    sync.Mutex
	files []*os.File
}

// reserveFDs is enough for the few descriptors one stop needs at a time.
const reserveFDs = 16

func newFDReserve() *fdReserve {
	r := &fdReserve{}
	r.refill()
	return r
}

// refill reopens the reserve up to its size, as far as descriptors allow.
func (r *fdReserve) refill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.files) < reserveFDs {
		f, err := os.Open(os.DevNull)
		if err != nil {
			return
		}
		r.files = append(r.files, f)
	}
}

// release closes the reserve; it reports whether there was any.
func (r *fdReserve) release() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.files {
		f.Close()
	}
	released := len(r.files) > 0
	r.files = nil
	return released
}

// outOfFDs reports whether err means procd (or the system) ran out of
// descriptors.
func outOfFDs(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// fdError gives a start that failed for want of descriptors, at any step
// (the cgroup's directory descriptor, a log file, a limit file, a pipe),
// the kind ResourceExhausted and says what to do; other errors are
// returned as they are. startError words the exec step's own case.
func fdError(err error) error {
	if !outOfFDs(err) || errors.Is(err, errdefs.ErrResourceExhausted) {
		return err
	}
	hint := "procd is out of file descriptors: remove finished processes, stop some, or raise procd's RLIMIT_NOFILE (LimitNOFILE=)"
	if errors.Is(err, syscall.ENFILE) {
		hint = "the system is out of file descriptors (fs.file-max)"
	}
	return errdefs.Errorf(errdefs.ErrResourceExhausted, "%w (%s)", err, hint)
}

// withFDs runs op and, if it failed for want of descriptors, gives back
// the reserve and runs it once more.
func (m *Manager) withFDs(op func() error) error {
	err := op()
	if outOfFDs(err) && m.fds.release() {
		err = op()
	}
	return err
}
