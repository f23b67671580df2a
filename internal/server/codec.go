package server

import (
	"sync"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	gproto "google.golang.org/protobuf/proto"

	"github.com/procd/procd/internal/events"
	pb "github.com/procd/procd/proto/procd/v1"
)

// codec is gRPC's proto codec, except that an *encoded message goes out as
// the bytes it already holds. WatchEvents uses that to encode each event
// once for all its subscribers instead of once per subscriber.
type codec struct{ encoding.CodecV2 }

func newCodec() codec { return codec{encoding.GetCodecV2(proto.Name)} }

// encoded is a message already in protobuf wire form. The bytes are
// shared and must not be modified.
type encoded struct{ b []byte }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	if e, ok := v.(*encoded); ok {
		return mem.BufferSlice{mem.SliceBuffer(e.b)}, nil
	}
	return c.CodecV2.Marshal(v)
}

// eventCache holds the wire form of recent events by seq. Every
// subscriber asks for the same few events at about the same time, so a
// small direct-mapped table is enough: a miss only costs an encode.
// Subscribers woken together by one event wait for the first one's
// encode instead of each encoding it.
type eventCache struct {
	mu    sync.Mutex
	slots [1024]*cachedEvent
}

type cachedEvent struct {
	seq  uint64
	once sync.Once
	b    []byte
	err  error
}

// get returns e's wire form (a pb.Event).
func (c *eventCache) get(e *events.Event) ([]byte, error) {
	i := e.Seq % uint64(len(c.slots))
	c.mu.Lock()
	ce := c.slots[i]
	if ce == nil || ce.seq != e.Seq {
		ce = &cachedEvent{seq: e.Seq}
		c.slots[i] = ce
	}
	c.mu.Unlock()
	ce.once.Do(func() { ce.b, ce.err = gproto.Marshal(eventToProto(e)) })
	return ce.b, ce.err
}

// Field numbers of WatchEventsResponse.
const (
	fieldEvent  = 1
	fieldEvents = 2
)

// watchResponse builds the wire form of a WatchEventsResponse carrying evs:
// in events for a batch subscription, else in event (one event).
func (c *eventCache) watchResponse(evs []events.Event, batch bool) (*encoded, error) {
	field := protowire.Number(fieldEvent)
	if batch {
		field = fieldEvents
	}
	// The events' wire forms first, to size the message once.
	var parts [eventBatch][]byte
	bs, size := parts[:0], 0
	for i := range evs {
		b, err := c.get(&evs[i])
		if err != nil {
			return nil, err
		}
		bs = append(bs, b)
		size += protowire.SizeTag(field) + protowire.SizeBytes(len(b))
	}
	out := make([]byte, 0, size)
	for _, b := range bs {
		out = protowire.AppendTag(out, field, protowire.BytesType)
		out = protowire.AppendBytes(out, b)
	}
	return &encoded{out}, nil
}

// The hand-built messages must match the generated ones.
var _ = func() struct{} {
	fields := (&pb.WatchEventsResponse{}).ProtoReflect().Descriptor().Fields()
	if fields.ByName("event").Number() != fieldEvent || fields.ByName("events").Number() != fieldEvents {
		panic("server: WatchEventsResponse field numbers changed; update codec.go")
	}
	return struct{}{}
}()
