//go:build linux

package cgroup

import (
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// A pooled cgroup's two files read on every exit (cgroup.events: is it
// empty; cpu.stat: what the tree used) are kept open and read with pread at
// offset 0, which makes kernfs render the file afresh: an open of a cgroup
// file costs more than the read. So is its directory, which every start
// needs for CLONE_INTO_CGROUP (a dup is far cheaper than the path walk).
// Only the first maxHeldGroups groups of the pool hold them (three
// descriptors each, 48 in all), so the descriptors procd can give
// processes shrink by a small, fixed amount; enough groups for a few
// dozen starts at once to find theirs open.

// The files a group may hold open, by index.
const (
	eventsFile = iota
	cpuFile
	dirFile // the directory itself, for CLONE_INTO_CGROUP (Open dups it)
	numHeld
)

var heldNames = [numHeld]string{"cgroup.events", "cpu.stat", "."}

// maxHeldGroups is how many pooled groups hold their files open.
const maxHeldGroups = 16

// heldFiles are a group's open files. Reads hold mu for reading and close
// takes it for writing, so a read racing a removal never reads a
// descriptor number the daemon has reused for something else.
type heldFiles struct {
	mu     sync.RWMutex
	fds    [numHeld]int // -1 once closed
	onDone func()       // gives the group's slot back to the subtree
}

// hold opens g's files if the subtree has a slot left for them; without
// one, g reads by path.
func (s *Subtree) hold(g *Group) {
	s.poolMu.Lock()
	if s.heldGroups >= maxHeldGroups {
		s.poolMu.Unlock()
		return
	}
	s.heldGroups++
	s.poolMu.Unlock()
	h := &heldFiles{onDone: func() {
		s.poolMu.Lock()
		s.heldGroups--
		s.poolMu.Unlock()
	}}
	for i, name := range heldNames {
		flags := unix.O_RDONLY | unix.O_CLOEXEC
		if i == dirFile {
			flags |= unix.O_DIRECTORY
		}
		fd, err := unix.Open(filepath.Join(g.v2, name), flags, 0)
		if err != nil {
			for _, f := range h.fds[:i] {
				unix.Close(f)
			}
			h.onDone()
			return // out of descriptors, or a fake tree: reads go by path
		}
		h.fds[i] = fd
	}
	g.held = h
}

// read returns the contents of one of g's held files.
func (g *Group) read(which int) ([]byte, error) {
	if h := g.held; h != nil {
		var buf [512]byte
		h.mu.RLock()
		fd := h.fds[which]
		n, err := -1, error(nil)
		for fd >= 0 {
			if n, err = unix.Pread(fd, buf[:], 0); err != unix.EINTR {
				break
			}
		}
		h.mu.RUnlock()
		if fd >= 0 && err == nil && n < len(buf) {
			return append([]byte(nil), buf[:n]...), nil
		}
		// Closed, failed or longer than the buffer: read it by path.
	}
	return readFile(filepath.Join(g.v2, heldNames[which]))
}

// close closes the files (before the group's directory is removed).
func (h *heldFiles) close() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fds[0] < 0 {
		return
	}
	for i, fd := range h.fds {
		unix.Close(fd)
		h.fds[i] = -1
	}
	h.onDone()
}

// dupDir returns a duplicate of the held directory descriptor, or -1.
func (h *heldFiles) dupDir() int {
	if h == nil {
		return -1
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.fds[dirFile] < 0 {
		return -1
	}
	fd, err := unix.FcntlInt(uintptr(h.fds[dirFile]), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}
