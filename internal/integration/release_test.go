//go:build linux

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 13, must-show 6: the procd that `make build` produces carries no
// fault-injection code; the integration tier's own procd (built with
// -tags faults) does, which shows the checks can fail.
func TestReleaseBinaryHasNoFaults(t *testing.T) {
	makeBin, err := exec.LookPath("make")
	if err != nil {
		t.Skip("needs make")
	}
	out := t.TempDir()
	build := exec.Command(makeBin, "-s", "-C", filepath.Join("..", ".."), "build", "BIN="+out)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, b)
	}
	check := func(bin string) (tagged bool, symbols []string, pointName bool) {
		t.Helper()
		info, err := exec.Command("go", "version", "-m", bin).Output()
		if err != nil {
			t.Fatalf("go version -m %s: %v", bin, err)
		}
		for _, line := range strings.Split(string(info), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "-tags=") &&
				strings.Contains(","+strings.TrimPrefix(f[1], "-tags=")+",", ",faults,") {
				tagged = true
			}
		}
		nm, err := exec.Command("go", "tool", "nm", bin).Output()
		if err != nil {
			t.Fatalf("go tool nm %s: %v", bin, err)
		}
		for _, line := range strings.Split(string(nm), "\n") {
			if strings.Contains(line, "procd/internal/faults.") {
				symbols = append(symbols, strings.TrimSpace(line))
			}
		}
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		return tagged, symbols, bytes.Contains(b, []byte("after-clone"))
	}
	if tagged, syms, names := check(filepath.Join(out, "procd")); tagged || len(syms) > 0 || names {
		t.Fatalf("make build's procd has fault injection: -tags=faults %v, symbols %v, point names in the binary %v", tagged, syms, names)
	}
	if tagged, syms, names := check(filepath.Join(binDir, "procd")); !tagged || len(syms) == 0 || !names {
		t.Fatalf("the test build's procd should have fault injection (the check would be blind): -tags=faults %v, symbols %v, point names %v", tagged, syms, names)
	}
	// And a release procd refuses PROCD_FAULT instead of ignoring it.
	cmd := exec.Command(filepath.Join(out, "procd"), "--socket", filepath.Join(out, "s.sock"))
	cmd.Env = append(os.Environ(), "PROCD_FAULT=after-clone:1")
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "built without fault injection") {
		t.Fatalf("release procd with PROCD_FAULT: %v\n%s", err, b)
	}
}
