//go:build linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Issue 13, must-show 4: a socket directory another user made first, or
// one anybody can write, makes procd refuse to start, naming the
// directory, its owner and its mode.
func TestSocketDirectoryRefusals(t *testing.T) {
	base, err := os.MkdirTemp("", "pdsd")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	procd := func(dir string) string {
		t.Helper()
		out, err := exec.Command(filepath.Join(binDir, "procd"), "--socket", filepath.Join(dir, "procd.sock")).CombinedOutput()
		if err == nil {
			t.Fatalf("procd served from %s:\n%s", dir, out)
		}
		return string(out)
	}
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o700)
	os.Chmod(open, 0o777)
	if out := procd(open); !strings.Contains(out, "socket directory "+open) || !strings.Contains(out, "mode 0777") ||
		!strings.Contains(out, "owner uid "+strconv.Itoa(os.Geteuid())) {
		t.Fatalf("0777 directory:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(open, "procd.sock.lock")); err == nil {
		t.Fatal("procd created its lock file before refusing")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a directory owned by another user")
	}
	theirs := filepath.Join(base, "theirs")
	os.Mkdir(theirs, 0o700)
	os.Chown(theirs, 65534, 65534)
	if out := procd(theirs); !strings.Contains(out, "socket directory "+theirs) || !strings.Contains(out, "owned by uid 65534") ||
		!strings.Contains(out, "mode 0700") {
		t.Fatalf("another user's directory:\n%s", out)
	}
}
