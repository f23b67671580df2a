package procattr

// Linux numbers real-time signals 34-64 as user space sees them (glibc and
// musl reserve 32 and 33 for their threading).
const (
	sigRTMin  = 34
	maxSignal = 64
)
