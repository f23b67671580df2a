// Package integration holds procd's integration tier: its tests build the
// real procd and procctl binaries, run the daemon on a temporary Unix socket
// and drive it through procctl, grpcurl and grpc-health-probe, failing on an
// unclean daemon exit. procd is built with the race detector: a data race
// it reports fails the test, and the bounds on the daemon's time and
// memory widen by the detector's factors (testutil.Build). PROCD_IT_RACE=all
// race-builds procctl and procd-bench too; PROCD_IT_RACE=0 builds
// nothing with it. There is no non-test code here.
package integration
