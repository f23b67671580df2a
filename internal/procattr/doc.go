// Package procattr holds the plain values that name a process's
// operating-system attributes: signals (parsed from the API's names and
// numbers, and named back), resource limits (RLIMIT_* by name) and a
// terminal's window size.
//
// Both sides of procd speak these values: the wire layer (internal/server)
// converts requests into them, and the OS layer (internal/proc) applies
// them. Keeping them here, in a leaf with no procd imports but errdefs, lets
// the wire layer be built without the OS layer and the reverse. The package
// is named for what its values describe, not for who shares them; it holds
// no behaviour beyond parsing and naming.
package procattr
