package procattr

import (
	"strconv"
	"strings"
	"syscall"

	"github.com/procd/procd/internal/errdefs"
)

// The signal kinds of the original process manager's API.
const (
	KindTimeout   = "timeout"   // SIGTERM: ask to exit
	KindForce     = "force"     // SIGKILL: end now
	KindInterrupt = "interrupt" // SIGINT: user interruption
)

// ParseSignal resolves a signal given as a kind ("timeout", "force",
// "interrupt"), a name with or without the SIG prefix in any case ("SIGUSR1",
// "hup"), or a number ("9"). Unknown names are an error, never a silent
// SIGTERM (a trap supervisord fell into).
func ParseSignal(s string) (syscall.Signal, error) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "":
		return 0, errdefs.Errorf(errdefs.ErrInvalidArgument, "empty signal name")
	case KindTimeout:
		return syscall.SIGTERM, nil
	case KindForce:
		return syscall.SIGKILL, nil
	case KindInterrupt:
		return syscall.SIGINT, nil
	}
	if n, err := strconv.Atoi(t); err == nil {
		if n <= 0 || n > maxSignal {
			return 0, errdefs.Errorf(errdefs.ErrInvalidArgument, "signal number %d out of range 1-%d", n, maxSignal)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(t)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig, ok := signalByName(name); ok {
		return sig, nil
	}
	return 0, errdefs.Errorf(errdefs.ErrInvalidArgument, "unknown signal %q (use a name such as SIGTERM or HUP, a number, or one of timeout, force, interrupt)", s)
}

// SignalName returns the conventional name of sig ("SIGSEGV"), or
// "signal N" for a number without one.
func SignalName(sig syscall.Signal) string {
	if name := signalName(sig); name != "" {
		return name
	}
	return "signal " + strconv.Itoa(int(sig))
}
