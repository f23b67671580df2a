//go:build unix && !linux

package proc

const (
	sigRTMin  = 0 // no real-time signals
	maxSignal = 31
)
