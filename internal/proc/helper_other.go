//go:build !linux

package proc

import (
	"errors"
	"os"
)

// RunHelper does nothing off Linux.
func RunHelper() {}

// SetExecShim is a no-op off Linux.
func (rt *Runtime) SetExecShim(string) {}

// Guardian is unavailable off Linux.
type Guardian struct{}

// StartGuardian fails off Linux.
func StartGuardian(string, []string, []*os.File) (*Guardian, error) {
	return nil, errors.New("the guardian is Linux-only")
}

// Track does nothing.
func (g *Guardian) Track(int) {}

// Untrack does nothing.
func (g *Guardian) Untrack(int) {}

// Close does nothing.
func (g *Guardian) Close() error { return nil }
