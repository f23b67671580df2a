// Package manager is procd's process table: it starts processes through
// internal/proc, keeps one record per process (live and finished), ends
// process trees with a bounded escalation, captures output into rings
// (internal/output) and publishes lifecycle events (internal/events).
//
// A record's life: Start registers it RUNNING and watches the leader's exit.
// When the leader exits (it stays an unreaped zombie, pinning its process
// group number), settle ends whatever is left of its group unless the spec
// says kill_mode leader, waits for any stop escalation, reaps the leader,
// waits (bounded) for the output pipes to reach end of file, and only then
// publishes the final record: Wait, the exited event and the record all see
// the complete output and a tree that is gone.
//
// Under a restart policy (Spec.Restart) each run is such a record, and the
// runs of one process share its id (a lineage, supervise.go): a run's end
// may lead to BACKOFF and the next run instead of the final record, which
// comes once, EXITED or FAILED (ReasonCrashLoop). Resume starts the next
// run of a process an earlier daemon ran.
//
// The package knows nothing of gRPC; internal/server converts.
package manager

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/cgroup"
	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/faults"
	"github.com/procd/procd/internal/probe"
	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/watchdog"
)

// Config holds the manager's policies. Zero fields take the defaults below.
type Config struct {
	RingSize       int           // bytes held per output stream (default 1 MiB)
	SessionWindow  int           // bytes a lossless session may lag per stream before the process is held back (default 4 MiB)
	MaxProcesses   int           // live processes at once (default 10,000; <0: unlimited)
	RetainFinished int           // finished records kept (default 1,000; <0: unlimited)
	RetainAge      time.Duration // finished records older than this are dropped (default 1h; <0: forever)
	Grace          time.Duration // default time between the stop signal and SIGKILL (default 2s)
	PipeWait       time.Duration // bound on waiting for output EOF once the tree is gone (default 2s)
	KillWait       time.Duration // bound on waiting for a tree to vanish after SIGKILL (default 10s)

	// Watchdog holds the per-process watchdog defaults. The zero value
	// watches nothing unless a spec asks; the daemon passes the original's
	// values (DefaultWatchdog).
	Watchdog WatchdogDefaults
	// NotifySocket is the sd_notify socket children get as NOTIFY_SOCKET
	// when the notify source is on; empty: none.
	NotifySocket string
	// Clock is the watchdog's monotonic clock; nil: the real one.
	Clock watchdog.Clock
	// Cgroups, when set, contains every process tree in its own cgroup:
	// stops end with cgroup.kill, setsid escapees included, and the cgroup
	// limits and usage figures work. Nil: process groups only.
	Cgroups *cgroup.Subtree
	// PooledCgroups runs a tree without limits in a recycled cgroup from
	// the subtree's pool (see cgroup.Subtree.Take), far cheaper per start
	// than a fresh one; such a tree reports its CPU time but no peak
	// memory. Off (the daemon's --exact-peak-memory), every tree gets a
	// fresh cgroup with memory accounting (on a hybrid host, a v1 memory
	// cgroup the spawner thread joins for the fork) and its exit reports
	// its exact peak memory. A tree with any limit gets a fresh cgroup
	// either way.
	PooledCgroups bool
	// Tracker, when set, is told each process group (the guardian that
	// kills them if the daemon dies); only used without Cgroups.
	Tracker Tracker
	// Faults injects crashes for the fault-injection tests; nil: none.
	Faults *faults.Injector
	// StartCheck, when set, vets every start from a caller (Spec.Caller
	// not nil) after the executable is found on PATH with its symbolic
	// links resolved, and the user and groups are resolved, before
	// anything is forked; an error refuses the start with
	// PERMISSION_DENIED and its message. The daemon's command policy is
	// one. With it set, whether a caller may set user and groups is the
	// check's to decide; without it, only root callers may.
	StartCheck func(*StartCheck) error
	// RunResolved makes a checked start run the resolved path the check
	// saw rather than the path found on PATH, so a symbolic link swapped
	// after the check changes nothing. The daemon sets it when its policy
	// limits executables; otherwise a #! script keeps seeing the path it
	// was started by.
	RunResolved bool
	// CheckSkipsExecutable says StartCheck never reads
	// StartCheck.Executable (the daemon sets it when no rule of its policy
	// limits executables, which is also when RunResolved is off): a start
	// then does not resolve the executable's symbolic links, one lstat per
	// path component that nothing would read, and Executable is the
	// absolute path as found on PATH. Ignored with RunResolved.
	CheckSkipsExecutable bool

	// StateDir holds per-process output log files (StateDir/logs/ID).
	StateDir string
	// LogFiles is the default for specs that do not say.
	LogFiles bool
	// LogFileSize and LogFileCount cap each stream's files (default 16 MiB × 4).
	LogFileSize  int64
	LogFileCount int

	// Readiness holds the defaults for readiness checks (Spec.Ready).
	Readiness ReadinessDefaults
	// Restart holds the defaults of restart policies.
	Restart RestartDefaults

	// Input limits on each spec (defaults in DefaultInputLimits).
	Input InputLimits
	// OnKill, when set, is told how late each watchdog kill's first signal
	// reached the leader, from the deadline (for the kill-latency histogram).
	OnKill func(reason Reason, late time.Duration)
	// Store, when set, keeps every record across daemon runs (see
	// Recover); nil: records live in memory only.
	Store RecordStore
}

// InputLimits bound what one request may ask for.
type InputLimits struct {
	MaxArgs       int // arguments in a command
	MaxArgBytes   int // bytes of all arguments together
	MaxEnv        int // variables in env
	MaxEnvBytes   int // bytes of env keys and values together
	MaxLabels     int // labels on a process
	MaxLabelBytes int // bytes of one label's key plus value
}

// DefaultInputLimits are generous for real programs (Linux's own argv limit
// is about 2 MiB) and small enough that no request can exhaust the daemon.
func DefaultInputLimits() InputLimits {
	return InputLimits{MaxArgs: 4096, MaxArgBytes: 1 << 20, MaxEnv: 4096, MaxEnvBytes: 1 << 20, MaxLabels: 64, MaxLabelBytes: 4096}
}

// Tracker is told about process groups to kill if the daemon dies.
type Tracker interface {
	Track(pgid int)
	Untrack(pgid int)
}

// WatchdogDefaults are the daemon-wide watchdog settings.
type WatchdogDefaults struct {
	ProcessTimeout time.Duration // 0: hang detection off unless a spec sets it
	ExtraBuffer    time.Duration
	MaxHangTime    time.Duration
	NoAutoKill     bool          // the zero value keeps the original's auto_kill = true
	CheckInterval  time.Duration // sampling period of the cpu and file sources
}

// DefaultWatchdog returns the original ProcessWatchdog's defaults.
func DefaultWatchdog() WatchdogDefaults {
	return WatchdogDefaults{
		ProcessTimeout: 30 * time.Second,
		ExtraBuffer:    5 * time.Second,
		MaxHangTime:    60 * time.Second,
		CheckInterval:  time.Second,
	}
}

// Defaults for Config.
const (
	DefaultRingSize       = 1 << 20
	DefaultMaxProcesses   = 10000
	DefaultRetainFinished = 1000
	DefaultRetainAge      = time.Hour
	DefaultGrace          = 2 * time.Second
	DefaultPipeWait       = 2 * time.Second
	DefaultSessionWindow  = 4 << 20
	DefaultKillWait       = 10 * time.Second
)

func (c *Config) withDefaults() Config {
	d := *c
	setDefault(&d.RingSize, DefaultRingSize)
	setDefault(&d.MaxProcesses, DefaultMaxProcesses)
	setDefault(&d.RetainFinished, DefaultRetainFinished)
	setDefault(&d.RetainAge, DefaultRetainAge)
	setDefault(&d.Grace, DefaultGrace)
	setDefault(&d.PipeWait, DefaultPipeWait)
	setDefault(&d.SessionWindow, DefaultSessionWindow)
	setDefault(&d.KillWait, DefaultKillWait)
	setDefault(&d.Watchdog.CheckInterval, time.Second)
	setDefault(&d.Readiness.Interval, DefaultReadyInterval)
	setDefault(&d.Readiness.AttemptTimeout, DefaultReadyAttemptTimeout)
	setDefault(&d.Readiness.StartupTimeout, DefaultStartupTimeout)
	d.Restart.withDefaults()
	if d.LogFileSize <= 0 {
		d.LogFileSize = 16 << 20
	}
	setDefault(&d.LogFileCount, 4)
	def := DefaultInputLimits()
	setDefault(&d.Input.MaxArgs, def.MaxArgs)
	setDefault(&d.Input.MaxArgBytes, def.MaxArgBytes)
	setDefault(&d.Input.MaxEnv, def.MaxEnv)
	setDefault(&d.Input.MaxEnvBytes, def.MaxEnvBytes)
	setDefault(&d.Input.MaxLabels, def.MaxLabels)
	setDefault(&d.Input.MaxLabelBytes, def.MaxLabelBytes)
	if d.Clock == nil {
		d.Clock = watchdog.NewClock()
	}
	return d
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Manager is the process table. Use New; it is safe for concurrent use.
type Manager struct {
	cfg     Config
	log     *zap.Logger
	rt      *proc.Runtime
	bus     *events.Bus
	clock   watchdog.Clock
	env     baseEnv
	wd      *watchdog.Watchdog
	sampler *watchdog.Sampler
	remover remover
	fds     *fdReserve // for stopping processes at the descriptor ceiling
	http    *probe.HTTP
	probes  sync.WaitGroup // readiness waits (one per starting process)

	nextID     atomic.Uint64
	journal    journal
	pending    pendingStarts  // for notify datagrams that beat their record
	notifyWait time.Duration  // how long such a datagram waits (tests lengthen it)
	jitter     func() float64 // uniform in [0, 1), spreads restart delays (tests fix it)

	mu       sync.RWMutex
	byID     map[string]*record
	byPID    map[int]*record
	finished []*record // finish order, for retention
	live     int       // RUNNING or STOPPING
	closing  bool
	ageTimer *time.Timer

	stats counters
}

// New returns a manager that starts processes through rt and publishes to
// bus. The caller owns rt and bus and closes them after Shutdown.
func New(cfg Config, rt *proc.Runtime, bus *events.Bus, log *zap.Logger) *Manager {
	if log == nil {
		log = zap.NewNop()
	}
	cfg = cfg.withDefaults()
	m := &Manager{
		cfg:     cfg,
		log:     log,
		rt:      rt,
		bus:     bus,
		clock:   cfg.Clock,
		env:     newBaseEnv(os.Environ()),
		sampler: watchdog.NewSampler(cfg.Clock, cfg.Watchdog.CheckInterval),
		byID:    make(map[string]*record),
		byPID:   make(map[int]*record),
		fds:     newFDReserve(),
		http:    probe.NewHTTP(),

		notifyWait: notifyRecordWait,
		jitter:     defaultJitterSource,
	}
	m.journal.st = cfg.Store
	m.remover.log = log
	m.remover.quit = make(chan struct{})
	m.wd = watchdog.New(cfg.Clock, m.onWatchdog)
	m.wd.Start()
	return m
}

// Config returns the effective configuration (defaults applied).
func (m *Manager) Config() Config { return m.cfg }

// Containment is how trees are held together: "cgroup" or "pgroup".
func (m *Manager) Containment() string {
	if m.cfg.Cgroups != nil {
		return "cgroup"
	}
	return "pgroup"
}

// lookup resolves a reference to a record.
func (m *Manager) lookup(ref Ref) (*record, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	switch {
	case ref.ID != "":
		if r, ok := m.byID[ref.ID]; ok {
			return r, nil
		}
		if _, err := strconv.Atoi(ref.ID); err == nil {
			return nil, errdefs.Errorf(errdefs.ErrNotFound, "no process with id %q (ids look like p-42; pass a pid as a pid)", ref.ID)
		}
		return nil, errdefs.Errorf(errdefs.ErrNotFound, "no process with id %q", ref.ID)
	case ref.PID > 0:
		if r, ok := m.byPID[ref.PID]; ok {
			return r, nil
		}
		return nil, errdefs.Errorf(errdefs.ErrNotFound, "no process with pid %d", ref.PID)
	case ref.PID < 0:
		return nil, errdefs.Errorf(errdefs.ErrInvalidArgument, "pid %d is negative", ref.PID)
	}
	return nil, errdefs.Errorf(errdefs.ErrInvalidArgument, "no process given (set an id or a pid)")
}

// selectRecords returns the records a selector matches, oldest first (in
// the order given for ids). Ids no record has are returned apart, not as an
// error: a bulk call must not fail for everyone because one process ended
// long enough ago that retention removed its record.
func (m *Manager) selectRecords(sel Selector) (rs []*record, unknown []string, err error) {
	if sel.Empty() {
		return nil, nil, errdefs.Errorf(errdefs.ErrInvalidArgument, "empty selector (set all, a name, labels or ids)")
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(sel.IDs) > 0 {
		for _, id := range sel.IDs {
			r, ok := m.byID[id]
			switch {
			case !ok:
				unknown = append(unknown, id)
			case r.matches(sel.Name, sel.Labels):
				rs = append(rs, r)
			}
		}
		return rs, unknown, nil
	}
	for _, r := range m.byID {
		if r.matches(sel.Name, sel.Labels) {
			rs = append(rs, r)
		}
	}
	sortRecords(rs)
	return rs, nil, nil
}

// unknownID says why a bulk call did nothing for an id.
func unknownID(id string) string {
	return fmt.Sprintf("no process with id %q (never started here, or its finished record was removed)", id)
}

func sortRecords(rs []*record) {
	slices.SortFunc(rs, func(a, b *record) int { return compareSeq(a.seq, b.seq) })
}

func compareSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Get returns the current record of one process, with its tree's live
// usage (List, Start and the others leave that out: reading cgroup files
// for every process would cost more than the rest of the answer).
func (m *Manager) Get(ref Ref) (Info, error) {
	r, err := m.lookup(ref)
	if err != nil {
		return Info{}, err
	}
	return m.liveInfo(r), nil
}

// List returns the records matching f, oldest first.
func (m *Manager) List(f ListFilter) []Info {
	m.mu.RLock()
	rs := slices.Collect(maps.Values(m.byID))
	m.mu.RUnlock()
	sortRecords(rs)
	out := make([]Info, 0, len(rs))
	for _, r := range rs {
		if !r.matches(f.Name, f.Labels) {
			continue
		}
		info := m.snapshot(r, f.Usage)
		if len(f.States) > 0 && !slices.Contains(f.States, info.State) {
			continue
		}
		out = append(out, info)
	}
	return out
}

// UpdateActivity records a heartbeat for a process now. On a finished
// process it is a no-op that returns the final record; a process that does
// not count heartbeats as activity is FAILED_PRECONDITION.
func (m *Manager) UpdateActivity(ref Ref) (Info, error) {
	r, err := m.lookup(ref)
	if err != nil {
		return Info{}, err
	}
	if !isClosed(r.done) && !r.act.Touch(m.clock.Now(), watchdog.Heartbeat) {
		return Info{}, errdefs.Errorf(errdefs.ErrFailedPrecondition,
			"heartbeat is not an activity source of %s (its sources: %s)", r.id, r.act.Sources())
	}
	return m.info(r), nil
}

// publish sends a process event.
func (m *Manager) publish(r *record, t events.Type, fill func(*events.Event)) {
	e := events.Event{Type: t, ProcessID: r.id, PID: r.pid, Name: r.spec.Name, Labels: r.spec.Labels}
	if fill != nil {
		fill(&e)
	}
	m.bus.Publish(e)
}

// ValidateLabels rejects label keys no process could carry.
func ValidateLabels(what string, labels map[string]string) error {
	for k := range labels {
		if k == "" || strings.ContainsRune(k, 0) {
			return errdefs.Errorf(errdefs.ErrInvalidArgument, "%s: label key %q is empty or contains NUL", what, k)
		}
	}
	return nil
}
