//go:build unix && !linux

package proc

import (
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func signalGroup(p *Process, sig syscall.Signal) error {
	if p.pgid <= 1 || p.pgid == syscall.Getpgrp() {
		return ErrProcessDone
	}
	if err := syscall.Kill(-p.pgid, sig); err != nil {
		if err == syscall.ESRCH {
			return ErrProcessDone
		}
		return err
	}
	return nil
}

func groupAlive(p *Process) bool { return p.pgid > 1 && syscall.Kill(-p.pgid, 0) == nil }

// contain does nothing: the process group is the container on macOS and the BSDs.
func contain(*Process) {}

func exitStatus(st *os.ProcessState) ExitStatus {
	ws, _ := st.Sys().(syscall.WaitStatus)
	es := ExitStatus{Code: st.ExitCode(), Usage: Usage{User: st.UserTime(), System: st.SystemTime()}}
	if ws.Signaled() {
		es.Code, es.Signal, es.CoreDumped = -1, ws.Signal(), ws.CoreDump()
	}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		es.Usage.MaxRSS = ru.Maxrss // bytes on macOS and the BSDs
	}
	return es
}

func releaseJob(*Process) {}
