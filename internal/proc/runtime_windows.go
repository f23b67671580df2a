package proc

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows each process starts in a new process group (so it can be sent
// CTRL_BREAK_EVENT without the daemon receiving it) and is put in a job
// object right after it starts, so that SIGKILL ends its whole tree.
// Processes it starts before the assignment completes are not in the job:
// Go cannot start a process suspended.

func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// contain puts the new process in a job object.
func contain(p *Process) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return
	}
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(p.p.Pid))
	if err != nil {
		windows.CloseHandle(job)
		return
	}
	defer windows.CloseHandle(h)
	if windows.AssignProcessToJobObject(job, h) != nil {
		windows.CloseHandle(job)
		return
	}
	p.job = uintptr(job)
}

// signalGroup: SIGKILL terminates the job (the whole tree); SIGINT and
// SIGTERM send CTRL_BREAK_EVENT to the process group, the nearest thing a
// console program gets to a polite stop. Other signals have no Windows
// equivalent.
func signalGroup(p *Process, sig syscall.Signal) error {
	switch sig {
	case syscall.SIGKILL:
		if p.job != 0 {
			return windows.TerminateJobObject(windows.Handle(p.job), 137)
		}
		return p.Signal(sig)
	case syscall.SIGINT, syscall.SIGTERM:
		return windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(p.p.Pid))
	}
	return errors.New("only SIGKILL, SIGTERM and SIGINT have Windows equivalents")
}

// groupAlive reports whether the job still has active processes.
func groupAlive(p *Process) bool {
	if p == nil || p.job == 0 {
		return false
	}
	var info struct {
		TotalUserTime, TotalKernelTime, ThisPeriodTotalUserTime, ThisPeriodTotalKernelTime int64
		TotalPageFaultCount, TotalProcesses, ActiveProcesses, TotalTerminatedProcesses     uint32
	}
	if windows.QueryInformationJobObject(windows.Handle(p.job), windows.JobObjectBasicAccountingInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)), nil) != nil {
		return false
	}
	return info.ActiveProcesses > 0
}

func exitStatus(st *os.ProcessState) ExitStatus {
	return ExitStatus{Code: st.ExitCode(), Usage: Usage{User: st.UserTime(), System: st.SystemTime()}}
}

// LookPath resolves file with the daemon's own PATH and PATHEXT on Windows.
func LookPath(file, _, _ string) (string, error) { return exec.LookPath(file) }

func releaseJob(p *Process) {
	if p.job != 0 {
		windows.CloseHandle(windows.Handle(p.job))
		p.job = 0
	}
}
