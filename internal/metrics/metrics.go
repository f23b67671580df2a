// Package metrics exposes procd's figures in the Prometheus text format:
// the counters the core keeps (read at scrape time, so nothing is counted
// twice), a histogram of the watchdog's kill latency, gRPC server metrics
// from go-grpc-middleware's provider, and the Go runtime's.
package metrics

import (
	"net/http"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/executor"
	"github.com/procd/procd/internal/manager"
)

// Sources are what the metrics read.
type Sources struct {
	Manager  *manager.Manager
	Executor *executor.Executor
	Events   *events.Bus
	// Notify reports the notify socket's accepted and rejected datagrams.
	Notify func() (accepted, rejected int64)
	// Restarts reports what supervision by restart policy did: restarts,
	// by the reason the restarted run ended, and processes it gave up on
	// as crash loops. Without it (no supervisor wired in) both counters
	// are exported as 0, so dashboards and alerts can name them already.
	Restarts func() (byReason map[manager.Reason]int64, crashLoops int64)
}

// Metrics is procd's registry.
type Metrics struct {
	reg         *prometheus.Registry
	GRPC        *grpcprom.ServerMetrics
	killLatency *prometheus.HistogramVec
}

// New builds the registry over src.
func New(src Sources) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		GRPC: grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
			grpcprom.WithHistogramBuckets([]float64{.0005, .001, .005, .01, .05, .1, .5, 1, 5, 30}))),
		killLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "procd_watchdog_kill_latency_seconds",
			Help:    "Time from a hang or deadline threshold to the stop signal sent to the process (its leader; the rest of its tree follows).",
			Buckets: []float64{.0001, .0005, .001, .002, .005, .01, .05, .1, .5, 1},
		}, []string{"reason"}),
	}
	// Both reasons exist from the start, so a rate over them has data
	// before the first kill.
	for _, r := range []manager.Reason{manager.ReasonHung, manager.ReasonDeadline} {
		m.killLatency.WithLabelValues(r.String())
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.GRPC,
		m.killLatency,
		&collector{src: src},
	)
	return m
}

// ObserveKill records how late a watchdog kill was decided.
func (m *Metrics) ObserveKill(reason manager.Reason, late time.Duration) {
	m.killLatency.WithLabelValues(reason.String()).Observe(late.Seconds())
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	return mux
}

var (
	descProcesses     = prometheus.NewDesc("procd_processes", "Processes by state (exited: finished records held).", []string{"state"}, nil)
	descStarts        = prometheus.NewDesc("procd_process_starts_total", "Processes started.", nil, nil)
	descStartFailures = prometheus.NewDesc("procd_process_start_failures_total", "Start requests that failed.", nil, nil)
	descExits         = prometheus.NewDesc("procd_process_exits_total", "Processes finished, by reason.", []string{"reason"}, nil)
	descLeftovers     = prometheus.NewDesc("procd_leftovers_killed_total", "Processes of trees ended after their leader exited.", nil, nil)
	descOrphans       = prometheus.NewDesc("procd_orphans_reaped_total", "Reparented descendants reaped.", nil, nil)
	descOutput        = prometheus.NewDesc("procd_output_bytes_total", "Output bytes captured.", nil, nil)
	descDropped       = prometheus.NewDesc("procd_output_dropped_bytes_total", "Output bytes dropped from the rings.", nil, nil)
	descWatched       = prometheus.NewDesc("procd_watchdog_processes", "Processes under the watchdog, by condition.", []string{"condition"}, nil)
	descKills         = prometheus.NewDesc("procd_watchdog_kills_total", "Processes the watchdog stopped, by reason.", []string{"reason"}, nil)
	descNotify        = prometheus.NewDesc("procd_notify_datagrams_total", "sd_notify datagrams, by result.", []string{"result"}, nil)
	descBatches       = prometheus.NewDesc("procd_batches_running", "Batches running.", nil, nil)
	descJobs          = prometheus.NewDesc("procd_batch_jobs", "Batch jobs by state.", []string{"state"}, nil)
	descJobsDone      = prometheus.NewDesc("procd_batch_jobs_total", "Batch jobs finished, by result.", []string{"result"}, nil)
	descRetries       = prometheus.NewDesc("procd_batch_retries_total", "Batch job attempts beyond the first.", nil, nil)
	descSubscribers   = prometheus.NewDesc("procd_event_subscribers", "Event stream subscribers.", nil, nil)
	descLastSeq       = prometheus.NewDesc("procd_event_last_seq", "Sequence number of the last event.", nil, nil)
	descSlowSubs      = prometheus.NewDesc("procd_event_slow_subscribers_total", "Subscribers ended for being too slow.", nil, nil)
	descRestarts      = prometheus.NewDesc("procd_process_restarts_total", "Runs started again by a restart policy, by the reason the previous run ended.", []string{"reason"}, nil)
	descCrashLoops    = prometheus.NewDesc("procd_crash_loops_total", "Processes a restart policy gave up on after too many restarts within its window (left FAILED, reason CRASH_LOOP).", nil, nil)
)

// restartReasons are the ends of a run that a restart policy can restart.
var restartReasons = []manager.Reason{manager.ReasonExited, manager.ReasonHung, manager.ReasonDeadline}

// collector reads the core's figures at scrape time.
type collector struct{ src Sources }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descProcesses, descStarts, descStartFailures, descExits, descLeftovers, descOrphans,
		descOutput, descDropped, descWatched, descKills, descNotify, descBatches, descJobs, descJobsDone, descRetries,
		descSubscribers, descLastSeq, descSlowSubs, descRestarts, descCrashLoops} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	ms := c.src.Manager.Stats()
	gauge(descProcesses, float64(ms.Starting), "starting")
	gauge(descProcesses, float64(ms.Running), "running")
	gauge(descProcesses, float64(ms.Stopping), "stopping")
	gauge(descProcesses, float64(ms.Exited), "exited")
	counter(descStarts, float64(ms.StartedTotal))
	counter(descStartFailures, float64(ms.StartFailuresTotal))
	for _, r := range []manager.Reason{manager.ReasonExited, manager.ReasonStopped, manager.ReasonHung, manager.ReasonDeadline, manager.ReasonShutdown, manager.ReasonStartupTimeout} {
		counter(descExits, float64(ms.ExitsByReason[r]), r.String())
	}
	counter(descLeftovers, float64(ms.LeftoversKilledTotal))
	counter(descOrphans, float64(ms.OrphansReapedTotal))
	counter(descOutput, float64(ms.BytesCapturedTotal))
	counter(descDropped, float64(ms.BytesDroppedTotal))

	ws := c.src.Manager.WatchdogStats()
	gauge(descWatched, float64(ws.Watched), "watched")
	gauge(descWatched, float64(ws.Slow), "slow")
	gauge(descWatched, float64(ws.Hung), "hung")
	for _, r := range []manager.Reason{manager.ReasonHung, manager.ReasonDeadline} {
		counter(descKills, float64(ws.KillsByReason[r]), r.String())
	}
	if c.src.Notify != nil {
		acc, rej := c.src.Notify()
		counter(descNotify, float64(acc), "accepted")
		counter(descNotify, float64(rej), "rejected")
	}
	if x := c.src.Executor; x != nil {
		st := x.Stats()
		gauge(descBatches, float64(st.BatchesRunning))
		gauge(descJobs, float64(st.JobsQueued), "queued")
		gauge(descJobs, float64(st.JobsRunning), "running")
		counter(descJobsDone, float64(st.Succeeded), "succeeded")
		counter(descJobsDone, float64(st.Failed), "failed")
		counter(descRetries, float64(st.Retries))
	}
	es := c.src.Events.Stats()
	gauge(descSubscribers, float64(es.Subscribers))
	gauge(descLastSeq, float64(es.LastSeq))
	counter(descSlowSubs, float64(es.SlowTotal))

	var restarts map[manager.Reason]int64
	var loops int64
	if c.src.Restarts != nil {
		restarts, loops = c.src.Restarts()
	}
	for _, r := range restartReasons {
		counter(descRestarts, float64(restarts[r]), r.String())
	}
	counter(descCrashLoops, float64(loops))
}
