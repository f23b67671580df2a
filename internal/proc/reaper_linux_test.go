package proc

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/procd/procd/internal/testutil"
)

// The reaper's held children file answers each read afresh, as an open of
// the path does: an orphan appears once reparented and is gone once
// reaped, cycle after cycle (an empty read, a full one, an empty one).
func TestHeldChildrenFileReadsAfresh(t *testing.T) {
	if rt.reaper.kids.fd < 0 {
		t.Fatal("the runtime reads its children by path: the held file is not in use")
	}
	for range 3 {
		out := newBuffer()
		p, exited := start(t, `sleep 300 & echo $!; exit 0`, out, nil)
		waitClosed(t, exited, "leader exit")
		child := testutil.WaitForValue(t, "the orphan's pid", func() int { n, _ := strconv.Atoi(strings.TrimSpace(out.String())); return n }, func(n int) bool { return n > 0 })
		testutil.WaitFor(t, "the orphan in the held file", func() bool { return slices.Contains(rt.reaper.kids.list(), child) })
		if !slices.Contains(childrenOf(os.Getpid(), true), child) {
			t.Fatalf("orphan %d in the held file but not in a fresh open of it", child)
		}
		if err := unix.Kill(child, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, "the orphan gone from the held file", func() bool { return !slices.Contains(rt.reaper.kids.list(), child) })
		if _, err := p.Reap(); err != nil {
			t.Fatal(err)
		}
	}
}
