//go:build !linux

package procattr

// rlimitNames is empty off Linux: the exec shim that applies rlimits is
// Linux-only, so no resource may be limited.
var rlimitNames = map[string]int{}
