package server

import (
	"net"
	"testing"

	"google.golang.org/grpc/peer"

	pb "github.com/procd/procd/proto/procd/v1"
)

// Plaintext bearer tokens are accepted only from loopback peers, whatever
// the daemon's start-up checks let through.
func TestLoopbackPeer(t *testing.T) {
	for addr, want := range map[net.Addr]bool{
		&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 1}:      true,
		&net.TCPAddr{IP: net.ParseIP("127.9.9.9"), Port: 1}:      true,
		&net.TCPAddr{IP: net.ParseIP("::1"), Port: 1}:            true,
		&net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 1}:       false,
		&net.TCPAddr{IP: net.ParseIP("::ffff:8.8.8.8"), Port: 1}: false,
		&net.UnixAddr{Name: "/x", Net: "unix"}:                   false,
	} {
		if got := loopback(&peer.Peer{Addr: addr}); got != want {
			t.Errorf("loopback(%v) = %v, want %v", addr, got, want)
		}
	}
	if loopback(nil) || loopback(&peer.Peer{}) {
		t.Error("an unknown peer counted as loopback")
	}
}

func TestAuditTarget(t *testing.T) {
	for _, tc := range []struct {
		req  any
		want string
	}{
		{&pb.StartProcessRequest{Spec: &pb.ProcessSpec{Command: []string{"sh", "-c", "echo hi"}}}, `command "sh" "-c" "echo hi"`},
		{&pb.SendSignalRequest{Target: &pb.SendSignalRequest_Id{Id: "p-3"}}, "process p-3"},
		{&pb.StopProcessRequest{Target: &pb.StopProcessRequest_Pid{Pid: 42}}, "pid 42"},
		{&pb.RunBatchRequest{Jobs: make([]*pb.ProcessSpec, 3)}, "batch of 3 jobs"},
		{&pb.AttachRequest{Kind: &pb.AttachRequest_Start{Start: &pb.AttachStart{Target: &pb.AttachStart_Id{Id: "p-9"}}}}, "process p-9"},
		{&pb.GetStatsRequest{}, ""},
		{nil, ""},
	} {
		if got := auditTarget(tc.req); got != tc.want {
			t.Errorf("auditTarget(%T) = %q, want %q", tc.req, got, tc.want)
		}
	}
}
