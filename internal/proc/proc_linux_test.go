package proc

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/procd/procd/internal/procattr"
	"github.com/procd/procd/internal/testutil"
)

var rt *Runtime

func TestMain(m *testing.M) {
	RunHelper() // the guardian
	var err error
	rt, err = NewRuntime(nil)
	if err != nil {
		panic(err)
	}
	code := m.Run()
	rt.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

// buffer is a Sink collecting everything.
type buffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	closed chan struct{}
}

func newBuffer() *buffer { return &buffer{closed: make(chan struct{})} }

func (b *buffer) Write(p []byte) {
	b.mu.Lock()
	b.b.Write(p)
	b.mu.Unlock()
}
func (b *buffer) Close() { close(b.closed) }
func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// start runs sh -c script and returns the process and a channel closed at exit.
func start(t *testing.T, script string, stdout, stderr Sink) (*Process, chan struct{}) {
	t.Helper()
	p, err := rt.Start(&Attr{Path: "/bin/sh", Args: []string{"sh", "-c", script}, Env: os.Environ()}, stdout, stderr)
	if err != nil {
		t.Fatalf("start %q: %v", script, err)
	}
	exited := make(chan struct{})
	if err := rt.Watch(p, func() { close(exited) }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.SignalGroup(syscall.SIGKILL)
		p.Release()
	})
	return p, exited
}

func waitClosed(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestExitCodeAndOutput(t *testing.T) {
	out, errb := newBuffer(), newBuffer()
	p, exited := start(t, "echo hi; echo err >&2; exit 3", out, errb)
	waitClosed(t, exited, "exit")
	if !p.Exited() {
		t.Fatal("Exited() = false after the exit notification")
	}
	if !p.WaitOutput(5 * time.Second) {
		t.Fatal("output did not reach EOF")
	}
	st, err := p.Reap()
	if err != nil {
		t.Fatal(err)
	}
	if st.Code != 3 || st.Signal != 0 {
		t.Fatalf("status = %+v, want code 3", st)
	}
	if out.String() != "hi\n" || errb.String() != "err\n" {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
	if st.Usage.MaxRSS <= 0 {
		t.Fatalf("MaxRSS = %d, want > 0", st.Usage.MaxRSS)
	}
}

func TestSignalledExitIsDistinctFromCode(t *testing.T) {
	p, exited := start(t, "kill -SEGV $$", nil, nil)
	waitClosed(t, exited, "exit")
	st, err := p.Reap()
	if err != nil {
		t.Fatal(err)
	}
	if st.Signal != syscall.SIGSEGV || st.Code != -1 {
		t.Fatalf("status = %+v, want SIGSEGV and code -1", st)
	}
}

func TestExecErrorsAreSynchronous(t *testing.T) {
	_, err := rt.Start(&Attr{Path: "/nonexistent/binary", Args: []string{"x"}}, nil, nil)
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("err = %v, want ENOENT", err)
	}
	_, err = rt.Start(&Attr{Path: "/bin/true", Args: []string{"true"}, Dir: "/nonexistent-dir"}, nil, nil)
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("err = %v, want ENOENT for missing dir", err)
	}
}

func TestProcessLeadsItsOwnGroup(t *testing.T) {
	p, exited := start(t, "sleep 30", nil, nil)
	pgid, err := unix.Getpgid(p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	if pgid != p.Pid() || p.Pgid() != p.Pid() {
		t.Fatalf("pgid = %d (recorded %d), want the pid %d", pgid, p.Pgid(), p.Pid())
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, exited, "exit after SIGTERM")
	st, err := p.Reap()
	if err != nil {
		t.Fatal(err)
	}
	if st.Signal != syscall.SIGTERM {
		t.Fatalf("status = %+v, want SIGTERM", st)
	}
	if err := p.Signal(syscall.SIGTERM); !errors.Is(err, ErrProcessDone) {
		t.Fatalf("signal after reap: %v, want ErrProcessDone", err)
	}
	if err := p.SignalGroup(syscall.SIGTERM); !errors.Is(err, ErrProcessDone) {
		t.Fatalf("group signal after reap: %v, want ErrProcessDone", err)
	}
}

// Pitfalls 1 and 2: the group is found and killed after the leader exited,
// because the unreaped leader pins the group number.
func TestLeftoversIgnoringTermAreFoundAndKilledAfterLeaderExit(t *testing.T) {
	out := newBuffer()
	p, exited := start(t, `trap "" TERM; sleep 300 & echo $!; exit 0`, out, nil)
	waitClosed(t, exited, "leader exit")
	members := testutil.WaitForValue(t, "the group to hold one member", func() []int { return rt.GroupMembers(p.Pgid()) }, func(m []int) bool { return len(m) == 1 })
	child, _ := strconv.Atoi(strings.TrimSpace(out.String()))
	if members[0] != child {
		t.Fatalf("members = %v, want the sleep %d", members, child)
	}
	if err := p.SignalGroup(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// SIGTERM is ignored: still there.
	if m := rt.GroupMembers(p.Pgid()); len(m) != 1 {
		t.Fatalf("members after ignored TERM = %v", m)
	}
	before := rt.OrphansReaped()
	if err := p.SignalGroup(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitForValue(t, "the group to empty", func() []int { return rt.GroupMembers(p.Pgid()) }, func(m []int) bool { return len(m) == 0 })
	testutil.WaitForValue(t, "the orphan to be reaped", func() int64 { return rt.OrphansReaped() }, func(n int64) bool { return n > before })
	if _, err := os.Stat("/proc/" + strconv.Itoa(child)); err == nil {
		t.Fatalf("orphan %d still in the process table (zombie not reaped)", child)
	}
	st, err := p.Reap()
	if err != nil || st.Code != 0 {
		t.Fatalf("leader status %+v, %v", st, err)
	}
}

// Pitfall 4: a grandchild that escaped the group keeps the pipe open; the
// bounded wait closes it and keeps what was written.
func TestWaitOutputIsBoundedWhenAnEscapeeHoldsThePipe(t *testing.T) {
	out := newBuffer()
	p, exited := start(t, `setsid sleep 300 & echo $!; printf last`, out, nil)
	waitClosed(t, exited, "leader exit")
	t0 := time.Now()
	if p.WaitOutput(200 * time.Millisecond) {
		t.Fatal("WaitOutput reported EOF although the escapee holds the pipe")
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("WaitOutput took %v", d)
	}
	waitClosed(t, out.closed, "sink close")
	lines := strings.Split(out.String(), "\n")
	if len(lines) != 2 || lines[1] != "last" {
		t.Fatalf("output %q, want pid then 'last'", out.String())
	}
	esc, _ := strconv.Atoi(lines[0])
	unix.Kill(esc, syscall.SIGKILL)
	if _, err := p.Reap(); err != nil {
		t.Fatal(err)
	}
}

func TestLargeOutputWithoutNewlinesIsReadCompletely(t *testing.T) {
	var n int64
	var mu sync.Mutex
	var tail []byte
	sink := &funcSink{write: func(b []byte) {
		mu.Lock()
		n += int64(len(b))
		tail = append(tail, b...)
		if len(tail) > 16 {
			tail = tail[len(tail)-16:]
		}
		mu.Unlock()
	}, closed: make(chan struct{})}
	p, exited := start(t, `head -c 20000000 /dev/zero | tr '\0' x; printf END`, sink, nil)
	waitClosed(t, exited, "exit")
	if !p.WaitOutput(10 * time.Second) {
		t.Fatal("no EOF")
	}
	p.Reap()
	mu.Lock()
	defer mu.Unlock()
	if n != 20000003 || !bytes.HasSuffix(tail, []byte("xEND")) {
		t.Fatalf("read %d bytes ending %q", n, tail)
	}
}

type funcSink struct {
	write  func([]byte)
	closed chan struct{}
}

func (f *funcSink) Write(p []byte) { f.write(p) }
func (f *funcSink) Close()         { close(f.closed) }

func TestInstantExitsAreNeverStolenByTheReaper(t *testing.T) {
	// Many processes that exit at once while orphans are being reaped: every
	// status must come back exact.
	for i := range 50 {
		code := i % 7
		p, exited := start(t, "sh -c 'sleep 0 &' ; exit "+strconv.Itoa(code), nil, nil)
		waitClosed(t, exited, "exit")
		st, err := p.Reap()
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if st.Code != code {
			t.Fatalf("run %d: code %d, want %d", i, st.Code, code)
		}
	}
}

// Pitfall 9 (golang/go#27505): Pdeathsig fires when the thread that forked
// the child exits. A caller whose thread dies right after Start must not
// take the child with it: forks happen on the Runtime's own locked thread.
func TestPdeathsigIsNotTiedToTheCallersThread(t *testing.T) {
	started := make(chan *Process)
	go func() {
		runtime.LockOSThread() // exits locked: the runtime destroys this thread
		p, err := rt.Start(&Attr{Path: "/bin/sleep", Args: []string{"sleep", "300"}}, nil, nil)
		if err != nil {
			t.Error(err)
		}
		started <- p
	}()
	p := <-started
	if p == nil {
		return
	}
	t.Cleanup(func() {
		p.SignalGroup(syscall.SIGKILL)
		testutil.WaitForValue(t, "the process to exit", p.Exited, func(b bool) bool { return b })
		p.Reap()
		p.Release()
	})
	// Give a wrongly tied child every chance to be killed, then check it lives.
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if p.Exited() {
			t.Fatal("child died when the thread that asked for it exited")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Pitfall 13: procd must never signal its own process group.
func TestSignalGroupRefusesTheDaemonsOwnGroup(t *testing.T) {
	p := &Process{pid: os.Getpid(), pgid: unix.Getpgrp(), pidfd: 0, rt: rt}
	if err := p.SignalGroup(syscall.SIGTERM); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("SignalGroup on our own group: %v", err)
	}
	p.pgid = 1
	if err := p.SignalGroup(syscall.SIGTERM); err == nil {
		t.Fatal("SignalGroup on group 1 was not refused")
	}
}

// The reaper reads only the main thread's children: the spawner must fork
// from another thread, so managed leaders are never listed there.
func TestLeadersAreNotChildrenOfTheMainThread(t *testing.T) {
	p, exited := start(t, "sleep 300", nil, nil)
	for _, c := range childrenOf(os.Getpid(), true) {
		if c == p.Pid() {
			t.Fatalf("managed leader %d is a child of the main thread", c)
		}
	}
	// Positive control: /proc shows it among the children of some thread.
	if !slices.Contains(childrenOf(os.Getpid(), false), p.Pid()) {
		t.Fatalf("leader %d not found among the process's children at all: the check above shows nothing", p.Pid())
	}
	p.SignalGroup(syscall.SIGKILL)
	waitClosed(t, exited, "exit")
	p.Reap()
}

func TestStdinPipe(t *testing.T) {
	out := newBuffer()
	p, err := rt.Start(&Attr{Path: "/bin/sh", Args: []string{"sh", "-c", "read a; echo got $a; cat"}, StdinPipe: true}, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	rt.Watch(p, func() { close(exited) })
	in := p.Stdin()
	in.Write([]byte("one\ntwo\n"))
	in.Close()
	waitClosed(t, exited, "exit at end of stdin")
	p.WaitOutput(5 * time.Second)
	if st, _ := p.Reap(); st.Code != 0 || out.String() != "got one\ntwo\n" {
		t.Fatalf("status %+v output %q", st, out.String())
	}
	p.Release()
}

func TestTerminal(t *testing.T) {
	out := newBuffer()
	p, err := rt.Start(&Attr{Path: "/bin/sh", Args: []string{"sh", "-c", `test -t 0 && test -t 1 && echo tty; stty size; read x; echo "x=$x"`},
		TTY: &procattr.WindowSize{Rows: 30, Cols: 100}}, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	rt.Watch(p, func() { close(exited) })
	testutil.WaitForValue(t, "the window size to be seen", out.String, func(s string) bool { return strings.Contains(s, "30 100") })
	// The shell waits in read: alive, so its session can be asked for.
	if sid, err := unix.Getsid(p.Pid()); err != nil || sid != p.Pid() {
		t.Fatalf("session %d (%v), want the process's own", sid, err)
	}
	if err := p.Resize(procattr.WindowSize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	p.Stdin().Write([]byte("hello\n"))
	waitClosed(t, exited, "exit")
	p.WaitOutput(5 * time.Second)
	p.Reap()
	p.Stdin().Close()
	p.Release()
	if got := out.String(); !strings.Contains(got, "tty\r\n30 100\r\n") || !strings.Contains(got, "x=hello") {
		t.Fatalf("terminal output %q", got)
	}
}

// Pitfall 10 (Nomad #23969): when the daemon dies, the guardian kills the
// process groups it was told about, but not a group whose leader's pid has
// meanwhile gone to another process (a different start time).
func TestGuardianKillsTrackedGroupsButNotReusedPids(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	g, err := StartGuardian(exe, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tracked, err := rt.Start(&Attr{Path: "/bin/sleep", Args: []string{"sleep", "300"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := newBuffer()
	other, err := rt.Start(&Attr{Path: "/bin/sh", Args: []string{"sh", "-c", "read x; echo alive"}, StdinPipe: true}, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	trackedExit, otherExit := make(chan struct{}), make(chan struct{})
	rt.Watch(tracked, func() { close(trackedExit) })
	rt.Watch(other, func() { close(otherExit) })
	t.Cleanup(func() {
		if !t.Failed() {
			return // both reaped below
		}
		for _, p := range []*Process{tracked, other} {
			if !p.Exited() {
				p.SignalGroup(syscall.SIGKILL)
			}
		}
	})

	g.Track(tracked.Pgid())
	// As if other's pid had been a tracked leader's, one that started
	// before it and was reaped by init after the daemon died.
	st, ok := readStat(other.Pid())
	// Both clocks in the same unit: a process just started is seconds old
	// at most, not a unit error's hours.
	if now := bootTicks(); !ok || st.start == 0 || st.start > now || now-st.start > 10*userHZ {
		t.Fatalf("start time of pid %d: %+v, now %d ticks", other.Pid(), st, now)
	}
	g.send("+" + strconv.Itoa(other.Pgid()) + ":" + strconv.FormatUint(st.start-1, 10))
	// The daemon's end of the pipe closes, as when it dies; Close returns
	// once the guardian has sent its signals and exited.
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, trackedExit, "the tracked group killed by the guardian")
	ts, _ := tracked.Reap()
	tracked.Release()
	if ts.Signal != syscall.SIGKILL {
		t.Fatalf("tracked leader: %+v, want killed by SIGKILL", ts)
	}
	// A SIGKILL sent before the guardian exited would keep other from ever
	// running again: it answering now proves none was sent.
	other.Stdin().Write([]byte("ping\n"))
	waitClosed(t, otherExit, "the untouched process answers and exits")
	other.WaitOutput(5 * time.Second)
	xs, _ := other.Reap()
	other.Release()
	if xs.Code != 0 || out.String() != "alive\n" {
		t.Fatalf("other: %+v, output %q; want it untouched", xs, out.String())
	}
}
