package server

import (
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/manager"
	pb "github.com/procd/procd/proto/procd/v1"
)

// readinessFrom converts a spec's readiness probe and start-up timeout;
// the manager validates what they say.
func readinessFrom(s *pb.ProcessSpec) (manager.Readiness, error) {
	var r manager.Readiness
	p := s.GetReady()
	if p == nil {
		if s.GetStartupTimeout() != nil {
			return r, errdefs.Errorf(errdefs.ErrInvalidArgument, "spec.startup_timeout needs spec.ready (a readiness probe to wait for)")
		}
		return r, nil
	}
	kinds := 0
	set := func(k manager.ReadyKind, given bool) {
		if given {
			r.Kind = k
			kinds++
		}
	}
	set(manager.ReadyNotify, p.GetNotify())
	set(manager.ReadyTCP, p.GetTcp() != "")
	set(manager.ReadyHTTP, p.GetHttp() != "")
	set(manager.ReadyExec, len(p.GetExec()) > 0)
	set(manager.ReadyLog, p.GetLog() != "")
	if kinds != 1 {
		return r, errdefs.Errorf(errdefs.ErrInvalidArgument, "spec.ready: set exactly one of notify, tcp, http, exec and log (%d are set)", kinds)
	}
	r.Addr, r.URL, r.Command, r.Pattern = p.GetTcp(), p.GetHttp(), p.GetExec(), p.GetLog()
	var err error
	if r.Interval, err = duration("spec.ready.interval", p.GetInterval()); err != nil {
		return r, err
	}
	if r.AttemptTimeout, err = duration("spec.ready.attempt_timeout", p.GetAttemptTimeout()); err != nil {
		return r, err
	}
	if r.StartupTimeout, err = optDuration("spec.startup_timeout", s.GetStartupTimeout()); err != nil {
		return r, err
	}
	return r, nil
}

// readyToProto sets a record's readiness fields.
func readyToProto(p *pb.Process, ri *manager.ReadyInfo) {
	p.ReadyAt = timestamp(ri.ReadyAt)
	p.ReadyAttempts = int32(ri.Attempts)
	p.ReadyError = ri.LastError
	rd := &ri.Readiness
	if rd.Kind == manager.ReadyAtStart {
		return
	}
	p.Ready = &pb.ReadinessProbe{
		Notify:         rd.Kind == manager.ReadyNotify,
		Tcp:            rd.Addr,
		Http:           rd.URL,
		Exec:           rd.Command,
		Log:            rd.Pattern,
		Interval:       durationpb.New(rd.Interval),
		AttemptTimeout: durationpb.New(rd.AttemptTimeout),
	}
	if rd.StartupTimeout != nil {
		p.StartupTimeout = durationpb.New(*rd.StartupTimeout)
	}
}
