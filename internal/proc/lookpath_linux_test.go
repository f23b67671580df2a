package proc

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/procd/procd/internal/errdefs"
)

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := dir + "/tool"
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(dir+"/data", []byte("x"), 0o644)
	if got, err := LookPath("tool", "/nonexistent:"+dir, ""); err != nil || got != exe {
		t.Fatalf("LookPath(tool) = %q, %v", got, err)
	}
	_, err := LookPath("no-such-binary", "/usr/bin:/bin", "")
	if err == nil || !strings.Contains(err.Error(), `"no-such-binary" not found in PATH (/usr/bin:/bin)`) {
		t.Fatalf("err = %v", err)
	}
	if _, err := LookPath(dir+"/data", "", ""); err == nil || !strings.Contains(err.Error(), "not executable") {
		t.Fatalf("non-executable: %v", err)
	}
	if _, err := LookPath(dir, "", ""); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Fatalf("directory: %v", err)
	}
	if got, err := LookPath("./tool", "", dir); err != nil || got != "./tool" {
		t.Fatalf("relative to dir: %q, %v", got, err)
	}
	// As execvp: a PATH entry that is a file (ENOTDIR) is skipped like a
	// missing one, and one that holds the name but cannot run it (a
	// non-executable file, a directory) is reported when nothing later can.
	if got, err := LookPath("tool", dir+"/data:"+dir, ""); err != nil || got != exe {
		t.Fatalf("past a file in PATH: %q, %v", got, err)
	}
	if _, err := LookPath("tool", dir+"/data", ""); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("only a file in PATH: %v, want not found", err)
	}
	os.Mkdir(dir+"/sub", 0o755)
	os.Mkdir(dir+"/sub/tool", 0o755)
	os.WriteFile(dir+"/sub/data", []byte("x"), 0o644)
	if got, err := LookPath("tool", dir+"/sub:"+dir, ""); err != nil || got != exe {
		t.Fatalf("past a directory of the name: %q, %v", got, err)
	}
	if _, err := LookPath("tool", dir+"/sub:/nonexistent", ""); !errors.Is(err, errdefs.ErrPermissionDenied) || !strings.Contains(err.Error(), "directory") {
		t.Fatalf("only a directory of the name: %v, want permission denied", err)
	}
	if _, err := LookPath("data", dir+"/sub", ""); !errors.Is(err, errdefs.ErrPermissionDenied) || !strings.Contains(err.Error(), "not executable") {
		t.Fatalf("only a non-executable file: %v, want permission denied", err)
	}
}

// BenchmarkLookPath resolves true by name in Debian's default PATH, where
// it is in the fourth directory: three misses and a hit, as every start of
// a command by name (procctl batch true, the P5 and P6 rows) pays.
func BenchmarkLookPath(b *testing.B) {
	const path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	if _, err := LookPath("true", path, ""); err != nil {
		b.Skip(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		LookPath("true", path, "")
	}
}
