// Package daemon wires procd together: the OS runtime, cgroups and the
// guardian, the event bus, the process manager, the batch executor and the
// gRPC server on their listeners, and runs them until shutdown. It owns
// every component's lifetime (lifetimes.go): each is recorded as it starts
// and closed in the reverse order, on a failed start and at shutdown alike;
// a shutdown first stops accepting and stops every process (bounded, then
// SIGKILL).
package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/cgroup"
	"github.com/procd/procd/internal/config"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/executor"
	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/metrics"
	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/server"
	"github.com/procd/procd/internal/store"
	"github.com/procd/procd/internal/version"
	"github.com/procd/procd/internal/watchdog"
)

// Daemon is a configured procd. Use New, then Run once.
type Daemon struct {
	cfg  config.Config
	log  *zap.Logger
	life components // everything started, closed in reverse order
	exe  string     // procd's executable: the exec shim and the guardian

	rt          *proc.Runtime
	cgroups     *cgroup.Subtree
	cgNote      string // why containment is what it is
	guardian    *proc.Guardian
	notify      *watchdog.NotifyListener
	notifyStats func() (accepted, rejected int64)
	bus         *events.Bus
	store       *store.Store // nil: records live in memory only
	mgr         *manager.Manager
	exec        *executor.Executor
	srv         *server.Server
	listeners   []net.Listener
	lock        *os.File // the socket's lock file; nil without one

	// The components the shutdown closes first, to end the work.
	listenerC   []*component
	mgrC, execC *component

	killOnce sync.Once
	killNow  chan struct{}

	sd *notifier // the service manager (systemd), if any

	met      *metrics.Metrics // nil: no --metrics-addr
	metrics  *http.Server
	metricsL net.Listener
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
		srv := debugServer(mux)
		srv.Addr = d.cfg.PprofAddr
		go func() {
			if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
				d.log.Warn("pprof server failed", zap.Error(err))
			}
		}()
		d.life.add("pprof server", func(context.Context) error { return srv.Close() })
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

// shutdown first ends the work: the listeners stop accepting, batches
// stop starting jobs and every process is stopped (bounded by
// --shutdown-timeout, or at once after KillNow), while open streams still
// see the processes end. Then every component is closed in the reverse of
// the order it started, as on a failed start (those closed already are
// skipped).
func (d *Daemon) shutdown() {
	start := time.Now()
	d.log.Info("shutting down: refusing new connections and stopping processes",
		zap.Duration("timeout", time.Duration(d.cfg.ShutdownTimeout)))
	for _, c := range d.listenerC {
		d.life.shut(context.Background(), c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(d.cfg.ShutdownTimeout))
	stopKill := make(chan struct{})
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		select {
		case <-d.killNow:
			cancel()
		case <-stopKill:
		}
	}()
	var wg sync.WaitGroup
	wg.Go(func() { d.life.shut(ctx, d.execC) }) // no batch starts another job; running ones are stopped
	d.life.shut(ctx, d.mgrC)
	wg.Wait()
	close(stopKill)
	<-watcher
	cancel()
	d.life.closeAll(context.Background())
	d.log.Info("procd stopped", zap.Duration("took", time.Since(start)))
}

// prefillCgroups is how many empty cgroups the pool is given at start-up:
// enough for a burst of starts at the default batch concurrency.
const prefillCgroups = 8

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
	// Empty by the time it is closed; the next start recreates them.
	d.life.add("cgroup directories", func(context.Context) error { return sub.Remove() })
	d.cgNote = fmt.Sprintf("each tree in its own cgroup under %s; limit controllers %v", sub.Base(), sub.Controllers())
	if !d.cfg.ExactPeakMemory {
		d.cgNote += "; trees without limits in recycled cgroups (no peak memory: --exact-peak-memory)"
		if err := sub.Prefill(prefillCgroups); err != nil {
			d.log.Warn("cannot create the cgroup pool ahead; trees will create their cgroups as they start", zap.Error(err))
		}
	}
	if len(left.Groups) > 0 {
		d.log.Warn("killed leftovers of a previous procd", zap.Int("processes", len(left.Pids)),
			zap.Ints("pids", left.Pids), zap.Strings("cgroups", left.Groups))
	}
	logAbandoned(d.log, left.Abandoned)
	return nil
}

// logAbandoned says what Setup found of procds that died with their
// guardians: what it removed, and what it left and why.
func logAbandoned(log *zap.Logger, a cgroup.Abandoned) {
	if len(a.Removed) > 0 {
		log.Info("removed the cgroup directories of procds that are gone", zap.Strings("dirs", a.Removed))
	}
	if len(a.Busy) > 0 {
		log.Warn("left cgroup directories of procds that are gone: they still hold processes (the daemon on their socket kills them at its next start)",
			zap.Strings("dirs", a.Busy))
	}
	if len(a.Unmarked) > 0 {
		log.Info("left procd cgroup directories that no owner marked (an older procd's, which may be alive): remove them by hand once their daemon is gone",
			zap.Strings("dirs", a.Unmarked))
	}
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
