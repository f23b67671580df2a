//go:build unix && !linux

package procattr

const (
	sigRTMin  = 0 // no real-time signals
	maxSignal = 31
)
