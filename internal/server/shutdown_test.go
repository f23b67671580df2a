package server_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/testutil"
	pb "github.com/procd/procd/proto/procd/v1"
)

const serviceName = "procd.v1.ProcessService"

func checkHealth(t *testing.T, h *harness, service string) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	resp, err := healthpb.NewHealthClient(h.conn).Check(testutil.Context(t), &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatalf("health check %q: %v", service, err)
	}
	return resp.GetStatus()
}

// BeginShutdown ends open streams with UNAVAILABLE, makes long waits
// return, and turns health checks to NOT_SERVING.
func TestBeginShutdownEndsStreamsAndHealth(t *testing.T) {
	h := newHarness(t, manager.Config{}, nil, false)
	p := h.sh(t, "echo ready; exec sleep 300")
	out, err := h.c.ReadOutput(testutil.Context(t), &pb.ReadOutputRequest{Target: &pb.ReadOutputRequest_Id{Id: p.GetId()}, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	// The first chunk proves the handler is following.
	if msg, err := out.Recv(); err != nil || string(msg.GetData()) != "ready\n" {
		t.Fatalf("first output chunk %v %v", msg, err)
	}
	// A watch stream with events still flowing after the shutdown began.
	zero := uint64(0)
	watch, err := h.c.WatchEvents(testutil.Context(t), &pb.WatchEventsRequest{AfterSeq: &zero})
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := watch.Recv(); err != nil || msg.GetEvent().GetProcessId() != p.GetId() {
		t.Fatalf("first event %v %v", msg, err)
	}
	waitErr := make(chan error, 1)
	go func() {
		_, err := h.c.WaitForProcess(testutil.Context(t), &pb.WaitForProcessRequest{Target: &pb.WaitForProcessRequest_Id{Id: p.GetId()}})
		waitErr <- err
	}()

	h.srv.BeginShutdown()
	_, err = out.Recv()
	wantStatus(t, "follow stream after BeginShutdown", err, codes.Unavailable, "shutting down")
	// An event published now reaches the handler, which must end the stream
	// rather than deliver events past the shutdown forever.
	h.start(t, &pb.ProcessSpec{Command: []string{"true"}})
	for {
		_, err = watch.Recv()
		if err != nil {
			break
		}
	}
	wantStatus(t, "watch stream after BeginShutdown", err, codes.Unavailable, "shutting down")
	wantStatus(t, "wait started around BeginShutdown", <-waitErr, codes.Unavailable, "shutting down")
	_, err = h.c.WaitForProcess(testutil.Context(t), &pb.WaitForProcessRequest{Target: &pb.WaitForProcessRequest_Id{Id: p.GetId()}})
	wantStatus(t, "wait after BeginShutdown", err, codes.Unavailable, "shutting down")
	for _, svc := range []string{"", serviceName} {
		if st := checkHealth(t, h, svc); st != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("health of %q after BeginShutdown: %v", svc, st)
		}
	}
	// Unary calls still answer.
	if st := h.stats(t); st.GetProcesses().GetStartedTotal() != 2 {
		t.Fatalf("stats after BeginShutdown: %v", st.GetProcesses())
	}
}

// Regression: a WatchEvents stream with no new events did not end on
// BeginShutdown, because the handler waits in Subscription.Next, which only
// watches the stream's context, never the shutdown channel. The daemon's
// GracefulStop then hung until its 2 s fallback to Stop.
func TestBeginShutdownEndsIdleWatchEvents(t *testing.T) {
	h := newHarness(t, manager.Config{}, nil, false)
	p := h.start(t, &pb.ProcessSpec{Command: []string{"sleep", "300"}})
	zero := uint64(0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	watch, err := h.c.WatchEvents(ctx, &pb.WatchEventsRequest{AfterSeq: &zero})
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := watch.Recv(); err != nil || msg.GetEvent().GetProcessId() != p.GetId() {
		t.Fatalf("first event %v %v", msg, err)
	}
	h.srv.BeginShutdown()
	_, err = watch.Recv()
	wantStatus(t, "idle watch stream after BeginShutdown (deadline exceeded: it never ended)", err, codes.Unavailable, "shutting down")
}

func TestHealthAndReflection(t *testing.T) {
	h := newHarness(t, manager.Config{}, nil, false)
	for _, svc := range []string{"", serviceName} {
		if st := checkHealth(t, h, svc); st != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health of %q: %v", svc, st)
		}
	}
	_, err := healthpb.NewHealthClient(h.conn).Check(testutil.Context(t), &healthpb.HealthCheckRequest{Service: "no.such.Service"})
	wantStatus(t, "health of an unknown service", err, codes.NotFound)

	rc, err := reflectionpb.NewServerReflectionClient(h.conn).ServerReflectionInfo(testutil.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := rc.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{serviceName, "grpc.health.v1.Health"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v; %s missing", names, want)
		}
	}
	// grpcurl also needs the descriptors: the service resolves to its file.
	if err := rc.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: serviceName}}); err != nil {
		t.Fatal(err)
	}
	if resp, err = rc.Recv(); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, b := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
		var fd descriptorpb.FileDescriptorProto
		if err := proto.Unmarshal(b, &fd); err != nil {
			t.Fatal(err)
		}
		for _, s := range fd.GetService() {
			if fd.GetPackage()+"."+s.GetName() == serviceName && len(s.GetMethod()) >= 12 {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("reflection has no descriptor for %s: %v", serviceName, resp)
	}
	if err := rc.CloseSend(); err != nil {
		t.Fatal(err)
	}
}
