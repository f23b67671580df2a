package server

import (
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/output"
	"github.com/procd/procd/internal/procattr"
	"github.com/procd/procd/internal/version"
	pb "github.com/procd/procd/proto/procd/v1"
)

type processService struct {
	pb.UnimplementedProcessServiceServer

	m           Processes
	x           Batches // nil: no batch figures
	bus         EventSource
	log         *zap.Logger
	started     time.Time
	containment string
	controllers map[string]string
	cgroupBase  string
	notifyStats func() (accepted, rejected int64)
	shutdown    <-chan struct{}
	encoded     *eventCache // wire form of recent events, shared by subscribers
}

var errShuttingDown = status.Error(codes.Unavailable, "the daemon is shutting down")

func (s *processService) StartProcess(ctx context.Context, req *pb.StartProcessRequest) (*pb.StartProcessResponse, error) {
	spec, err := specFrom(req.GetSpec())
	var timeout time.Duration
	if err == nil && req.GetWait() != nil {
		timeout, err = startWaitTimeout(req.GetWait())
	}
	if err != nil {
		s.m.CountStartFailure()
		return nil, err
	}
	spec.Caller = callerOf(ctx)
	info, err := s.m.Start(spec)
	if err != nil {
		return nil, err
	}
	if req.GetWait() == nil {
		return &pb.StartProcessResponse{Process: processToProto(&info, time.Now())}, nil
	}
	return s.waitStarted(ctx, info, timeout, req.GetWait().GetUntilReady())
}

func (s *processService) WaitForProcess(ctx context.Context, req *pb.WaitForProcessRequest) (*pb.WaitForProcessResponse, error) {
	timeout, err := duration("timeout", req.GetTimeout())
	if err != nil {
		return nil, err
	}
	if req.GetTimeout() != nil && timeout == 0 {
		// A zero timeout polls: the record as it is, timed_out unless final.
		info, err := s.m.Get(refFrom(req))
		if err != nil {
			return nil, err
		}
		done := info.State.Final() || req.GetUntilReady() && !info.Ready.ReadyAt.IsZero()
		return &pb.WaitForProcessResponse{Process: processToProto(&info, time.Now()), TimedOut: !done}, nil
	}
	info, timedOut, err := s.wait(ctx, refFrom(req), timeout, req.GetUntilReady())
	if err != nil {
		return nil, s.interrupted(err)
	}
	return &pb.WaitForProcessResponse{Process: processToProto(&info, time.Now()), TimedOut: timedOut}, nil
}

// wait is the manager's Wait, or WaitReady with untilReady, cut short when
// the daemon begins shutting down (WaitForProcess and StartProcess's wait).
func (s *processService) wait(ctx context.Context, ref manager.Ref, timeout time.Duration, untilReady bool) (manager.Info, bool, error) {
	ctx, stop := s.untilShutdown(ctx)
	defer stop()
	if untilReady {
		return s.m.WaitReady(ctx, ref, timeout)
	}
	return s.m.Wait(ctx, ref, timeout)
}

// untilShutdown returns a context that also ends when the daemon begins
// shutting down, so long waits do not hold the shutdown up. The returned
// function cancels it and waits for the watcher goroutine: a handler that
// defers it returns with no goroutine of its own left running.
func (s *processService) untilShutdown(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-s.shutdown:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		cancel()
		<-watched
	}
}

// interrupted turns a wait cut short by shutdown into UNAVAILABLE.
func (s *processService) interrupted(err error) error {
	select {
	case <-s.shutdown:
		return errShuttingDown
	default:
		return err
	}
}

func (s *processService) GetProcess(_ context.Context, req *pb.GetProcessRequest) (*pb.GetProcessResponse, error) {
	info, err := s.m.Get(refFrom(req))
	if err != nil {
		return nil, err
	}
	return &pb.GetProcessResponse{Process: processToProto(&info, time.Now())}, nil
}

func (s *processService) ListProcesses(_ context.Context, req *pb.ListProcessesRequest) (*pb.ListProcessesResponse, error) {
	states, err := statesFrom(req.GetStates())
	if err != nil {
		return nil, err
	}
	infos := s.m.List(manager.ListFilter{States: states, Name: req.GetName(), Labels: req.GetLabels(), Usage: req.GetUsage()})
	now := time.Now()
	resp := &pb.ListProcessesResponse{Processes: make([]*pb.Process, len(infos))}
	for i := range infos {
		resp.Processes[i] = processToProto(&infos[i], now)
	}
	return resp, nil
}

func (s *processService) SendSignal(_ context.Context, req *pb.SendSignalRequest) (*pb.SendSignalResponse, error) {
	if req.GetSignal() == "" {
		return nil, errdefs.Errorf(errdefs.ErrInvalidArgument, "signal is required (a kind such as timeout, a name such as SIGUSR1, or a number)")
	}
	sig, err := parseSignal("signal", req.GetSignal())
	if err != nil {
		return nil, err
	}
	results, err := s.m.Signal(refFrom(req), selectorFrom(req.GetSelector()), sig, req.GetLeaderOnly())
	if err != nil {
		return nil, err
	}
	resp := &pb.SendSignalResponse{Signal: procattr.SignalName(sig)}
	for _, r := range results {
		resp.Results = append(resp.Results, &pb.SignalResult{Id: r.ID, Pid: int32(r.PID), Delivered: r.Delivered, Error: r.Err})
	}
	return resp, nil
}

func (s *processService) StopProcess(ctx context.Context, req *pb.StopProcessRequest) (*pb.StopProcessResponse, error) {
	var opts manager.StopOptions
	if req.GetGrace() != nil {
		g, err := duration("grace", req.GetGrace())
		if err != nil {
			return nil, err
		}
		opts.Grace = &g
	}
	sig, err := parseSignal("signal", req.GetSignal())
	if err != nil {
		return nil, err
	}
	opts.Signal = sig
	results, err := s.m.Stop(ctx, refFrom(req), selectorFrom(req.GetSelector()), opts)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	resp := &pb.StopProcessResponse{}
	for _, r := range results {
		res := &pb.StopResult{Process: &pb.Process{Id: r.Info.ID}}
		if !r.Unknown {
			res.Process = processToProto(&r.Info, now)
		}
		if r.Err != nil {
			res.Error = r.Err.Error()
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}

func (s *processService) UpdateActivity(_ context.Context, req *pb.UpdateActivityRequest) (*pb.UpdateActivityResponse, error) {
	info, err := s.m.UpdateActivity(refFrom(req))
	if err != nil {
		return nil, err
	}
	return &pb.UpdateActivityResponse{Process: processToProto(&info, time.Now())}, nil
}

func (s *processService) RemoveProcess(_ context.Context, req *pb.RemoveProcessRequest) (*pb.RemoveProcessResponse, error) {
	info, err := s.m.Remove(refFrom(req))
	if err != nil {
		return nil, err
	}
	return &pb.RemoveProcessResponse{Process: processToProto(&info, time.Now())}, nil
}

func (s *processService) CleanupFinished(_ context.Context, req *pb.CleanupFinishedRequest) (*pb.CleanupFinishedResponse, error) {
	ids, err := s.m.CleanupFinished(selectorFrom(req.GetSelector()))
	if err != nil {
		return nil, err
	}
	return &pb.CleanupFinishedResponse{RemovedIds: ids}, nil
}

func (s *processService) GetStats(context.Context, *pb.GetStatsRequest) (*pb.GetStatsResponse, error) {
	ms := s.m.Stats()
	es := s.bus.Stats()
	ws := s.m.WatchdogStats()
	kills := make(map[string]int64, len(ws.KillsByReason))
	for r, n := range ws.KillsByReason {
		kills[r.String()] = n
	}
	var accepted, rejected int64
	if s.notifyStats != nil {
		accepted, rejected = s.notifyStats()
	}
	byReason := make(map[string]int64, len(ms.ExitsByReason))
	for r, n := range ms.ExitsByReason {
		byReason[r.String()] = n
	}
	restarts := make(map[string]int64, len(ms.RestartsByReason))
	for r, n := range ms.RestartsByReason {
		restarts[r.String()] = n
	}
	return &pb.GetStatsResponse{
		Processes: &pb.ProcessStats{
			Running:              ms.Running,
			Stopping:             ms.Stopping,
			Exited:               ms.Exited,
			StartedTotal:         ms.StartedTotal,
			StartFailuresTotal:   ms.StartFailuresTotal,
			ExitsByReason:        byReason,
			LeftoversKilledTotal: ms.LeftoversKilledTotal,
			OrphansReapedTotal:   ms.OrphansReapedTotal,
			Backoff:              ms.Backoff,
			Failed:               ms.Failed,
			RestartsByReason:     restarts,
			CrashLoopsTotal:      ms.CrashLoopsTotal,
		},
		Output: &pb.OutputStats{
			BytesCapturedTotal: ms.BytesCapturedTotal,
			BytesDroppedTotal:  ms.BytesDroppedTotal,
			RingBytes:          int64(ms.RingSize),
		},
		Events: &pb.EventStats{
			LastSeq:              es.LastSeq,
			OldestSeq:            es.OldestSeq,
			RingSize:             int64(es.Size),
			Subscribers:          int64(es.Subscribers),
			SlowSubscribersTotal: es.SlowTotal,
		},
		Watchdog: &pb.WatchdogStats{
			Active:              true,
			Watched:             int64(ws.Watched),
			Slow:                int64(ws.Slow),
			Hung:                int64(ws.Hung),
			KillsByReason:       kills,
			TimerQueue:          int64(ws.Queue),
			NotifyAcceptedTotal: accepted,
			NotifyRejectedTotal: rejected,
			Containment:         s.containment,
			CheckInterval:       durationpb.New(ws.CheckInterval),
			Sampled:             int64(ws.Sampled),
		},
		Batches: s.batchStats(),
		Daemon: &pb.DaemonStats{
			Version:     version.String(),
			Pid:         int32(os.Getpid()),
			Uptime:      durationpb.New(time.Since(s.started)),
			Goroutines:  int64(runtime.NumGoroutine()),
			RssBytes:    ms.DaemonRSS,
			Containment: s.containment,
			Controllers: s.controllers,
			CgroupBase:  s.cgroupBase,
		},
	}, nil
}

// eventBatch bounds how many events one subscriber copies out of the ring
// at a time, and so how many one batch message carries.
const eventBatch = 64

// batchWindow is how long a batch subscription gathers events after its
// previous message before sending the next: under load one message (one
// wakeup, one write, one read on the client) per window instead of one
// per event; after a quiet spell an event still goes out at once.
const batchWindow = 2 * time.Millisecond

// WatchEvents streams events. The handler itself reads the ring and
// sends (no sender goroutine outlives it). A client that stops reading
// blocks Send on flow control; meanwhile the ring may overtake its
// cursor, and the bus marks it lagged without ever waiting for it. Once
// Send returns (the client read its transport's buffer, or went away, or
// the shutdown's Stop closed the connection) the handler sees the lag
// before sending anything more and ends the stream with
// RESOURCE_EXHAUSTED naming the seq to resume after. Each event is
// encoded once for every subscriber (see eventCache).
func (s *processService) WatchEvents(req *pb.WatchEventsRequest, stream pb.ProcessService_WatchEventsServer) error {
	filter, err := filterFrom(req)
	if err != nil {
		return err
	}
	sub, err := s.bus.Subscribe(filter, req.AfterSeq)
	if err != nil {
		return err
	}
	defer sub.Close()
	if req.GetBatch() {
		sub.Coalesce(batchWindow)
	}
	// Headers now tell the client it is subscribed: it may wait for them
	// before causing events it must not miss.
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}

	ctx, stop := s.untilShutdown(stream.Context())
	defer stop()
	lastSent := sub.StartAfter() // the last seq Send accepted
	tooSlow := func() error {
		return status.Errorf(codes.ResourceExhausted,
			"subscriber too slow: the event ring (%d events) overtook it; resume after seq %d (after_seq=%d)", s.bus.Stats().Size, lastSent, lastSent)
	}
	lagged := func() bool {
		select {
		case <-sub.Lagged():
			return true
		default:
			return false
		}
	}
	buf := make([]events.Event, 0, eventBatch)
	for {
		evs, err := sub.Next(ctx, buf[:0])
		if req.GetBatch() && len(evs) > 0 {
			if e := s.sendEvents(stream, evs, true); e != nil {
				return e
			}
			lastSent = evs[len(evs)-1].Seq
		} else {
			for i := range evs {
				if lagged() {
					// The events after lastSent are still in evs, but the
					// ring overtook the cursor meanwhile: the client must
					// resubscribe, and is told where from.
					return tooSlow()
				}
				if e := s.sendEvents(stream, evs[i:i+1], false); e != nil {
					return e
				}
				lastSent = evs[i].Seq
			}
		}
		switch {
		case events.IsLagged(err):
			return tooSlow()
		case err != nil:
			return s.interrupted(err)
		}
	}
}

// sendEvents sends one WatchEvents message with evs, encoded once for
// every subscriber.
func (s *processService) sendEvents(stream pb.ProcessService_WatchEventsServer, evs []events.Event, batch bool) error {
	m, err := s.encoded.watchResponse(evs, batch)
	if err != nil {
		return err
	}
	return stream.SendMsg(m)
}

// outputChunk is the largest data field ReadOutput and Attach send.
const outputChunk = 128 << 10

// chunkReader is what output streaming needs of a manager reader.
type chunkReader interface {
	Next(ctx context.Context, limit int) (output.Chunk, error)
}

// outputOptions converts the offsets and stream of a read, naming the
// request's fields in errors.
func outputOptions(which pb.Stream, outOff, errOff int64, outField, errField string, tail *int64) (manager.OutputOptions, error) {
	o := manager.OutputOptions{StdoutOffset: outOff, StderrOffset: errOff, Tail: tail}
	switch {
	case outOff < 0:
		return o, errdefs.Errorf(errdefs.ErrInvalidArgument, "%s %d is negative", outField, outOff)
	case errOff < 0:
		return o, errdefs.Errorf(errdefs.ErrInvalidArgument, "%s %d is negative", errField, errOff)
	case tail != nil && *tail < 0:
		return o, errdefs.Errorf(errdefs.ErrInvalidArgument, "tail_bytes %d is negative", *tail)
	}
	switch which {
	case pb.Stream_STREAM_UNSPECIFIED:
	case pb.Stream_STREAM_STDOUT:
		o.Stream = manager.Stdout
	case pb.Stream_STREAM_STDERR:
		o.Stream = manager.Stderr
	default:
		return o, errdefs.Errorf(errdefs.ErrInvalidArgument, "stream: unknown value %d", which)
	}
	return o, nil
}

// streamOutput sends what rd reads until it ends (io.EOF), ctx ends or the
// daemon shuts down.
func (s *processService) streamOutput(ctx context.Context, rd chunkReader, send func(*pb.ReadOutputResponse) error) error {
	ctx, cancel := s.untilShutdown(ctx)
	defer cancel()
	for {
		ch, err := rd.Next(ctx, outputChunk)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return s.interrupted(err)
		}
		msg := &pb.ReadOutputResponse{Stream: streamToProto(manager.StreamID(ch.Stream)), Offset: ch.Offset, Data: ch.Data, SkippedBytes: ch.Skipped}
		if err := send(msg); err != nil {
			return err
		}
	}
}

func streamToProto(id manager.StreamID) pb.Stream {
	if id == manager.Stderr {
		return pb.Stream_STREAM_STDERR
	}
	return pb.Stream_STREAM_STDOUT
}

// ReadOutput streams one or both output streams from an offset. It follows
// the record: offsets older than what is kept are reported as skipped_bytes
// on the first chunk after the gap, never silently, and the reader never
// slows the process.
func (s *processService) ReadOutput(req *pb.ReadOutputRequest, stream pb.ProcessService_ReadOutputServer) error {
	o, err := outputOptions(req.GetStream(), req.GetOffset(), req.GetOffset(), "offset", "offset", req.TailBytes)
	if err != nil {
		return err
	}
	o.Follow = req.GetFollow()
	rd, err := s.m.OpenOutput(refFrom(req), o)
	if err != nil {
		return err
	}
	defer rd.Close()
	return s.streamOutput(stream.Context(), rd, stream.Send)
}

func (s *processService) batchStats() *pb.BatchStats {
	if s.x == nil {
		return nil
	}
	st := s.x.Stats()
	return &pb.BatchStats{
		BatchesRunning:     st.BatchesRunning,
		JobsQueued:         st.JobsQueued,
		JobsRunning:        st.JobsRunning,
		JobsSucceededTotal: st.Succeeded,
		JobsFailedTotal:    st.Failed,
		RetriesTotal:       st.Retries,
		MaxRunningJobs:     int64(st.MaxRunning),
	}
}
