//go:build linux

package manager

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/testutil"
)

// ioWchar is how many bytes pid has written, from /proc/PID/io.
func ioWchar(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return -1 // gone
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatalf("no wchar in /proc/%d/io", pid)
	return 0
}

func TestSessionHoldsTheProcessBackAndLosesNothing(t *testing.T) {
	const window = 256 << 10
	m, _ := newManager(t, Config{RingSize: 64 << 10, SessionWindow: window})
	data := bytes.Repeat([]byte("0123456789abcdef"), 20<<20/16)
	for i := 0; i < len(data); i += 4099 {
		data[i] = byte(i >> 12) // no two windows alike
	}
	file := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	info, sess, err := m.StartAttached(Spec{Command: []string{"cat", file}, Name: "cat"},
		AttachOptions{Output: OutputOptions{Lossless: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.End()

	// The session reads nothing yet: cat fills the window and a pipe, then
	// blocks in write(2), and procd captures no more.
	testutil.WaitFor(t, "cat blocks", func() bool {
		w := ioWchar(t, info.PID)
		time.Sleep(50 * time.Millisecond) // progress over an interval is what "blocked" means
		return w == ioWchar(t, info.PID) && w > 0
	})
	got, _ := m.Get(Ref{ID: info.ID})
	if got.Stdout.Total > window || got.Stdout.Total < window-64<<10 {
		t.Fatalf("captured %d bytes while the session read none, want about the window (%d)", got.Stdout.Total, window)
	}
	if written := ioWchar(t, info.PID); written >= int64(len(data)) {
		t.Fatalf("cat wrote everything (%d) although nobody read", written)
	}
	if got.Stdout.Dropped == 0 {
		t.Fatal("the ring (64 KiB) dropped nothing: the record must keep dropping while the session holds the bytes")
	}

	sum := sha256.New()
	n := 0
	for {
		ch, err := sess.Next(testutil.Context(t), 64<<10)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ch.Skipped != 0 || ch.Offset != int64(n) {
			t.Fatalf("chunk at %d skipping %d, want %d and nothing skipped", ch.Offset, ch.Skipped, n)
		}
		sum.Write(ch.Data)
		n += len(ch.Data)
	}
	if want := sha256.Sum256(data); n != len(data) || !bytes.Equal(sum.Sum(nil), want[:]) {
		t.Fatalf("the session got %d bytes (digest %x), want all %d", n, sum.Sum(nil), len(data))
	}
	final := sess.Info()
	if final.Exit == nil || final.Exit.Code != 0 || final.Exit.OutputTruncated {
		t.Fatalf("final record %+v, want exit 0, nothing truncated", final.Exit)
	}
	if want := int64(len(data) - 64<<10); final.Stdout.Dropped != want {
		t.Fatalf("the ring dropped %d bytes, want %d (it keeps its last 64 KiB)", final.Stdout.Dropped, want)
	}
}

func TestLossyAttachNeverSlowsTheProcess(t *testing.T) {
	m, _ := newManager(t, Config{RingSize: 64 << 10, SessionWindow: 64 << 10})
	info := mustStart(t, m, sh("head -c 5000000 /dev/zero"))
	sess, err := m.Attach(Ref{ID: info.ID}, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.End()
	final := wait(t, m, info.ID) // finishes although the observer reads nothing
	if final.Stdout.Total != 5000000 {
		t.Fatalf("captured %d, want 5000000", final.Stdout.Total)
	}
	ch, err := sess.Next(testutil.Context(t), 1<<20)
	if err != nil || ch.Skipped == 0 {
		t.Fatalf("first chunk skipped %d (%v): a lossy reader is told what it missed", ch.Skipped, err)
	}
}

func TestSessionEndClosesStdinItHolds(t *testing.T) {
	m, _ := newManager(t, Config{})
	spec := sh("cat >/dev/null; exit 7")
	spec.Stdin = StdinPipe
	info := mustStart(t, m, spec)
	sess, err := m.Attach(Ref{ID: info.ID}, AttachOptions{Stdin: true, Holder: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Write(testutil.Context(t), []byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	sess.End() // a client gone without closing stdin
	if got := wait(t, m, info.ID); got.Exit.Code != 7 || got.Exit.Reason != ReasonExited {
		t.Fatalf("exit %+v, want 7 on its own after end of input", got.Exit)
	}
}

func TestReleasedStdinStaysOpen(t *testing.T) {
	m, _ := newManager(t, Config{})
	spec := sh("read a; read b; echo $a$b")
	spec.Stdin = StdinPipe
	info := mustStart(t, m, spec)
	first, err := m.Attach(Ref{ID: info.ID}, AttachOptions{Stdin: true, Holder: "first"})
	if err != nil {
		t.Fatal(err)
	}
	first.Write(testutil.Context(t), []byte("x\n"))
	first.ReleaseStdin()
	first.End()
	if _, err := m.WriteInput(testutil.Context(t), Ref{ID: info.ID}, []byte("y\n"), true); err != nil {
		t.Fatalf("stdin was closed although released: %v", err)
	}
	wait(t, m, info.ID)
	if got := stdout(t, m, info.ID); got != "xy\n" {
		t.Fatalf("stdout %q, want xy", got)
	}
}

func TestBoundProcessEndsWithItsSession(t *testing.T) {
	m, bus := newManager(t, Config{Grace: 300 * time.Millisecond})
	_ = bus
	// Ignores end of input; a stop signal ends it.
	spec := sh("exec sleep 1000 </dev/null")
	spec.BindToSession = true
	info, sess, err := m.StartAttached(spec, AttachOptions{Output: OutputOptions{Lossless: true}})
	if err != nil {
		t.Fatal(err)
	}
	sess.End()
	got := wait(t, m, info.ID)
	if got.Exit.Reason != ReasonClientGone || got.Exit.Signal != 15 {
		t.Fatalf("exit %+v, want SIGTERM with reason CLIENT_GONE", got.Exit)
	}
	if st := m.Stats(); st.ExitsByReason[ReasonClientGone] != 1 {
		t.Fatalf("stats by reason %v, want one CLIENT_GONE", st.ExitsByReason)
	}
}

func TestBoundProcessGetsGraceToExitAtEndOfInput(t *testing.T) {
	m, _ := newManager(t, Config{Grace: 5 * time.Second})
	spec := sh("cat >/dev/null; exit 3") // a stdio server: ends at end of input
	spec.BindToSession, spec.Stdin = true, StdinPipe
	info, sess, err := m.StartAttached(spec, AttachOptions{Stdin: true, Holder: "test", Output: OutputOptions{Lossless: true}})
	if err != nil {
		t.Fatal(err)
	}
	sess.End()
	if got := wait(t, m, info.ID); got.Exit.Reason != ReasonExited || got.Exit.Code != 3 {
		t.Fatalf("exit %+v, want its own exit 3 after end of input", got.Exit)
	}
}

func TestBindToSessionNeedsASession(t *testing.T) {
	m, _ := newManager(t, Config{})
	spec := sh("true")
	spec.BindToSession = true
	if _, err := m.Start(spec); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "Attach") {
		t.Fatalf("Start with bind_to_session: %v, want INVALID_ARGUMENT pointing at Attach", err)
	}
	spec.BindToSession = false
	if _, _, err := m.StartAttached(spec, AttachOptions{Stdin: true}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("stdin attach to a /dev/null stdin: %v, want INVALID_ARGUMENT", err)
	}
}
