//go:build unix

package procattr

import (
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// preferred names where the kernel has aliases for one number.
var preferredName = map[syscall.Signal]string{
	syscall.SIGABRT: "SIGABRT",
	syscall.SIGIO:   "SIGIO",
	syscall.SIGCHLD: "SIGCHLD",
}

func signalByName(name string) (syscall.Signal, bool) {
	if n, ok := parseRealtime(name); ok {
		return n, true
	}
	switch name { // aliases x/sys does not list on every platform
	case "SIGIOT":
		return syscall.SIGABRT, true
	case "SIGCLD":
		return syscall.SIGCHLD, true
	}
	sig := unix.SignalNum(name)
	return sig, sig != 0
}

func signalName(sig syscall.Signal) string {
	if name, ok := preferredName[sig]; ok {
		return name
	}
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	if sigRTMin > 0 && int(sig) >= sigRTMin && int(sig) <= maxSignal {
		if int(sig) == sigRTMin {
			return "SIGRTMIN"
		}
		return "SIGRTMIN+" + strconv.Itoa(int(sig)-sigRTMin)
	}
	return ""
}

// parseRealtime accepts SIGRTMIN, SIGRTMIN+n, SIGRTMAX and SIGRTMAX-n.
func parseRealtime(name string) (syscall.Signal, bool) {
	if sigRTMin == 0 {
		return 0, false
	}
	for _, p := range []struct {
		prefix string
		base   int
		sign   int
	}{{"SIGRTMIN", sigRTMin, 1}, {"SIGRTMAX", maxSignal, -1}} {
		rest, ok := strings.CutPrefix(name, p.prefix)
		if !ok {
			continue
		}
		off := 0
		if rest != "" {
			op := "+"
			if p.sign < 0 {
				op = "-"
			}
			num, ok := strings.CutPrefix(rest, op)
			if !ok {
				return 0, false
			}
			n, err := strconv.Atoi(num)
			if err != nil || n < 0 {
				return 0, false
			}
			off = n * p.sign
		}
		v := p.base + off
		if v < sigRTMin || v > maxSignal {
			return 0, false
		}
		return syscall.Signal(v), true
	}
	return 0, false
}
