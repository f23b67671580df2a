package server

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/procd/procd/internal/events"
	pb "github.com/procd/procd/proto/procd/v1"
)

// The hand-assembled WatchEvents messages decode to what the generated
// code would have built, in both forms, and a cached slot is not served
// for a different seq.
func TestEncodedWatchResponse(t *testing.T) {
	evs := []events.Event{
		{Seq: 7, Time: time.Unix(100, 5), Type: events.Started, ProcessID: "p-1", PID: 42, Name: "a", Labels: map[string]string{"k": "v"}},
		{Seq: 8, Time: time.Unix(101, 0), Type: events.SignalSent, ProcessID: "p-1", PID: 42, Name: "a", Signal: "SIGTERM", Detail: "stop"},
	}
	var c eventCache
	for _, batch := range []bool{false, true} {
		var want *pb.WatchEventsResponse
		in := evs
		if batch {
			want = &pb.WatchEventsResponse{Events: []*pb.Event{eventToProto(&evs[0]), eventToProto(&evs[1])}}
		} else {
			in = evs[:1]
			want = &pb.WatchEventsResponse{Event: eventToProto(&evs[0])}
		}
		enc, err := c.watchResponse(in, batch)
		if err != nil {
			t.Fatal(err)
		}
		var got pb.WatchEventsResponse
		if err := proto.Unmarshal(enc.b, &got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(&got, want) {
			t.Fatalf("batch=%v: decoded %v; want %v", batch, &got, want)
		}
	}
	other := events.Event{Seq: 7 + uint64(len(c.slots)), Type: events.Started, ProcessID: "p-2"}
	b, err := c.get(&other)
	if err != nil {
		t.Fatal(err)
	}
	var got pb.Event
	if err := proto.Unmarshal(b, &got); err != nil || got.GetProcessId() != "p-2" {
		t.Fatalf("slot reuse served %v (%v)", &got, err)
	}
}
