package proc

import (
	"os"
	"os/exec"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// signalGroup: Windows has no signals to groups; SIGKILL terminates the
// leader, anything else is reported as unsupported.
func signalGroup(p *Process, sig syscall.Signal) error {
	if sig == syscall.SIGKILL {
		return p.Signal(sig)
	}
	return syscall.EWINDOWS
}

func groupAlive(int) bool { return false }

func exitStatus(st *os.ProcessState) ExitStatus {
	return ExitStatus{Code: st.ExitCode(), Usage: Usage{User: st.UserTime(), System: st.SystemTime()}}
}

// LookPath resolves file with the daemon's own PATH and PATHEXT on Windows.
func LookPath(file, _, _ string) (string, error) { return exec.LookPath(file) }
