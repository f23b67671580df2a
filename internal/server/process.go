package server

import (
	"context"
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
	if err != nil {
		s.m.CountStartFailure()
		return nil, err
	}
	spec.Caller = callerOf(ctx)
	info, err := s.m.Start(spec)
	if err != nil {
		return nil, err
	}
	return &pb.StartProcessResponse{Process: processToProto(&info, time.Now())}, nil
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
		return &pb.WaitForProcessResponse{Process: processToProto(&info, time.Now()), TimedOut: info.State != manager.Exited}, nil
	}
	ctx, stop := s.untilShutdown(ctx)
	defer stop()
	info, timedOut, err := s.m.Wait(ctx, refFrom(req), timeout)
	if err != nil {
		return nil, s.interrupted(err)
	}
	return &pb.WaitForProcessResponse{Process: processToProto(&info, time.Now()), TimedOut: timedOut}, nil
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
	infos := s.m.List(manager.ListFilter{States: states, Name: req.GetName(), Labels: req.GetLabels()})
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

// outputChunk is the largest data field ReadOutput sends.
const outputChunk = 128 << 10

// cursor reads one stream from an offset.
type cursor struct {
	s      *output.Stream
	stream pb.Stream
	off    int64
	eof    bool
}

// cursors builds the cursors of a read: one or both streams, from offsets
// or from tail bytes before the end.
func cursors(stdout, stderr *output.Stream, which pb.Stream, outOff, errOff int64, tail *int64) ([]*cursor, error) {
	switch {
	case outOff < 0 && outOff == errOff: // ReadOutput: one offset for both
		return nil, errdefs.Errorf(errdefs.ErrInvalidArgument, "offset %d is negative", outOff)
	case outOff < 0:
		return nil, errdefs.Errorf(errdefs.ErrInvalidArgument, "stdout_offset %d is negative", outOff)
	case errOff < 0:
		return nil, errdefs.Errorf(errdefs.ErrInvalidArgument, "stderr_offset %d is negative", errOff)
	}
	if tail != nil && *tail < 0 {
		return nil, errdefs.Errorf(errdefs.ErrInvalidArgument, "tail_bytes %d is negative", *tail)
	}
	out := &cursor{s: stdout, stream: pb.Stream_STREAM_STDOUT, off: outOff}
	errc := &cursor{s: stderr, stream: pb.Stream_STREAM_STDERR, off: errOff}
	var cs []*cursor
	switch which {
	case pb.Stream_STREAM_UNSPECIFIED:
		cs = []*cursor{out, errc}
	case pb.Stream_STREAM_STDOUT:
		cs = []*cursor{out}
	case pb.Stream_STREAM_STDERR:
		cs = []*cursor{errc}
	default:
		return nil, errdefs.Errorf(errdefs.ErrInvalidArgument, "stream: unknown value %d", which)
	}
	if tail != nil {
		for _, c := range cs {
			total, _, _ := c.s.Info()
			c.off = max(0, total-*tail)
		}
	}
	return cs, nil
}

// streamOutput sends what the cursors can read; with follow it keeps
// going until every stream has ended and done (the final record) is
// closed. A reader that falls behind the ring is told how many bytes it
// lost in skipped_bytes: it never holds the writer back.
func (s *processService) streamOutput(ctx context.Context, cs []*cursor, follow bool, done <-chan struct{},
	send func(*pb.ReadOutputResponse) error) error {
	for {
		progressed := false
		for _, c := range cs {
			if c.eof {
				continue
			}
			// Size the buffer to what is there (a sent message must not
			// change afterwards, so it cannot be reused): an echo line
			// should not cost a 128 KiB allocation.
			total, oldest, _ := c.s.Info()
			size := min(max(total-max(c.off, oldest), 1), outputChunk)
			buf := make([]byte, size)
			n, start, eof := c.s.ReadAt(buf, c.off)
			if eof {
				c.eof = true
				continue
			}
			if n == 0 {
				continue
			}
			msg := &pb.ReadOutputResponse{Stream: c.stream, Offset: start, Data: buf[:n], SkippedBytes: start - c.off}
			if err := send(msg); err != nil {
				return err
			}
			c.off = start + int64(n)
			progressed = true
		}
		if progressed {
			continue
		}
		if !follow {
			return nil
		}
		var waits []<-chan struct{}
		for _, c := range cs {
			if !c.eof {
				waits = append(waits, c.s.Wait(c.off))
			}
		}
		if len(waits) == 0 {
			// Every stream ended and was sent in full; follow still lasts
			// until the process has exited (it may have closed its output
			// and gone on running).
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			case <-s.shutdown:
				return errShuttingDown
			}
		}
		waits = append(waits, nil) // pad: at most two streams
		select {
		case <-waits[0]:
		case <-waits[1]:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.shutdown:
			return errShuttingDown
		}
	}
}

// ReadOutput streams one or both output streams from an offset. Offsets
// older than what is kept are reported as skipped_bytes on the first chunk
// after the gap, never silently.
func (s *processService) ReadOutput(req *pb.ReadOutputRequest, stream pb.ProcessService_ReadOutputServer) error {
	stdout, stderr, done, err := s.m.Output(refFrom(req))
	if err != nil {
		return err
	}
	cs, err := cursors(stdout, stderr, req.GetStream(), req.GetOffset(), req.GetOffset(), req.TailBytes)
	if err != nil {
		return err
	}
	return s.streamOutput(stream.Context(), cs, req.GetFollow(), done, stream.Send)
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
