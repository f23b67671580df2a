//go:build linux

package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"
)

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestSocketDirCreatedAndTightened(t *testing.T) {
	base := t.TempDir()
	log := zaptest.NewLogger(t)
	dir := filepath.Join(base, "a", "procd")
	if err := (socketDir{path: dir, gid: -1}).prepare(log); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Fatalf("created with mode %o, want 0700", m)
	}
	// procd's own directory, found 0755: tightened.
	os.Chmod(dir, 0o755)
	if err := (socketDir{path: dir, own: true, gid: -1}).prepare(log); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Fatalf("own directory left at %o, want 0700", m)
	}
	// With a socket group: 0750 and that group.
	if err := (socketDir{path: dir, own: true, gid: os.Getgid()}).prepare(log); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o750 {
		t.Fatalf("own directory with a group: %o, want 0750", m)
	}
	// The user's directory is checked, never changed.
	user := filepath.Join(base, "mine")
	os.Mkdir(user, 0o755)
	if err := (socketDir{path: user, gid: -1}).prepare(log); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, user); m != 0o755 {
		t.Fatalf("the user's directory was changed to %o", m)
	}
}

func TestSocketDirRefusals(t *testing.T) {
	base := t.TempDir()
	log := zaptest.NewLogger(t)
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o700)
	os.Chmod(open, 0o777)
	err := (socketDir{path: open, own: true, gid: -1}).prepare(log)
	if err == nil || !strings.Contains(err.Error(), open) || !strings.Contains(err.Error(), "mode 0777") || !strings.Contains(err.Error(), "uid ") {
		t.Fatalf("0777 directory: %v", err)
	}
	// Sticky shared directories above are fine; one writable by others
	// without the sticky bit is not.
	shared := filepath.Join(base, "shared")
	os.Mkdir(shared, 0o700)
	os.Chmod(shared, 0o777|os.ModeSticky)
	if err := (socketDir{path: filepath.Join(shared, "procd"), gid: -1}).prepare(log); err != nil {
		t.Fatalf("under a sticky directory: %v", err)
	}
	os.Chmod(shared, 0o777)
	os.Chmod(filepath.Join(shared, "procd"), 0o700)
	err = (socketDir{path: filepath.Join(shared, "procd"), gid: -1}).prepare(log)
	if err == nil || !strings.Contains(err.Error(), "the directory above it, "+shared) || !strings.Contains(err.Error(), "mode 0777") {
		t.Fatalf("under a world-writable directory: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a directory owned by another user")
	}
	other := filepath.Join(base, "other")
	os.Mkdir(other, 0o700)
	os.Chown(other, 65534, 65534)
	err = (socketDir{path: other, own: true, gid: -1}).prepare(log)
	if err == nil || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), "owned by uid 65534") || !strings.Contains(err.Error(), "mode 0700") {
		t.Fatalf("another user's directory: %v", err)
	}
	// Not procd's own, but root's: accepted (root is trusted), only when
	// procd is root here, so the same check refuses a third user's.
	os.Chown(other, 0, 0)
	if err := (socketDir{path: other, gid: -1}).prepare(log); err != nil {
		t.Fatalf("root's directory: %v", err)
	}
}
