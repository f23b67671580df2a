package manager

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseNotify: the sd_notify parser never panics, and every field it
// returns has a valid key and came from one line.
func FuzzParseNotify(f *testing.F) {
	for _, s := range []string{"WATCHDOG=1", "READY=1\nSTATUS=warming up", "=x", "x=1", "STATUS=a=b", "\n\n", "WATCHDOG=trigger\x00", "MAINPID=12\nERRNO=2"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, kv := range ParseNotify(msg) {
			if kv[0] == "" || !validNotifyKey([]byte(kv[0])) || strings.Contains(kv[0]+kv[1], "\n") {
				t.Fatalf("bad field %q from %q", kv, msg)
			}
		}
	})
}

// FuzzSpecValidate: validation and the input limits never panic, and an
// accepted spec has a command.
func FuzzSpecValidate(f *testing.F) {
	f.Add("sh", "-c", "K", "V", "lbl", "x", int64(0))
	f.Add("", "", "A=B", "", "", "", int64(-1))
	f.Add("\x00", "a", "", "\x00", "k\x00", "v", int64(5))
	f.Fuzz(func(t *testing.T, cmd, arg, envK, envV, labelK, labelV string, grace int64) {
		s := Spec{Command: []string{cmd, arg}, Env: map[string]string{envK: envV}, Labels: map[string]string{labelK: labelV}}
		s.Grace = time.Duration(grace)
		l := DefaultInputLimits()
		if s.Validate() == nil && l.check(&s) == nil {
			if s.Command[0] == "" || strings.ContainsRune(cmd, 0) || s.Grace < 0 {
				t.Fatalf("accepted %+v", s)
			}
		}
	})
}
