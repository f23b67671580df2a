//go:build linux

package manager

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/procd/procd/internal/errdefs"
)

// linkedScript makes a script that prints its $0 and a symbolic link to
// it, and returns the link and the script's resolved path.
func linkedScript(t *testing.T) (link, resolved string) {
	t.Helper()
	dir := t.TempDir()
	real := filepath.Join(dir, "real.sh")
	if err := os.WriteFile(real, []byte("#!/bin/sh\necho \"$0\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	link = filepath.Join(dir, "link.sh")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	resolved, err := filepath.EvalSymlinks(real)
	if err != nil {
		t.Fatal(err)
	}
	return link, resolved
}

// StartCheck sees the executable after PATH lookup with its links
// resolved, the variables the spec sets and the resolved user; it refuses
// with PERMISSION_DENIED before anything runs; RunResolved runs the path
// it saw.
func TestStartCheck(t *testing.T) {
	link, realResolved := linkedScript(t)
	var seen []StartCheck
	refuse := false
	check := func(r *StartCheck) error {
		seen = append(seen, *r)
		if refuse {
			return errors.New("policy says no")
		}
		return nil
	}
	caller := &Caller{UID: 1000, GID: 1000, Transport: "unix", Role: "control", Desc: "uid 1000"}
	for _, runResolved := range []bool{false, true} {
		seen = nil
		m, _ := newManager(t, Config{StartCheck: check, RunResolved: runResolved})
		info := mustStart(t, m, Spec{Command: []string{link}, Env: map[string]string{"B": "1", "A": "2"}, Caller: caller})
		wait(t, m, info.ID)
		want := link
		if runResolved {
			want = realResolved
		}
		if got := strings.TrimSpace(stdout(t, m, info.ID)); got != want {
			t.Errorf("RunResolved %v: the script ran as %q, want %q", runResolved, got, want)
		}
		if len(seen) != 1 || seen[0].Command0 != link || seen[0].Executable != realResolved || !slices.Equal(seen[0].Env, []string{"A", "B"}) ||
			seen[0].Caller != caller || seen[0].UID != -1 {
			t.Fatalf("StartCheck saw %+v", seen)
		}
		// In-process starts (no caller) are not checked.
		wait(t, m, mustStart(t, m, Spec{Command: []string{"true"}}).ID)
		if len(seen) != 1 {
			t.Fatalf("an in-process start was checked: %+v", seen)
		}
	}
	m, _ := newManager(t, Config{StartCheck: check})
	refuse = true
	seen = nil
	_, err := m.Start(Spec{Command: []string{"true"}, Caller: caller, User: "65534"})
	if !errors.Is(err, errdefs.ErrPermissionDenied) || !strings.Contains(err.Error(), "policy says no") {
		t.Fatalf("refused start: %v", err)
	}
	if os.Geteuid() == 0 && (len(seen) != 1 || seen[0].User != "65534" || seen[0].UID != 65534) {
		t.Fatalf("the check saw the user as %+v", seen)
	}
	if l := m.List(ListFilter{}); len(l) != 0 {
		t.Fatalf("a refused start left records: %+v", l)
	}
}

// A check that does not read the executable (CheckSkipsExecutable, the
// daemon's default policy) costs the start no resolution of symbolic
// links: it sees the absolute path as found, and the link runs. With
// RunResolved the path is resolved all the same, since it is what runs.
func TestStartCheckSkipsExecutable(t *testing.T) {
	link, realResolved := linkedScript(t)
	caller := &Caller{UID: 1000, GID: 1000, Transport: "unix", Role: "control", Desc: "uid 1000"}
	for _, runResolved := range []bool{false, true} {
		var seen []StartCheck
		check := func(r *StartCheck) error { seen = append(seen, *r); return nil }
		m, _ := newManager(t, Config{StartCheck: check, RunResolved: runResolved, CheckSkipsExecutable: true})
		info := mustStart(t, m, Spec{Command: []string{link}, Caller: caller})
		wait(t, m, info.ID)
		want := link
		if runResolved {
			want = realResolved
		}
		if got := strings.TrimSpace(stdout(t, m, info.ID)); got != want {
			t.Errorf("RunResolved %v: the script ran as %q, want %q", runResolved, got, want)
		}
		if len(seen) != 1 || seen[0].Executable != want || seen[0].Command0 != link {
			t.Fatalf("RunResolved %v: StartCheck saw %+v, want the executable %q", runResolved, seen, want)
		}
	}
}
