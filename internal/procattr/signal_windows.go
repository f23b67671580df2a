package procattr

import "syscall"

const maxSignal = 15

var windowsSignals = map[string]syscall.Signal{
	"SIGHUP":  syscall.SIGHUP,
	"SIGINT":  syscall.SIGINT,
	"SIGQUIT": syscall.SIGQUIT,
	"SIGKILL": syscall.SIGKILL,
	"SIGTERM": syscall.SIGTERM,
}

func signalByName(name string) (syscall.Signal, bool) {
	sig, ok := windowsSignals[name]
	return sig, ok
}

func signalName(sig syscall.Signal) string {
	for name, s := range windowsSignals {
		if s == sig {
			return name
		}
	}
	return ""
}
