package top

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	pb "github.com/procd/procd/proto/procd/v1"
)

// row is one process as shown: the record plus the rates computed from the
// previous refresh.
type row struct {
	p     *pb.Process
	order int     // position in the daemon's listing: start order
	cpu   float64 // percent of one core; < 0: unknown (no cgroup)
	mem   int64   // current bytes of the tree; < 0: unknown
	rate  float64 // output bytes per second, both streams
}

// finished reports whether a process is final: it will not run again.
func finished(p *pb.Process) bool {
	switch p.GetState() {
	case pb.ProcessState_PROCESS_STATE_EXITED, pb.ProcessState_PROCESS_STATE_FAILED, pb.ProcessState_PROCESS_STATE_LOST:
		return true
	}
	return false
}

// live states are those a live view lists by default: a process waiting
// to restart (BACKOFF) is still the campaign's.
var liveStates = []pb.ProcessState{
	pb.ProcessState_PROCESS_STATE_STARTING, pb.ProcessState_PROCESS_STATE_RUNNING,
	pb.ProcessState_PROCESS_STATE_STOPPING, pb.ProcessState_PROCESS_STATE_BACKOFF,
}

// Mark is the watchdog's verdict on a row: "HUNG", "slow", "ok", or "-"
// when no hang detection applies (or the process is not running).
func (r *row) mark() string {
	w := r.p.GetWatchdog()
	switch {
	case finished(r.p) || r.p.GetState() == pb.ProcessState_PROCESS_STATE_BACKOFF:
		return "-"
	case w.GetHung():
		return "HUNG"
	case w.GetSlow():
		return "slow"
	case w.GetEnabled() && w.GetTimeout().AsDuration() > 0:
		return "ok"
	}
	return "-"
}

// restarts is how often procd restarted the process under its restart
// policy; ok is false for a process without one.
func restarts(p *pb.Process) (n int, ok bool) {
	if r := p.GetRestart(); r != nil {
		return int(r.GetRestarts()), true
	}
	return 0, false
}

// sample is what a rate is computed from.
type sample struct {
	at  time.Time
	pid int32 // a restart is a new run whose counters start again
	cpu time.Duration
	out int64
}

// sampler turns successive listings into rows, remembering each process's
// recent samples so that CPU and output are rates over about one window
// (the refresh interval): refreshes that an event brings a few
// milliseconds apart would otherwise give rates of noise.
type sampler struct {
	window time.Duration
	hist   map[string][]sample // per process, oldest first
}

// rows converts a snapshot. A process seen for the first time gets its
// average since start (what ps shows), so a single refresh has figures.
func (s *sampler) rows(snap snapshot) []row {
	next := make(map[string][]sample, len(snap.procs))
	out := make([]row, 0, len(snap.procs))
	for i, p := range snap.procs {
		u := p.GetUsage()
		cur := sample{at: snap.at, pid: p.GetPid(), cpu: u.GetCpu().AsDuration(),
			out: p.GetStdout().GetTotalBytes() + p.GetStderr().GetTotalBytes()}
		hist, base := s.base(p.GetId(), cur)
		next[p.GetId()] = hist
		r := row{p: p, order: i, cpu: -1, mem: -1}
		elapsed := cur.at.Sub(base.at)
		if base.at.IsZero() {
			elapsed = p.GetDuration().AsDuration()
		}
		hasUsage := p.GetCgroup() != "" && u != nil
		if elapsed > 0 && !finished(p) && p.GetState() != pb.ProcessState_PROCESS_STATE_BACKOFF {
			if hasUsage {
				r.cpu = 100 * float64(cur.cpu-base.cpu) / float64(elapsed)
			}
			// A tree in a recycled cgroup (procd's default without
			// limits) has no memory accounting: both figures are 0.
			if hasUsage && (u.GetMemoryCurrentBytes() > 0 || u.GetMemoryPeakBytes() > 0) {
				r.mem = u.GetMemoryCurrentBytes()
			}
			r.rate = float64(cur.out-base.out) / elapsed.Seconds()
		}
		out = append(out, r)
	}
	s.hist = next
	return out
}

// base adds cur to the process's history and picks the sample to measure
// from: the newest one at least a window old, else the oldest one, else
// (first sight, or a new run) the zero sample, meaning "since start".
func (s *sampler) base(id string, cur sample) (hist []sample, base sample) {
	hist = s.hist[id]
	if len(hist) > 0 && hist[len(hist)-1].pid != cur.pid {
		hist = nil
	}
	for i := len(hist) - 1; i >= 0; i-- {
		if cur.at.Sub(hist[i].at) >= s.window {
			return append(hist[i:], cur), hist[i]
		}
	}
	if len(hist) > 0 && cur.at.After(hist[0].at) {
		return append(hist, cur), hist[0]
	}
	return []sample{cur}, sample{}
}

// column is one column of the table.
type column struct {
	key, title string
	right      bool // numbers are right-aligned
	desc       bool // sorted largest first
	max        int  // widest it grows (0: no bound)
	text       func(*row) string
	less       func(a, b *row) bool
}

// columns are the table's columns in order; their keys name them for
// --sort and the sort keys.
var columns = []column{
	{key: "id", title: "ID", text: func(r *row) string { return r.p.GetId() },
		less: func(a, b *row) bool { return a.order < b.order }},
	{key: "name", title: "NAME", max: 24, text: func(r *row) string { return r.p.GetName() },
		less: func(a, b *row) bool { return a.p.GetName() < b.p.GetName() }},
	{key: "state", title: "STATE", text: stateText,
		less: func(a, b *row) bool { return stateText(a) < stateText(b) }},
	{key: "pid", title: "PID", right: true, text: func(r *row) string { return strconv.Itoa(int(r.p.GetPid())) },
		less: func(a, b *row) bool { return a.p.GetPid() < b.p.GetPid() }},
	{key: "cpu", title: "CPU%", right: true, desc: true, text: func(r *row) string { return percent(r.cpu) },
		less: func(a, b *row) bool { return a.cpu < b.cpu }},
	{key: "mem", title: "MEM", right: true, desc: true, text: func(r *row) string { return size(r.mem) },
		less: func(a, b *row) bool { return a.mem < b.mem }},
	{key: "idle", title: "IDLE", right: true, desc: true, text: idleText,
		less: func(a, b *row) bool { return idle(a) < idle(b) }},
	{key: "watchdog", title: "HANG", desc: true, text: (*row).mark,
		less: func(a, b *row) bool { return markRank(a) < markRank(b) }},
	{key: "restarts", title: "RESTARTS", right: true, desc: true, text: restartsText,
		less: func(a, b *row) bool { x, _ := restarts(a.p); y, _ := restarts(b.p); return x < y }},
	{key: "output", title: "OUT/s", right: true, desc: true, text: func(r *row) string { return rateText(r.rate) },
		less: func(a, b *row) bool { return a.rate < b.rate }},
	{key: "labels", title: "LABELS", text: labelsText,
		less: func(a, b *row) bool { return labelsText(a) < labelsText(b) }},
}

func columnByKey(key string) (int, bool) {
	for i, c := range columns {
		if c.key == key {
			return i, true
		}
	}
	return 0, false
}

func sortKeys() string {
	keys := make([]string, 0, len(columns))
	for _, c := range columns {
		keys = append(keys, c.key)
	}
	return strings.Join(keys, ", ")
}

// sortRows orders rows by column col, the column's natural direction
// flipped by reverse; ties keep start order.
func sortRows(rows []row, col int, reverse bool) {
	c := columns[col]
	desc := c.desc != reverse
	slices.SortStableFunc(rows, func(a, b row) int {
		switch {
		case c.less(&a, &b):
			return cmpDir(-1, desc)
		case c.less(&b, &a):
			return cmpDir(1, desc)
		}
		return a.order - b.order
	})
}

func cmpDir(c int, desc bool) int {
	if desc {
		return -c
	}
	return c
}

// stateText is the state, and for a finished process how it ended: its
// exit code or signal when it exited on its own, else why it was ended
// (stopped, hung, deadline, crash_loop…).
func stateText(r *row) string {
	s := strings.ToLower(strings.TrimPrefix(r.p.GetState().String(), "PROCESS_STATE_"))
	e := r.p.GetExit()
	switch {
	case e == nil || !finished(r.p):
		return s
	case e.GetReason() != pb.ExitReason_EXIT_REASON_EXITED:
		return s + " " + strings.ToLower(strings.TrimPrefix(e.GetReason().String(), "EXIT_REASON_"))
	case e.SignalNumber != nil:
		return s + " " + e.GetSignal()
	}
	return s + " " + strconv.Itoa(int(e.GetExitCode()))
}

func idle(r *row) time.Duration {
	if finished(r.p) || r.p.GetState() == pb.ProcessState_PROCESS_STATE_BACKOFF {
		return -1
	}
	return r.p.GetWatchdog().GetIdle().AsDuration()
}

func idleText(r *row) string {
	d := idle(r)
	switch {
	case d < 0:
		return "-"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

func markRank(r *row) int {
	return map[string]int{"-": 0, "ok": 1, "slow": 2, "HUNG": 3}[r.mark()]
}

func restartsText(r *row) string {
	if n, ok := restarts(r.p); ok {
		return strconv.Itoa(n)
	}
	return "-"
}

func labelsText(r *row) string {
	l := r.p.GetLabels()
	parts := make([]string, 0, len(l))
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}

func percent(p float64) string {
	if p < 0 {
		return "-"
	}
	return strconv.FormatFloat(p, 'f', 1, 64)
}

// size is a byte count in at most five characters, e.g. 812K, 1.5G.
func size(n int64) string {
	if n < 0 {
		return "-"
	}
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + "B"
	}
	f, i := float64(n)/unit, 0
	for ; f >= unit && i < 4; i++ {
		f /= unit
	}
	if f < 10 {
		return strconv.FormatFloat(f, 'f', 1, 64) + string("KMGTP"[i])
	}
	return strconv.FormatFloat(f, 'f', 0, 64) + string("KMGTP"[i])
}

func rateText(r float64) string {
	if r <= 0 {
		return "0"
	}
	return size(int64(r)) + "/s"
}
