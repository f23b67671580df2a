//go:build linux

package manager

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/procd/procd/internal/errdefs"
)

// A start that runs out of descriptors at a step before the exec (here its
// log file; the cgroup's descriptor and limit files are the same case) is
// ResourceExhausted with the remedy, not an error without a kind that the
// wire reports as Unknown.
func TestStartOutOfDescriptorsIsResourceExhausted(t *testing.T) {
	m, _ := newManager(t, Config{StateDir: t.TempDir(), LogFiles: true})
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	open, _ := os.ReadDir("/proc/self/fd")
	low := lim
	low.Cur = uint64(len(open) + 64)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var fill []*os.File
	defer func() {
		for _, f := range fill {
			f.Close()
		}
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}()
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatal(err)
			}
			break
		}
		fill = append(fill, f)
	}
	_, err := m.Start(sh("true"))
	if !errors.Is(err, errdefs.ErrResourceExhausted) || !strings.Contains(err.Error(), "RLIMIT_NOFILE") {
		t.Fatalf("a start without descriptors: %v", err)
	}
	if fe := fdError(errors.New("other")); errors.Is(fe, errdefs.ErrResourceExhausted) {
		t.Fatal("an error that is not about descriptors became ResourceExhausted")
	}
	if fe := fdError(&os.PathError{Op: "open", Path: "/x", Err: syscall.ENFILE}); !errors.Is(fe, errdefs.ErrResourceExhausted) || !strings.Contains(fe.Error(), "file-max") {
		t.Fatalf("ENFILE: %v", fe)
	}
}
