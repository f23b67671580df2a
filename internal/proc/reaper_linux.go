package proc

import (
	"bytes"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// reaper reaps descendants reparented to the daemon (it is their subreaper)
// without ever waiting for a managed leader: each leader has exactly one
// waiter, its Process.Reap. It finds candidates in /proc rather than with
// wait4(-1), which would steal the leaders' statuses (ochinchina/supervisord
// #372).
type reaper struct {
	log *zap.Logger

	// spawnMu is held for reading from fork until the new pid is managed, and
	// for writing while scanning, so a just-forked leader that exits at once
	// is never reaped as an orphan.
	spawnMu sync.RWMutex

	mu      sync.Mutex
	managed map[int]struct{}

	reaped atomic.Int64
	sigc   chan os.Signal
	quit   chan struct{}
	done   chan struct{}
	pgrp   int
	self   int
	kids   selfChildren // the main thread's children file, held open
}

func newReaper(log *zap.Logger) *reaper {
	return &reaper{
		log:     log,
		managed: make(map[int]struct{}),
		sigc:    make(chan os.Signal, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		pgrp:    unix.Getpgrp(),
		self:    os.Getpid(),
		kids:    openSelfChildren(),
	}
}

func (r *reaper) start() {
	signal.Notify(r.sigc, syscall.SIGCHLD)
	go r.run()
}

func (r *reaper) stop() {
	signal.Stop(r.sigc)
	close(r.quit)
	<-r.done
	r.kids.close()
}

func (r *reaper) run() {
	defer close(r.done)
	r.scan() // orphans may predate us
	for {
		select {
		case <-r.sigc: // coalesced: one scan serves many SIGCHLDs
			r.scan()
		case <-r.quit:
			return
		}
	}
}

func (r *reaper) manage(pid int) {
	r.mu.Lock()
	r.managed[pid] = struct{}{}
	r.mu.Unlock()
}

func (r *reaper) unmanage(pid int) {
	r.mu.Lock()
	delete(r.managed, pid)
	r.mu.Unlock()
}

func (r *reaper) isManaged(pid int) bool {
	r.mu.Lock()
	_, ok := r.managed[pid]
	r.mu.Unlock()
	return ok
}

// scan reaps every zombie child that is not a managed leader and is outside
// the daemon's own process group (children started there by plain os/exec
// belong to their own waiter).
func (r *reaper) scan() {
	r.spawnMu.Lock()
	defer r.spawnMu.Unlock()
	for _, pid := range r.kids.list() {
		if r.isManaged(pid) {
			continue
		}
		st, ok := readStat(pid)
		if !ok || st.pgrp == r.pgrp || st.state != 'Z' {
			continue
		}
		var ws unix.WaitStatus
		if wpid, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); err == nil && wpid == pid {
			r.reaped.Add(1)
			if ce := r.log.Check(zap.DebugLevel, "reaped orphan"); ce != nil {
				ce.Write(zap.Int("pid", pid), zap.Int("pgid", st.pgrp), zap.Int("status", int(ws)))
			}
		}
	}
}

// groupMembers walks the daemon's unmanaged children and their descendants
// and returns the live ones in group pgid. Every live process of a tree
// whose leader exited descends from such a child (the daemon is their
// subreaper), so no unmanaged child means no member at all — the common
// case, answered with one read. Otherwise an empty answer is confirmed by a
// second walk: a member that exits between the two reads of a walk hands its
// children to the daemon, and the second walk sees them there.
func (r *reaper) groupMembers(pgid int) []int {
	for range 2 {
		m, candidates := r.walkGroup(pgid)
		if len(m) > 0 || candidates == 0 {
			return m
		}
	}
	return nil
}

func (r *reaper) walkGroup(pgid int) (members []int, candidates int) {
	var queue []int
	for _, pid := range r.kids.list() {
		if !r.isManaged(pid) {
			queue = append(queue, pid)
		}
	}
	candidates = len(queue)
	seen := make(map[int]struct{}, len(queue))
	for len(queue) > 0 {
		pid := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if _, ok := seen[pid]; ok {
			continue
		}
		seen[pid] = struct{}{}
		st, ok := readStat(pid)
		if !ok {
			continue
		}
		if st.pgrp == pgid && st.state != 'Z' && st.state != 'X' {
			members = append(members, pid)
		}
		queue = append(queue, childrenOf(pid, false)...)
	}
	return members, candidates
}

// childrenOf lists pid's children from /proc/PID/task/*/children (a child
// belongs to the thread that forked it). For the daemon itself (orphans
// only) just the main thread is read: the kernel hands a subreaper's new
// children to its first live thread, the main one, and the spawner threads
// that fork managed leaders are kept off it (see Runtime.spawner).
func childrenOf(pid int, self bool) []int {
	if self {
		return readChildren("/proc/self/task/" + strconv.Itoa(pid) + "/children")
	}
	base := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(base)
	if err != nil {
		return nil
	}
	var out []int
	for _, t := range tasks {
		out = append(out, readChildren(base+"/"+t.Name()+"/children")...)
	}
	return out
}

// selfChildren is the daemon's main thread's children file (its orphans:
// see childrenOf), opened once. Every exit reads it (the reaper's scan on
// SIGCHLD, and with process groups the tree check), and the path walk of
// an open through /proc and the close were two thirds of that read's cost.
// A pread at offset 0 renders the list afresh: a seq_file re-walks the
// task's children whenever the offset is not where its last read ended,
// and from the start at offset 0 after a read that returned nothing. The
// mutex keeps one read's calls together, so each list is one fd's walk as
// with a file of its own.
type selfChildren struct {
	mu sync.Mutex
	fd int // -1: read by path
}

func openSelfChildren() selfChildren {
	fd, err := unix.Open("/proc/self/task/"+strconv.Itoa(os.Getpid())+"/children", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		fd = -1
	}
	return selfChildren{fd: fd}
}

// list returns the daemon's orphans (the main thread's children).
func (k *selfChildren) list() []int {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fd < 0 {
		return childrenOf(os.Getpid(), true)
	}
	buf := childBuf.Get().(*[]byte)
	defer childBuf.Put(buf)
	n := 0
	for n < len(*buf) {
		m, err := unix.Pread(k.fd, (*buf)[n:], int64(n))
		if err == unix.EINTR {
			continue
		}
		if m <= 0 || err != nil {
			break
		}
		n += m
	}
	return parseChildren((*buf)[:n])
}

func (k *selfChildren) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fd >= 0 {
		unix.Close(k.fd)
		k.fd = -1
	}
}

func readChildren(path string) []int {
	buf := childBuf.Get().(*[]byte)
	defer childBuf.Put(buf)
	return parseChildren((*buf)[:readFull(path, *buf)])
}

func parseChildren(b []byte) []int {
	var out []int
	for _, f := range bytes.Fields(b) {
		if c, err := strconv.Atoi(string(f)); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// childBuf holds buffers large enough to read a children file in one read:
// the file is generated per read call and may skip entries across calls
// while the list changes.
var childBuf = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func readFull(path string, buf []byte) int {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if m <= 0 || err != nil {
			break
		}
		n += m
	}
	return n
}

type procStat struct {
	state byte
	ppid  int
	pgrp  int
	start uint64 // start time in clock ticks since boot (field 22); 0 if unread
}

// readStat parses /proc/PID/stat: "pid (comm) state ppid pgrp …", where comm
// may itself contain spaces and parentheses.
func readStat(pid int) (procStat, bool) {
	var buf [1024]byte // comm is at most 64 bytes escaped; the line fits
	n := readFull("/proc/"+strconv.Itoa(pid)+"/stat", buf[:])
	if n == 0 {
		return procStat{}, false
	}
	line := buf[:n]
	i := bytes.LastIndexByte(line, ')')
	if i < 0 || i+2 >= len(line) {
		return procStat{}, false
	}
	f := bytes.Fields(line[i+2:])
	if len(f) < 3 || len(f[0]) != 1 {
		return procStat{}, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgrp, err2 := strconv.Atoi(string(f[2]))
	if err1 != nil || err2 != nil {
		return procStat{}, false
	}
	st := procStat{state: f[0][0], ppid: ppid, pgrp: pgrp}
	if len(f) > 19 { // f[0] is field 3, so field 22 is f[19]
		st.start, _ = strconv.ParseUint(string(f[19]), 10, 64)
	}
	return st, true
}
