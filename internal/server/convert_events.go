package server

import (
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/manager"
	pb "github.com/procd/procd/proto/procd/v1"
)

func eventToProto(e *events.Event) *pb.Event {
	ev := &pb.Event{
		Seq:       e.Seq,
		Time:      timestamppb.New(e.Time),
		Type:      eventTypes.proto(e.Type),
		ProcessId: e.ProcessID,
		Pid:       int32(e.PID),
		Name:      e.Name,
		Labels:    e.Labels,
		Signal:    e.Signal,
		Detail:    e.Detail,
	}
	if e.Idle > 0 {
		ev.Idle = durationpb.New(e.Idle)
	}
	ev.Stream = streams.proto(e.Stream)
	ev.BatchId = e.BatchID
	if e.Type == events.JobFinished {
		ev.JobIndex = uint32(e.JobIndex)
	}
	if e.Type == events.Restarting {
		ev.Delay = durationpb.New(e.Delay)
	}
	ev.Attempt = int32(e.Attempt)
	if info, ok := e.Data.(manager.Info); ok && info.Exit != nil {
		ev.Exit = exitToProto(info.Exit)
	}
	return ev
}

func filterFrom(req *pb.WatchEventsRequest) (events.Filter, error) {
	f := events.Filter{ProcessIDs: req.GetProcessIds(), Names: req.GetNames(), Labels: req.GetLabels()}
	for _, t := range req.GetTypes() {
		et, ok := eventTypes.core(t)
		if !ok {
			return f, errdefs.Errorf(errdefs.ErrInvalidArgument, "types: unknown event type %d", t)
		}
		f.Types = append(f.Types, et)
	}
	return f, nil
}

func statesFrom(states []pb.ProcessState) ([]manager.State, error) {
	var out []manager.State
	for _, s := range states {
		st, ok := processStates.core(s)
		if !ok {
			return nil, errdefs.Errorf(errdefs.ErrInvalidArgument, "states: unknown process state %d", s)
		}
		out = append(out, st)
	}
	return out, nil
}
