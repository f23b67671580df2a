package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/procd/procd/internal/config"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/executor"
	"github.com/procd/procd/internal/faults"
	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/metrics"
	"github.com/procd/procd/internal/policy"
	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/server"
	"github.com/procd/procd/internal/watchdog"
)

// New validates cfg, opens the listeners (refusing to start when another
// daemon serves the socket) and builds the daemon; nothing serves until
// Run. Every component is recorded as it starts, so a failure at any step
// closes what the earlier steps started, in reverse order: a failed start
// leaves no guardian, no notify socket, no control socket and no cgroup
// directory behind.
func New(cfg config.Config, log *zap.Logger) (_ *Daemon, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
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
	d := &Daemon{cfg: cfg, log: log, killNow: make(chan struct{}), sd: newNotifier(), life: components{log: log.Named("lifetime")}}
	defer func() {
		if err != nil {
			d.life.closeAll(context.Background())
		}
	}()
	steps := []func() error{
		func() error { return d.openListeners(acc, tlsCfg) },
		func() error { return d.startRuntime(inj) },
		d.setupCgroups,
		d.startGuardian,
		d.prepareStateDir,
		func() error { return d.startCore(inj, pol) },
		func() error { return d.startServer(acc, tlsCfg) },
	}
	for _, step := range steps {
		if err = step(); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// openListeners opens the control socket (or takes systemd's) and the TCP
// listener. They serve only once Run starts.
func (d *Daemon) openListeners(acc server.Access, tlsCfg *tls.Config) error {
	cfg := &d.cfg
	activated, err := activatedListeners()
	if err != nil {
		return err
	}
	if len(activated) > 0 {
		// systemd made the socket (procd.socket): its path, mode and group
		// are the unit's, and --socket is not used. A TCP socket among them
		// obeys the same rule as --listen.
		for _, l := range activated {
			d.addListener("activated socket "+l.Addr().String(), l)
		}
		for _, l := range activated {
			if l.Addr().Network() == "tcp" {
				if err := checkTCP(l.Addr().String(), cfg, &acc); err != nil {
					return fmt.Errorf("socket activation: %w", err)
				}
			}
		}
		d.log.Info("using sockets passed by the service manager", zap.Int("count", len(activated)))
	} else if cfg.Socket != "" {
		gid, err := socketGID(cfg)
		if err != nil {
			return err
		}
		// The default socket's directory is procd's own; another is the
		// user's unless procd creates it.
		dir := socketDir{own: cfg.Socket == config.DefaultSocket(), gid: gid}
		l, lock, err := listenUnix(cfg.Socket, dir, d.log)
		if err != nil {
			return err
		}
		if lock != nil {
			d.lock = lock
			d.life.add("socket lock", func(context.Context) error { return lock.Close() })
		}
		d.addListener("socket "+cfg.Socket, l)
		if err := socketPermissions(cfg, gid); err != nil {
			return err
		}
	}
	if cfg.Listen != "" {
		l, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
		}
		d.addListener("TCP listener "+cfg.Listen, l)
		if tlsCfg == nil {
			d.log.Warn("serving plaintext gRPC over TCP on loopback (--insecure): bearer tokens travel in clear", zap.String("listen", cfg.Listen))
		}
	}
	return nil
}

// addListener records a listener; closing a Unix one removes its socket.
func (d *Daemon) addListener(name string, l net.Listener) {
	d.listeners = append(d.listeners, l)
	d.listenerC = append(d.listenerC, d.life.add(name, func(context.Context) error {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	}))
}

// startRuntime opens the OS layer: the spawning thread, the epoll loop and
// the subreaper.
func (d *Daemon) startRuntime(inj *faults.Injector) error {
	rt, err := proc.NewRuntime(d.log.Named("proc"))
	if err != nil {
		return err
	}
	d.rt = rt
	d.life.add("OS runtime", func(context.Context) error { return rt.Close() })
	if d.exe, err = os.Executable(); err != nil {
		return fmt.Errorf("find procd's executable (for the exec shim and guardian): %w", err)
	}
	rt.SetExecShim(d.exe)
	if inj != nil {
		what := "fault injection is on: this daemon will kill itself"
		if faults.LogWriteDelay(inj) > 0 {
			what = "fault injection is on: output log files are written slowly"
		}
		d.log.Warn(what, zap.String("PROCD_FAULT", os.Getenv("PROCD_FAULT")))
		rt.SetFaults(inj)
	}
	return nil
}

// startGuardian starts the helper that kills the trees, and removes the
// cgroup directories, if the daemon dies. It holds the socket lock until
// it is done, so a daemon restarted on the same socket waits for it, and
// the cgroup directories' locks, so no other procd removes them as
// abandoned before it has. A guardian that cannot start is a warning:
// procd runs without one.
func (d *Daemon) startGuardian() error {
	if runtime.GOOS != "linux" {
		return nil
	}
	var dirs []string
	hold := []*os.File{d.lock}
	if d.cgroups != nil {
		dirs = d.cgroups.Dirs()
		hold = append(hold, d.cgroups.LockFiles()...)
	}
	g, err := proc.StartGuardian(d.exe, dirs, hold)
	if err != nil {
		d.log.Warn("no guardian: process trees may outlive a crashed procd", zap.Error(err))
		return nil
	}
	d.guardian = g
	// After a clean shutdown there is nothing left for it to kill.
	d.life.add("guardian", func(context.Context) error { return g.Close() })
	return nil
}

// prepareStateDir clears the output logs of an earlier run and checks that
// log files can be written: with --log-files a state directory procd
// cannot write is an error now rather than a failed start for every
// process later; without, it is a warning.
func (d *Daemon) prepareStateDir() error {
	dir := d.cfg.InstanceStateDir()
	if dir == "" {
		return nil
	}
	// Records may outlive the daemon (the state store), but their output
	// does not: the output logs of an earlier run are orphans.
	logs := filepath.Join(dir, "logs")
	if entries, _ := os.ReadDir(logs); len(entries) > 0 {
		d.log.Info("removing output logs of an earlier run", zap.String("dir", logs), zap.Int("processes", len(entries)))
	}
	os.RemoveAll(logs)
	err := os.MkdirAll(logs, 0o700)
	if err == nil {
		var f *os.File
		if f, err = os.CreateTemp(logs, ".probe-*"); err == nil {
			f.Close()
			os.Remove(f.Name())
		}
	}
	switch {
	case err == nil:
		return nil
	case d.cfg.LogFiles:
		return fmt.Errorf("--state-dir %s: output log files cannot be written under %s: %w", d.cfg.StateDir, logs, err)
	}
	d.log.Warn("the state directory is not writable; processes that ask for log files will fail to start",
		zap.String("state-dir", d.cfg.StateDir), zap.Error(err))
	return nil
}

// startCore starts the event bus, the process table (with the command
// policy), the notify socket and the batch executor, and builds the
// metrics registry over them.
func (d *Daemon) startCore(inj *faults.Injector, pol *policy.Policy) error {
	d.openStore() // first: closed last, after the table's final records
	d.bus = events.NewBus(d.cfg.EventRingSize, nil)
	d.life.add("event bus", func(context.Context) error { d.bus.Close(); return nil })
	mcfg := managerConfig(&d.cfg)
	if d.store != nil {
		d.resumeEvents()
		mcfg.Store = d.store
	}
	mcfg.OnKill = func(r manager.Reason, late time.Duration) {
		if d.met != nil { // set before Run: no process has started yet
			d.met.ObserveKill(r, late)
		}
	}
	mcfg.Cgroups = d.cgroups
	mcfg.PooledCgroups = !d.cfg.ExactPeakMemory
	mcfg.Faults = inj
	mcfg.StartCheck = startCheck(pol)
	mcfg.RunResolved = pol.RestrictsExecutables()
	mcfg.CheckSkipsExecutable = !mcfg.RunResolved // only a rule on executables reads the path
	if pol.Rules() > 0 {
		d.log.Info("command policy in force", zap.Int("rules", pol.Rules()), zap.Bool("executables-limited", mcfg.RunResolved))
	}
	if d.cgroups == nil && d.guardian != nil {
		mcfg.Tracker = d.guardian
	}
	d.mgr = manager.New(mcfg, d.rt, d.bus, d.log.Named("manager"))
	d.mgrC = d.life.add("process table", func(ctx context.Context) error { d.mgr.Shutdown(ctx); return nil })
	if d.store != nil {
		if err := d.recoverRecords(); err != nil {
			return err
		}
	}
	var notifyStats func() (int64, int64)
	if mcfg.NotifySocket != "" {
		// Created after the manager (its handler) and before any child.
		n, err := watchdog.ListenNotify(mcfg.NotifySocket, d.mgr.HandleNotify)
		if err != nil {
			return err
		}
		d.notify = n
		notifyStats = n.Stats
		d.life.add("notify socket", func(context.Context) error { return n.Close() })
	}
	d.notifyStats = notifyStats
	d.exec = executor.New(d.mgr, d.bus, d.cfg.MaxBatchJobs)
	d.execC = d.life.add("batch executor", func(context.Context) error { d.exec.Close(); return nil })
	if d.cfg.MetricsAddr != "" {
		d.met = metrics.New(metrics.Sources{Manager: d.mgr, Executor: d.exec, Events: d.bus, Notify: notifyStats,
			Restarts: d.mgr.RestartCounts})
	}
	return nil
}

// startServer assembles the gRPC server over the core and opens the
// metrics listener.
func (d *Daemon) startServer(acc server.Access, tlsCfg *tls.Config) error {
	var unary []grpc.UnaryServerInterceptor
	var streams []grpc.StreamServerInterceptor
	if d.met != nil {
		unary = append(unary, d.met.GRPC.UnaryServerInterceptor())
		streams = append(streams, d.met.GRPC.StreamServerInterceptor())
	}
	var controllers map[string]string
	base := ""
	if d.cgroups != nil {
		controllers, base = d.cgroups.Controllers(), d.cgroups.Base()
	}
	d.srv = server.New(server.Options{
		UnaryInterceptors:  unary,
		StreamInterceptors: streams,
		Processes:          d.mgr,
		Batches:            d.exec,
		Events:             d.bus,
		Logger:             d.log.Named("grpc"),
		MaxRecvSize:        int(d.cfg.MaxMsgSize),
		Containment:        d.mgr.Containment(),
		Controllers:        controllers,
		CgroupBase:         base,
		NotifyStats:        d.notifyStats,
		Access:             acc,
		TLS:                tlsCfg,
		MaxStreams:         d.cfg.MaxStreams,
	})
	d.life.add("gRPC server", func(context.Context) error { d.stopServer(); return nil })
	if d.met == nil {
		return nil
	}
	d.met.GRPC.InitializeMetrics(d.srv.GRPC)
	l, err := net.Listen("tcp", d.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("--metrics-addr: %w", err)
	}
	d.metrics = debugServer(d.met.Handler())
	d.metricsL = l
	d.life.add("metrics server", func(context.Context) error {
		err := d.metrics.Close()
		l.Close() // Serve never ran on a failed start
		return err
	})
	return nil
}

// stopServer ends open streams with UNAVAILABLE and stops the gRPC server,
// giving calls in flight a moment to finish.
func (d *Daemon) stopServer() {
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
}
