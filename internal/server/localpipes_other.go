//go:build !linux

package server

import (
	"context"

	pb "github.com/procd/procd/proto/procd/v1"
)

// takeLocalPipes: the local fast path needs Linux (SO_PEERPIDFD,
// pidfd_getfd); elsewhere sessions stay on the stream.
func takeLocalPipes(context.Context, *pb.LocalPipes) (*localPipes, string) {
	return nil, "local pipes need Linux"
}
