//go:build !linux

package proc

// Ancestry is unavailable off Linux.
func Ancestry(int) (ppid, pgrp int, ok bool) { return 0, 0, false }

// TreeCPUTicks is unavailable off Linux.
func TreeCPUTicks(int) (int64, bool) { return 0, false }
