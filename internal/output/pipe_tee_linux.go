package output

import "golang.org/x/sys/unix"

// tee copies up to limit bytes from the pipe src (the process's, before
// they are read) into the client's pipe if the session is caught up (at is
// the offset of src's next byte) and nobody is writing to the pipe, without
// blocking; it returns how many. The stream's lock is held: Run cannot
// deliver anything meanwhile (it has nothing past at to deliver), and the
// stream's next Write accounts for the bytes (wasTeed).
func (p *Pipe) tee(src, limit int, at int64) int {
	if p.ss.off != at || !p.mu.TryLock() {
		return 0
	}
	defer p.mu.Unlock()
	if p.detached || p.gone || p.noTee {
		return 0
	}
	n, err := unix.Tee(src, p.fd, limit, unix.SPLICE_F_NONBLOCK)
	if err == unix.EINVAL {
		p.noTee = true // not two pipes (a terminal's output): write instead
	}
	return int(max(n, 0))
}
