//go:build unix

package cli

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	pb "github.com/procd/procd/proto/procd/v1"
)

// rawTerminal puts procctl's terminal in raw mode for a process on a
// terminal (keys go through as typed, Ctrl-C included) and forwards window
// size changes. It returns the function that restores the terminal.
func (a *app) rawTerminal(tty bool, s *sender) func() {
	in, ok := a.stdin.(*os.File)
	if !tty || !ok || !term.IsTerminal(int(in.Fd())) {
		return func() {}
	}
	old, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return func() {}
	}
	sendSize := func() {
		if w, h, err := term.GetSize(int(in.Fd())); err == nil {
			s.send(&pb.AttachRequest{Kind: &pb.AttachRequest_Resize{Resize: &pb.WindowSize{Rows: uint32(h), Cols: uint32(w)}}})
		}
	}
	sendSize()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	go func() {
		for range winch {
			sendSize()
		}
	}()
	return func() {
		signal.Stop(winch)
		close(winch)
		term.Restore(int(in.Fd()), old)
	}
}
