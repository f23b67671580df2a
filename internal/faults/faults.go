// Package faults injects crashes at named points for the fault-injection
// tests: a daemon started with PROCD_FAULT=point:N kills itself with
// SIGKILL the Nth time it reaches that point (PROCD_FAULT=slow-log-write:N
// instead makes log files take N ms per 64 KiB). An Injector is created by the
// daemon and handed to the packages that have points; a nil *Injector (the
// normal case) does nothing.
//
// The injector exists only in binaries built with the build tag "faults"
// (the integration tier builds its procd so). Without the tag (make build,
// make run, any release) Point compiles to nothing and Parse refuses a set
// PROCD_FAULT, so a release binary carries no code that kills the daemon on
// request.
package faults

// Points where a crash can be injected, and SlowLogWrite, which slows
// rather than crashes: "slow-log-write:N" makes output log files take N ms
// for every 64 KiB they write, a disk that cannot keep up.
const (
	SlowLogWrite = "slow-log-write"

	AfterClone = "after-clone" // a child exists but is not yet watched or registered
	Escalating = "escalating"  // a stop signal was sent; SIGKILL is not yet sent
	Settling   = "settling"    // a leader exited; it is not yet reaped
)
