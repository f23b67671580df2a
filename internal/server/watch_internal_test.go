package server

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/procd/procd/internal/events"
	pb "github.com/procd/procd/proto/procd/v1"
)

// gatedStream is a WatchEvents stream whose first SendMsg blocks until
// released, as Send does on a client that stopped reading. It records
// whether any SendMsg was still running when the handler returned.
type gatedStream struct {
	grpc.ServerStream
	ctx      context.Context
	entered  chan struct{} // closed when the first SendMsg starts
	release  chan struct{}
	sends    atomic.Int32
	inFlight atomic.Int32
	returned atomic.Bool
	late     atomic.Int32 // SendMsg calls running or made after the handler returned
}

func (g *gatedStream) Context() context.Context     { return g.ctx }
func (g *gatedStream) SendHeader(metadata.MD) error { return nil }
func (g *gatedStream) Send(m *pb.WatchEventsResponse) error {
	return g.SendMsg(m)
}

func (g *gatedStream) SendMsg(any) error {
	g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	if g.sends.Add(1) == 1 {
		close(g.entered)
		<-g.release
	}
	if g.returned.Load() {
		g.late.Add(1)
	}
	return nil
}

// Regression test (issue 15): WatchEvents returned on lag while its sender
// goroutine was still blocked in Send. The handler now sends itself, so it
// returns only once the send is over, and then says where to resume.
func TestWatchEventsReturnsOnlyAfterItsSends(t *testing.T) {
	bus := events.NewBus(16, nil)
	defer bus.Close()
	s := &processService{bus: bus, shutdown: make(chan struct{}), encoded: &eventCache{}}
	g := &gatedStream{ctx: context.Background(), entered: make(chan struct{}), release: make(chan struct{})}
	bus.Publish(events.Event{Type: events.Started, ProcessID: "p-1"})

	zero := uint64(0)
	returned := make(chan error, 1)
	go func() {
		err := s.WatchEvents(&pb.WatchEventsRequest{AfterSeq: &zero}, g)
		g.returned.Store(true)
		if g.inFlight.Load() != 0 {
			g.late.Add(1)
		}
		returned <- err
	}()
	select {
	case <-g.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("WatchEvents did not send the first event")
	}
	// The ring (16 events) overtakes the blocked subscriber.
	for range 64 {
		bus.Publish(events.Event{Type: events.Started, ProcessID: "p-2"})
	}
	if bus.Stats().SlowTotal != 1 {
		t.Fatalf("the subscriber was not found lagging: %+v", bus.Stats())
	}
	// The old handler returned here, its sender still blocked in Send. The
	// wait is a negative check: a correct handler cannot return while its
	// only send is blocked, whatever the timing.
	select {
	case err := <-returned:
		t.Fatalf("WatchEvents returned (%v) while a Send was blocked", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(g.release)
	var err error
	select {
	case err = <-returned:
	case <-time.After(20 * time.Second):
		t.Fatal("WatchEvents did not return after its Send completed and the ring overtook it")
	}
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "resume after seq 1 ") {
		t.Fatalf("WatchEvents ended with %v; want RESOURCE_EXHAUSTED resuming after seq 1", err)
	}
	if n := g.late.Load(); n != 0 {
		t.Fatalf("%d SendMsg calls ran after WatchEvents returned", n)
	}
	if st := bus.Stats(); st.Subscribers != 0 {
		t.Fatalf("the subscription outlived the handler: %+v", st)
	}
}
