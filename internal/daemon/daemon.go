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
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/procd/procd/internal/cgroup"
	"github.com/procd/procd/internal/config"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/executor"
	"github.com/procd/procd/internal/faults"
	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/metrics"
	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/server"
	"github.com/procd/procd/internal/version"
	"github.com/procd/procd/internal/watchdog"
)

// Daemon is a configured procd. Use New, then Run once.
type Daemon struct {
	cfg config.Config
	log *zap.Logger

	rt        *proc.Runtime
	cgroups   *cgroup.Subtree
	cgNote    string // why containment is what it is
	guardian  *proc.Guardian
	notify    *watchdog.NotifyListener
	bus       *events.Bus
	mgr       *manager.Manager
	exec      *executor.Executor
	srv       *server.Server
	listeners []net.Listener
	unlock    func()

	killOnce sync.Once
	killNow  chan struct{}

	sd *notifier // the service manager (systemd), if any

	metrics  *http.Server // nil: no --metrics-addr
	metricsL net.Listener
}

// New validates cfg, opens the listeners (refusing to start when another
// daemon serves the socket) and builds the daemon. Nothing runs until Run.
func New(cfg config.Config, log *zap.Logger) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: log, killNow: make(chan struct{}), sd: newNotifier()}
	ok := false
	defer func() {
		if !ok {
			d.closeListeners()
			if d.unlock != nil {
				d.unlock()
			}
		}
	}()
	// Before anything is opened: a release build refuses PROCD_FAULT.
	inj, err := faults.Parse(os.Getenv("PROCD_FAULT"))
	if err != nil {
		return nil, err
	}
	acc, err := access(&cfg, log)
	if err != nil {
		return nil, err
	}
	pol, err := CommandPolicy(&cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Listen != "" {
		// Before any listener exists: a refused start leaves nothing.
		if err := checkTCP(cfg.Listen, &cfg, &acc); err != nil {
			return nil, err
		}
	}
	tlsCfg, err := tlsConfig(&cfg)
	if err != nil {
		return nil, err
	}
	activated, err := activatedListeners()
	if err != nil {
		return nil, err
	}
	if len(activated) > 0 {
		// systemd made the socket (procd.socket): its path, mode and group
		// are the unit's, and --socket is not used. A TCP socket among them
		// obeys the same rule as --listen.
		for _, l := range activated {
			if l.Addr().Network() == "tcp" {
				if err := checkTCP(l.Addr().String(), &cfg, &acc); err != nil {
					closeAll(activated)
					return nil, fmt.Errorf("socket activation: %w", err)
				}
			}
		}
		d.listeners = append(d.listeners, activated...)
		log.Info("using sockets passed by the service manager", zap.Int("count", len(activated)))
	} else if cfg.Socket != "" {
		gid, err := socketGID(&cfg)
		if err != nil {
			return nil, err
		}
		// The default socket's directory is procd's own; another is the
		// user's unless procd creates it.
		dir := socketDir{own: cfg.Socket == config.DefaultSocket(), gid: gid}
		l, unlock, err := listenUnix(cfg.Socket, dir, log)
		if err != nil {
			return nil, err
		}
		d.listeners = append(d.listeners, l)
		d.unlock = unlock
		if err := socketPermissions(&cfg, gid); err != nil {
			return nil, err
		}
	}
	if cfg.Listen != "" {
		l, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
		}
		d.listeners = append(d.listeners, l)
		if tlsCfg == nil {
			log.Warn("serving plaintext gRPC over TCP on loopback (--insecure): bearer tokens travel in clear", zap.String("listen", cfg.Listen))
		}
	}
	rt, err := proc.NewRuntime(log.Named("proc"))
	if err != nil {
		return nil, err
	}
	d.rt = rt
	exe, err := os.Executable()
	if err != nil {
		rt.Close()
		return nil, fmt.Errorf("find procd's executable (for the exec shim and guardian): %w", err)
	}
	rt.SetExecShim(exe)
	if inj != nil {
		log.Warn("fault injection is on: this daemon will kill itself", zap.String("PROCD_FAULT", os.Getenv("PROCD_FAULT")))
		rt.SetFaults(inj)
	}
	if dir := cfg.InstanceStateDir(); dir != "" {
		// Records do not outlive the daemon, and ids restart at p-1: the
		// output logs of an earlier run are orphans.
		logs := filepath.Join(dir, "logs")
		if entries, _ := os.ReadDir(logs); len(entries) > 0 {
			log.Info("removing output logs of an earlier run", zap.String("dir", logs), zap.Int("processes", len(entries)))
		}
		os.RemoveAll(logs)
	}
	if err := d.setupCgroups(); err != nil {
		rt.Close()
		return nil, err
	}
	base := ""
	if d.cgroups != nil {
		base = d.cgroups.Base()
	}
	if runtime.GOOS == "linux" {
		if d.guardian, err = proc.StartGuardian(exe, base); err != nil {
			log.Warn("no guardian: process trees may outlive a crashed procd", zap.Error(err))
		}
	}
	d.bus = events.NewBus(cfg.EventRingSize, nil)
	mcfg := managerConfig(&cfg)
	var met *metrics.Metrics
	var metricsHook func(manager.Reason, time.Duration)
	mcfg.OnKill = func(r manager.Reason, late time.Duration) {
		if metricsHook != nil {
			metricsHook(r, late)
		}
	}
	mcfg.Cgroups = d.cgroups
	mcfg.Faults = inj
	mcfg.StartCheck = startCheck(pol)
	mcfg.RunResolved = pol.RestrictsExecutables()
	if pol.Rules() > 0 {
		log.Info("command policy in force", zap.Int("rules", pol.Rules()), zap.Bool("executables-limited", mcfg.RunResolved))
	}
	if d.cgroups == nil && d.guardian != nil {
		mcfg.Tracker = d.guardian
	}
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
	var controllers map[string]string
	if d.cgroups != nil {
		controllers = d.cgroups.Controllers()
	}
	var unary []grpc.UnaryServerInterceptor
	var streams []grpc.StreamServerInterceptor
	if cfg.MetricsAddr != "" {
		met = metrics.New(metrics.Sources{Manager: d.mgr, Executor: d.exec, Events: d.bus, Notify: notifyStats})
		metricsHook = met.ObserveKill
		unary = append(unary, met.GRPC.UnaryServerInterceptor())
		streams = append(streams, met.GRPC.StreamServerInterceptor())
	}
	d.srv = server.New(server.Options{
		UnaryInterceptors:  unary,
		StreamInterceptors: streams,
		Processes:          d.mgr,
		Batches:            d.exec,
		Events:             d.bus,
		Logger:             log.Named("grpc"),
		MaxRecvSize:        int(cfg.MaxMsgSize),
		Containment:        d.mgr.Containment(),
		Controllers:        controllers,
		CgroupBase:         base,
		NotifyStats:        notifyStats,
		Access:             acc,
		TLS:                tlsCfg,
		MaxStreams:         cfg.MaxStreams,
	})
	if met != nil {
		met.GRPC.InitializeMetrics(d.srv.GRPC)
		l, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			d.mgr.Shutdown(context.Background())
			rt.Close()
			return nil, fmt.Errorf("--metrics-addr: %w", err)
		}
		d.metrics = &http.Server{Handler: met.Handler(), ReadHeaderTimeout: 5 * time.Second}
		d.metricsL = l
	}
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
	if d.metrics != nil {
		go d.metrics.Serve(d.metricsL)
		d.log.Info("serving metrics", zap.String("addr", d.metricsL.Addr().String()))
	}
	if d.cfg.PprofAddr != "" {
		// Block and mutex profiles sample only when asked for; their cost
		// is acceptable on a daemon someone is diagnosing.
		runtime.SetBlockProfileRate(int(10 * time.Microsecond))
		runtime.SetMutexProfileFraction(10)
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		srv := &http.Server{Addr: d.cfg.PprofAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
				d.log.Warn("pprof server failed", zap.Error(err))
			}
		}()
		defer srv.Close()
		d.log.Info("serving pprof", zap.String("addr", d.cfg.PprofAddr))
	}
	d.log.Info("procd started",
		zap.String("version", version.String()),
		zap.Int("pid", os.Getpid()),
		zap.Strings("listen", d.Addrs()),
		zap.String("containment", d.mgr.Containment()),
		zap.String("containment-note", d.cgNote),
		zap.String("notify-socket", d.cfg.NotifyPath()),
	)
	if err := d.sd.send("READY=1\n" + statusLine(d)); err != nil {
		d.log.Warn("cannot tell the service manager procd is ready", zap.Error(err))
	}
	stopPings := make(chan struct{})
	go d.sd.pingWatchdog(stopPings)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		d.log.Error("listener failed; shutting down", zap.Error(serveErr))
	}
	d.sd.send("STOPPING=1\nSTATUS=stopping processes")
	close(stopPings)
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
	if d.metrics != nil {
		d.metrics.Close()
	}
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
	if d.guardian != nil {
		d.guardian.Close() // nothing is left for it to kill
	}
	if d.cgroups != nil {
		// Empty now; the next start recreates them.
		if err := d.cgroups.Remove(); err != nil {
			d.log.Warn("cannot remove procd's cgroup directories", zap.Error(err))
		}
	}
	if d.unlock != nil {
		d.unlock()
	}
	d.log.Info("procd stopped", zap.Duration("took", time.Since(start)))
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		l.Close()
	}
}

func (d *Daemon) closeListeners() {
	for _, l := range d.listeners {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			d.log.Warn("closing listener", zap.String("addr", l.Addr().String()), zap.Error(err))
		}
	}
}

// setupCgroups prepares cgroup containment unless --containment pgroup,
// killing what an earlier procd left in the subtree. With auto, a
// hierarchy procd cannot write makes it fall back to process groups and
// say why; with cgroup, that is an error.
func (d *Daemon) setupCgroups() error {
	if d.cfg.Containment == "pgroup" {
		d.cgNote = "--containment pgroup: trees are held by process group; descendants that call setsid escape stop"
		return nil
	}
	sub, left, err := discoverAndSetup(d.cfg.CgroupDir(), d.log.Named("cgroup"))
	if err != nil {
		if d.cfg.Containment == "cgroup" {
			return fmt.Errorf("--containment cgroup: %w", err)
		}
		d.cgNote = "cgroups unavailable (" + err.Error() + "); trees are held by process group, so descendants that call setsid escape stop and memory/pids/cpu limits are refused"
		d.log.Warn("falling back to process-group containment", zap.Error(err))
		return nil
	}
	d.cgroups = sub
	d.cgNote = fmt.Sprintf("each tree in its own cgroup under %s; limit controllers %v", sub.Base(), sub.Controllers())
	if len(left.Groups) > 0 {
		d.log.Warn("killed leftovers of a previous procd", zap.Int("processes", len(left.Pids)),
			zap.Ints("pids", left.Pids), zap.Strings("cgroups", left.Groups))
	}
	return nil
}

func discoverAndSetup(name string, log *zap.Logger) (*cgroup.Subtree, cgroup.Leftovers, error) {
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, cgroup.Leftovers{}, err
	}
	defer mi.Close()
	self, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, cgroup.Leftovers{}, err
	}
	defer self.Close()
	layout, err := cgroup.Discover(mi, self)
	if err != nil {
		return nil, cgroup.Leftovers{}, err
	}
	return cgroup.Setup(layout, cgroup.Options{Name: name, Logger: log})
}
