//go:build linux

package procattr

import (
	"syscall"
	"testing"
)

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want syscall.Signal
		err  bool
	}{
		{"timeout", syscall.SIGTERM, false},
		{"force", syscall.SIGKILL, false},
		{"interrupt", syscall.SIGINT, false},
		{"SIGUSR1", syscall.SIGUSR1, false},
		{"usr1", syscall.SIGUSR1, false},
		{"HUP", syscall.SIGHUP, false},
		{"9", syscall.SIGKILL, false},
		{"SIGRTMIN+2", 36, false},
		{"SIGRTMAX", 64, false},
		{"SIGIOT", syscall.SIGABRT, false},
		{"", 0, true},
		{"0", 0, true},
		{"65", 0, true},
		{"-1", 0, true},
		{"SIGBOGUS", 0, true},
		{"terminate", 0, true},
		{"SIGRTMIN+99", 0, true},
	} {
		got, err := ParseSignal(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v, err %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	for sig, name := range map[syscall.Signal]string{
		syscall.SIGSEGV: "SIGSEGV", syscall.SIGABRT: "SIGABRT", 35: "SIGRTMIN+1", 34: "SIGRTMIN",
	} {
		if got := SignalName(sig); got != name {
			t.Errorf("SignalName(%d) = %q, want %q", sig, got, name)
		}
	}
}

func TestRlimitNames(t *testing.T) {
	for _, name := range []string{"nofile", "RLIMIT_NOFILE", "NoFile"} {
		if res, ok := RlimitByName(name); !ok || RlimitName(res) != "NOFILE" {
			t.Errorf("RlimitByName(%q) = %d, %v; its name %q", name, res, ok, RlimitName(res))
		}
	}
	if _, ok := RlimitByName("RSS"); ok {
		t.Error("RlimitByName(RSS) resolved a resource specs may not limit")
	}
	if got := RlimitName(999); got != "999" {
		t.Errorf("RlimitName(999) = %q, want the number", got)
	}
}
