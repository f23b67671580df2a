// Package integration holds procd's integration tier: its tests build the
// real procd and procctl binaries, run the daemon on a temporary Unix socket
// and drive it through procctl, grpcurl and grpc-health-probe, failing on an
// unclean daemon exit. There is no non-test code here.
package integration
