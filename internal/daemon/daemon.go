// Package daemon wires procd together: the OS runtime, the event bus, the
// process manager and the gRPC server on their listeners, and runs them
// until shutdown. It owns the shutdown order: stop accepting, stop every
// process (bounded, then SIGKILL), end streams, stop the server, release
// the runtime.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/config"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/executor"
	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/server"
	"github.com/procd/procd/internal/version"
	"github.com/procd/procd/internal/watchdog"
)

// containment is how process trees are held together in this build.
const containment = "pgroup"

// Daemon is a configured procd. Use New, then Run once.
type Daemon struct {
	cfg config.Config
	log *zap.Logger

	rt        *proc.Runtime
	notify    *watchdog.NotifyListener
	bus       *events.Bus
	mgr       *manager.Manager
	exec      *executor.Executor
	srv       *server.Server
	listeners []net.Listener
	unlock    func()

	killOnce sync.Once
	killNow  chan struct{}
}

// New validates cfg, opens the listeners (refusing to start when another
// daemon serves the socket) and builds the daemon. Nothing runs until Run.
func New(cfg config.Config, log *zap.Logger) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: log, killNow: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			d.closeListeners()
			if d.unlock != nil {
				d.unlock()
			}
		}
	}()
	if cfg.Socket != "" {
		l, unlock, err := listenUnix(cfg.Socket)
		if err != nil {
			return nil, err
		}
		d.listeners = append(d.listeners, l)
		d.unlock = unlock
	}
	if cfg.Listen != "" {
		l, err := listenTCP(cfg.Listen, cfg.Insecure)
		if err != nil {
			return nil, err
		}
		d.listeners = append(d.listeners, l)
	}
	rt, err := proc.NewRuntime(log.Named("proc"))
	if err != nil {
		return nil, err
	}
	d.rt = rt
	d.bus = events.NewBus(cfg.EventRingSize, nil)
	mcfg := cfg.Manager()
	d.mgr = manager.New(mcfg, rt, d.bus, log.Named("manager"))
	var notifyStats func() (int64, int64)
	if mcfg.NotifySocket != "" {
		// Created after the manager (its handler) and before any child.
		n, err := watchdog.ListenNotify(mcfg.NotifySocket, d.mgr.HandleNotify)
		if err != nil {
			d.mgr.Shutdown(context.Background())
			rt.Close()
			return nil, err
		}
		d.notify = n
		notifyStats = n.Stats
	}
	d.exec = executor.New(d.mgr, d.bus, cfg.MaxBatchJobs)
	d.srv = server.New(server.Options{
		Manager:     d.mgr,
		Executor:    d.exec,
		Events:      d.bus,
		Logger:      log.Named("grpc"),
		MaxRecvSize: int(cfg.MaxMsgSize),
		Containment: containment,
		NotifyStats: notifyStats,
	})
	ok = true
	return d, nil
}

// Addrs returns the addresses the daemon listens on.
func (d *Daemon) Addrs() []string {
	var out []string
	for _, l := range d.listeners {
		out = append(out, l.Addr().String())
	}
	return out
}

// Run serves until ctx ends, then shuts down in order and returns nil for a
// clean shutdown. KillNow cuts the shutdown's grace periods short.
func (d *Daemon) Run(ctx context.Context) error {
	errc := make(chan error, len(d.listeners))
	for _, l := range d.listeners {
		go func() { errc <- d.srv.GRPC.Serve(l) }()
	}
	d.log.Info("procd started",
		zap.String("version", version.String()),
		zap.Int("pid", os.Getpid()),
		zap.Strings("listen", d.Addrs()),
		zap.String("containment", containment),
		zap.String("notify-socket", d.cfg.NotifyPath()),
		zap.String("containment-note", "no cgroup support yet: trees are held by process group; descendants that call setsid escape stop"),
	)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		d.log.Error("listener failed; shutting down", zap.Error(serveErr))
	}
	d.shutdown()
	if serveErr != nil {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return nil
}

// KillNow makes a shutdown in progress (or the next one) SIGKILL every
// process tree at once instead of waiting for grace periods.
func (d *Daemon) KillNow() {
	d.killOnce.Do(func() {
		close(d.killNow)
		d.mgr.KillAll()
	})
}

func (d *Daemon) shutdown() {
	start := time.Now()
	d.log.Info("shutting down: refusing new connections and stopping processes",
		zap.Duration("timeout", time.Duration(d.cfg.ShutdownTimeout)))
	d.closeListeners()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(d.cfg.ShutdownTimeout))
	go func() {
		select {
		case <-d.killNow:
			cancel()
		case <-ctx.Done():
		}
	}()
	execDone := make(chan struct{})
	go func() {
		d.exec.Close() // no batch starts another job; running ones are stopped
		close(execDone)
	}()
	d.mgr.Shutdown(ctx)
	<-execDone
	cancel()

	d.srv.BeginShutdown()
	done := make(chan struct{})
	go func() {
		d.srv.GRPC.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		d.srv.GRPC.Stop()
		<-done
	}
	if d.notify != nil {
		d.notify.Close()
	}
	d.bus.Close()
	d.rt.Close()
	if d.unlock != nil {
		d.unlock()
	}
	d.log.Info("procd stopped", zap.Duration("took", time.Since(start)))
}

func (d *Daemon) closeListeners() {
	for _, l := range d.listeners {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			d.log.Warn("closing listener", zap.String("addr", l.Addr().String()), zap.Error(err))
		}
	}
}
