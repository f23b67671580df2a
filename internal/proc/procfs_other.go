//go:build !linux

package proc

import "time"

// Ancestry is unavailable off Linux.
func Ancestry(int) (ppid, pgrp int, ok bool) { return 0, 0, false }

// Age is unavailable off Linux.
func Age(int) (time.Duration, bool) { return 0, false }

// TreeCPUTicks is unavailable off Linux.
func TreeCPUTicks(int) (int64, bool) { return 0, false }

// SelfRSS is unknown off Linux.
func SelfRSS() int64 { return 0 }
