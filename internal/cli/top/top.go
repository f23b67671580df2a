// Package top is procctl top: a live table of procd's processes (state,
// CPU, memory, watchdog idle time and slow/hung marks, restarts, output
// rate), refreshed by ListProcesses and GetStats on an interval and at
// once when WatchEvents reports a change, so a process shows up as soon as
// it starts without polling each one.
//
// On a terminal it is an interactive view (bubbletea): it sorts, filters by
// label, state or name, and stops or kills the selected process after a
// confirmation. Anywhere else it prints a plain table per refresh. It talks
// to procd through the generated stubs only (Service), so it works over TCP
// as over the Unix socket; it owns no connection and no exit codes (cli
// does).
package top

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"

	pb "github.com/procd/procd/proto/procd/v1"
)

// Service is what top calls on procd; pb.ProcessServiceClient has it.
type Service interface {
	ListProcesses(ctx context.Context, in *pb.ListProcessesRequest, opts ...grpc.CallOption) (*pb.ListProcessesResponse, error)
	GetStats(ctx context.Context, in *pb.GetStatsRequest, opts ...grpc.CallOption) (*pb.GetStatsResponse, error)
	WatchEvents(ctx context.Context, in *pb.WatchEventsRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[pb.WatchEventsResponse], error)
	StopProcess(ctx context.Context, in *pb.StopProcessRequest, opts ...grpc.CallOption) (*pb.StopProcessResponse, error)
	SendSignal(ctx context.Context, in *pb.SendSignalRequest, opts ...grpc.CallOption) (*pb.SendSignalResponse, error)
}

// Options configure a view.
type Options struct {
	// Where names the daemon in the title (a socket path or host:port).
	Where string
	// Interval between refreshes; events refresh sooner. Default 1s.
	Interval time.Duration
	// Iterations stops after this many refreshes (0: until quit).
	Iterations int
	// Filter is the initial filter, in the syntax of the '/' prompt.
	Filter string
	// Sort is the initial sort column (see Columns); Reverse flips it.
	Sort    string
	Reverse bool
	// All lists finished processes too.
	All bool
	// CallTimeout bounds each call (0: 10s for reads; stops are unbounded
	// as they wait for the tree to end).
	CallTimeout time.Duration
	// Explain turns a call error into the message shown (nil: as is).
	Explain func(error) error
}

// optionError is a mistake in Options (a caller's usage error).
type optionError struct{ error }

// IsOptionError reports whether err says that the Options were wrong
// rather than that procd failed.
func IsOptionError(err error) bool {
	var oe optionError
	return errors.As(err, &oe)
}

func (o *Options) defaults() error {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Iterations < 0 {
		return optionError{fmt.Errorf("iterations %d: must not be negative", o.Iterations)}
	}
	if o.Explain == nil {
		o.Explain = func(err error) error { return err }
	}
	if o.Sort == "" {
		o.Sort = "id"
	}
	if _, ok := columnByKey(o.Sort); !ok {
		return optionError{fmt.Errorf("sort column %q: unknown (one of %s)", o.Sort, sortKeys())}
	}
	if _, err := parseFilter(o.Filter); err != nil {
		return optionError{err}
	}
	return nil
}

// snapshot is one refresh: the table and the daemon's counters.
type snapshot struct {
	at    time.Time
	procs []*pb.Process
	stats *pb.GetStatsResponse
}

// fetch reads the table (with each live tree's usage) and the counters.
// Finished records are left out unless asked for: a campaign leaves
// thousands, and a live view is about what runs.
func fetch(ctx context.Context, svc Service, o *Options, finished bool) (snapshot, error) {
	timeout := o.CallTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := &pb.ListProcessesRequest{Usage: true}
	if !finished {
		req.States = liveStates
	}
	list, err := svc.ListProcesses(ctx, req)
	if err != nil {
		return snapshot{}, o.Explain(err)
	}
	stats, err := svc.GetStats(ctx, &pb.GetStatsRequest{})
	if err != nil {
		return snapshot{}, o.Explain(err)
	}
	return snapshot{at: time.Now(), procs: list.GetProcesses(), stats: stats}, nil
}

// watchedEvents are the events after which the table is worth reading
// again at once rather than at the next tick.
var watchedEvents = []pb.EventType{
	pb.EventType_EVENT_TYPE_STARTED, pb.EventType_EVENT_TYPE_EXITED, pb.EventType_EVENT_TYPE_SLOW,
	pb.EventType_EVENT_TYPE_HUNG, pb.EventType_EVENT_TYPE_RECOVERED, pb.EventType_EVENT_TYPE_REMOVED,
	pb.EventType_EVENT_TYPE_ESCALATED, pb.EventType_EVENT_TYPE_DEADLINE, pb.EventType_EVENT_TYPE_OOM_KILLED,
	pb.EventType_EVENT_TYPE_READY, pb.EventType_EVENT_TYPE_RESTARTING,
}

// watch delivers batches of events to send until ctx ends. When the stream
// fails (the daemon restarted, or refuses) it says so once and subscribes
// again after wait: the periodic refresh goes on meanwhile.
func watch(ctx context.Context, svc Service, wait time.Duration, send func([]*pb.Event, error)) {
	for ctx.Err() == nil {
		stream, err := svc.WatchEvents(ctx, &pb.WatchEventsRequest{Types: watchedEvents, Batch: true})
		for err == nil {
			var msg *pb.WatchEventsResponse
			if msg, err = stream.Recv(); err == nil {
				send(append(msg.GetEvents(), nonNil(msg.GetEvent())...), nil)
			}
		}
		if ctx.Err() != nil {
			return
		}
		send(nil, err)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

func nonNil(e *pb.Event) []*pb.Event {
	if e == nil {
		return nil
	}
	return []*pb.Event{e}
}
