// Package server exposes procd's core over gRPC: it assembles the gRPC
// server (interceptors, limits, health, reflection), implements the procd.v1
// services by converting between protobuf messages and the core's plain Go
// types, and maps core errors to status codes in one place (errors.go).
//
// It is the only package that imports both the generated API and the core.
package server

import (
	"context"
	"crypto/tls"
	"runtime/debug"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	pb "github.com/procd/procd/proto/procd/v1"
)

// Options configure the gRPC server.
type Options struct {
	Processes   Processes   // the process table (*manager.Manager)
	Batches     Batches     // nil: no batch service figures (*executor.Executor)
	Events      EventSource // the event bus (*events.Bus)
	Logger      *zap.Logger
	MaxRecvSize int    // bytes; default 4 MiB
	Containment string // reported by GetStats: "cgroup" or "pgroup"
	// Controllers and CgroupBase describe cgroup containment for GetStats.
	Controllers map[string]string
	CgroupBase  string
	// NotifyStats reports the notify socket's accepted and rejected
	// datagrams; nil when there is none.
	NotifyStats func() (accepted, rejected int64)
	// Access says who may call what.
	Access Access
	// TLS, when set, is used on TCP listeners.
	TLS *tls.Config
	// MaxStreams caps concurrent calls per connection (default 256).
	MaxStreams uint32
	// Interceptors run first, before logging (gRPC metrics).
	UnaryInterceptors  []grpc.UnaryServerInterceptor
	StreamInterceptors []grpc.StreamServerInterceptor
}

// Server is procd's gRPC server.
type Server struct {
	GRPC   *grpc.Server
	health *health.Server

	shutdownOnce sync.Once
	shutdown     chan struct{} // closed when the daemon starts shutting down
}

// streamWorkers serve streams when free; a stream that finds all busy
// (waits and watches hold theirs) gets a goroutine of its own as before.
const streamWorkers = 32

// New assembles the gRPC server: metrics, logging, panic recovery,
// authorisation and error mapping around every handler (in that order), the
// procd.v1 services, grpc.health.v1 and server reflection.
func New(opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if opts.MaxRecvSize <= 0 {
		opts.MaxRecvSize = 4 << 20
	}
	recoveryOpt := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		method, _ := grpc.Method(ctx)
		log.Error("panic in handler", zap.String("method", method), zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
		return status.Errorf(codes.Internal, "internal error in %s: the daemon recovered from a bug and logged it; the request was not completed", method)
	})
	logOpts := []logging.Option{
		logging.WithLogOnEvents(logging.FinishCall),
		logging.WithLevels(callLevel),
	}
	if opts.MaxStreams == 0 {
		opts.MaxStreams = 256
	}
	creds := &transportCreds{}
	if opts.TLS != nil {
		creds.tls = credentials.NewTLS(opts.TLS)
	}
	auth := newAuthorizer(opts.Access, log.Named("auth"))
	unary := []grpc.UnaryServerInterceptor{
		quietUnary(log, logging.UnaryServerInterceptor(zapLogger(log), logOpts...)),
		recovery.UnaryServerInterceptor(recoveryOpt),
		auth.unary,
		unaryErrors,
	}
	stream := []grpc.StreamServerInterceptor{
		logging.StreamServerInterceptor(zapLogger(log), logOpts...),
		recovery.StreamServerInterceptor(recoveryOpt),
		auth.stream,
		streamErrors,
	}
	unary = append(append([]grpc.UnaryServerInterceptor{}, opts.UnaryInterceptors...), unary...)
	stream = append(append([]grpc.StreamServerInterceptor{}, opts.StreamInterceptors...), stream...)
	g := grpc.NewServer(
		grpc.Creds(creds),
		grpc.MaxConcurrentStreams(opts.MaxStreams),
		grpc.MaxRecvMsgSize(opts.MaxRecvSize),
		// Static flow-control windows: clients are near (a local socket or
		// loopback), and BDP probing pings slow every small attach message.
		grpc.InitialWindowSize(1<<20),
		grpc.InitialConnWindowSize(4<<20),
		grpc.ForceServerCodecV2(newCodec()),
		// Clients may ping every 20 s, between calls too: a fan-out finds a
		// daemon whose node vanished without a word (no RST) by its pings.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 20 * time.Second, PermitWithoutStream: true}),
		// Streams run on long-lived workers whose stacks have grown once,
		// rather than on a new goroutine each (whose stack growth was a
		// tenth of the daemon's CPU in a start+wait loop).
		grpc.NumStreamWorkers(streamWorkers),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
	)
	s := &Server{GRPC: g, health: health.NewServer(), shutdown: make(chan struct{})}
	pb.RegisterProcessServiceServer(g, &processService{
		m:           opts.Processes,
		bus:         opts.Events,
		log:         log,
		started:     time.Now(),
		containment: opts.Containment,
		controllers: opts.Controllers,
		cgroupBase:  opts.CgroupBase,
		x:           opts.Batches,
		notifyStats: opts.NotifyStats,
		shutdown:    s.shutdown,
		encoded:     &eventCache{},
	})
	pb.RegisterBatchServiceServer(g, &batchService{x: opts.Batches, shutdown: s.shutdown})
	healthpb.RegisterHealthServer(g, s.health)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(pb.ProcessService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(pb.BatchService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	reflection.Register(g)
	return s
}

// BeginShutdown reports NOT_SERVING to health checks, ends open streams
// with UNAVAILABLE and makes long waits return. Unary calls in flight finish.
func (s *Server) BeginShutdown() {
	s.shutdownOnce.Do(func() {
		s.health.Shutdown()
		close(s.shutdown)
	})
}
