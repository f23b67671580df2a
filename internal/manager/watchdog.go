package manager

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/watchdog"
)

// watchHang registers a ready process with the watchdog and, for the
// sampled sources, the sampler (see watchLocked).
func (m *Manager) watchHang(r *record) {
	s := r.wdConfig
	if !s.Enabled() {
		return
	}
	m.wd.Watch(r.id, s, r.act, r.startMono)
	if s.Timeout <= 0 {
		return // a deadline alone needs no activity
	}
	if s.Sources.Has(watchdog.CPU) {
		sample := func() (int64, bool) { return proc.TreeCPUTicks(r.pid) }
		if r.cg != nil {
			// One read, and it counts descendants that left the leader's
			// /proc tree (orphans procd adopted) too.
			sample = func() (int64, bool) { d, ok := r.cg.CPU(); return int64(d), ok }
		}
		m.sampler.Add(r.id, watchdog.CPU, r.act, sample)
	}
	if s.Sources.Has(watchdog.File) {
		path := s.File
		if r.spec.Dir != "" && !filepath.IsAbs(path) {
			path = filepath.Join(r.spec.Dir, path)
		}
		m.sampler.Add(r.id, watchdog.File, r.act, func() (int64, bool) {
			fi, err := os.Stat(path)
			if err != nil {
				return 0, false
			}
			return fi.ModTime().UnixNano(), true
		})
	}
}

func (m *Manager) unwatch(r *record) {
	m.wd.Unwatch(r.id)
	if r.wdConfig.Sources.Has(watchdog.CPU) || r.wdConfig.Sources.Has(watchdog.File) {
		m.sampler.Remove(r.id)
	}
}

// onWatchdog carries out a watchdog decision. It runs on the watchdog's
// goroutine and must not block: escalations run on their own, after their
// first signal (see escalate), which comes before any logging or counting.
func (m *Manager) onWatchdog(a watchdog.Action) {
	m.mu.RLock()
	r := m.byID[a.ID]
	m.mu.RUnlock()
	if r == nil || isClosed(r.done) {
		return
	}
	s := r.wdConfig
	switch a.Kind {
	case watchdog.Kill:
		m.escalate(r, ReasonHung, r.spec.StopSignal, r.spec.Grace, "hung")
		m.killed(r, ReasonHung, a, "stopping hung process")
	case watchdog.ForceKill:
		if e := m.escalate(r, ReasonHung, syscall.SIGKILL, 0, "hung past max_hang_time"); e != nil {
			e.hurry()
		}
		m.killed(r, ReasonHung, a, "killing process hung past max_hang_time")
	case watchdog.Deadline:
		m.publish(r, events.Deadline, func(e *events.Event) { // before the signal's event, as ever
			e.Idle = a.Idle
			e.Detail = fmt.Sprintf("running for more than its deadline %v", s.Deadline)
		})
		m.escalate(r, ReasonDeadline, r.spec.StopSignal, r.spec.Grace, "deadline")
		m.killed(r, ReasonDeadline, a, "stopping process past its deadline")
	default:
		m.onWatchdogEvent(r, a)
	}
}

// killed counts and logs a watchdog kill, once its first signal is out.
// late is measured from the deadline to the decision.
func (m *Manager) killed(r *record, reason Reason, a watchdog.Action, msg string) {
	late := m.clock.Now() - a.Due
	if m.cfg.OnKill != nil {
		m.cfg.OnKill(reason, late)
	}
	m.log.Info(msg, zap.String("process-id", r.id), zap.Int("pid", r.pid), zap.Duration("idle", a.Idle), zap.Duration("late", late))
}

// onWatchdogEvent publishes the decisions that end nothing.
func (m *Manager) onWatchdogEvent(r *record, a watchdog.Action) {
	idle := a.Idle.Round(time.Millisecond)
	s := r.wdConfig
	switch a.Kind {
	case watchdog.Slow:
		m.publish(r, events.Slow, func(e *events.Event) {
			e.Idle = a.Idle
			e.Detail = fmt.Sprintf("no activity for %v (timeout %v)", idle, s.Timeout)
		})
		if ce := m.log.Check(zap.DebugLevel, "process slow"); ce != nil {
			ce.Write(zap.String("process-id", r.id), zap.Duration("idle", a.Idle))
		}
	case watchdog.Hung:
		detail := fmt.Sprintf("no activity for %v (timeout %v + extra buffer %v)", idle, s.Timeout, s.ExtraBuffer)
		if !s.AutoKill {
			detail += fmt.Sprintf("; auto_kill is off, SIGKILL once idle > %v", max(s.MaxHangTime, s.Timeout+s.ExtraBuffer))
		}
		m.publish(r, events.Hung, func(e *events.Event) { e.Idle = a.Idle; e.Detail = detail })
		if !s.AutoKill { // else the kill, decided in the same tick, logs it (after its signal)
			m.log.Info("process hung", zap.String("process-id", r.id), zap.Int("pid", r.pid),
				zap.Duration("idle", a.Idle), zap.Bool("auto-kill", false))
		}
	case watchdog.Recovered:
		m.publish(r, events.Recovered, func(e *events.Event) { e.Detail = "activity resumed" })
	}
}

// HandleNotify takes one sd_notify datagram from the process with pid
// sender. It is attributed to the managed process whose tree the sender
// belongs to (the leader itself, a member of its process group, or a
// descendant); datagrams from anyone else, or without a single well-formed
// KEY=VALUE line, are refused (false).
func (m *Manager) HandleNotify(sender int, msg []byte) bool {
	r := m.recordOfSender(sender)
	if r == nil {
		return false
	}
	fields := ParseNotify(msg)
	for _, f := range fields {
		k, v := f[0], f[1]
		switch k {
		case "WATCHDOG":
			switch v {
			case "1":
				r.act.Touch(m.clock.Now(), watchdog.Notify)
			case "trigger":
				// The process says it is hung (systemd's WATCHDOG=trigger).
				m.publish(r, events.Hung, func(e *events.Event) { e.Detail = "the process reported WATCHDOG=trigger" })
				if r.wdConfig.Sources.Has(watchdog.Notify) {
					m.escalate(r, ReasonHung, r.spec.StopSignal, r.spec.Grace, "WATCHDOG=trigger")
				}
			}
		case "READY":
			if v == "1" {
				r.mu.Lock()
				first := !r.ready
				r.ready = true
				r.mu.Unlock()
				if first {
					m.publish(r, events.ActivityReady, func(e *events.Event) { e.Detail = "READY=1" })
				}
				m.readyOnNotify(r)
			}
		case "STATUS":
			text := v
			r.mu.Lock()
			r.status = text
			r.mu.Unlock()
			m.publish(r, events.NotifyStatus, func(e *events.Event) { e.Detail = text })
		}
	}
	return len(fields) > 0
}

// ParseNotify splits an sd_notify datagram into KEY=VALUE fields, one per
// line; malformed lines (no '=', an empty key, a key that is not upper
// case letters, digits and '_') are skipped. A datagram with no valid field
// is to be refused.
func ParseNotify(msg []byte) [][2]string {
	var out [][2]string
	for line := range bytes.SplitSeq(msg, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte("="))
		if !ok || len(k) == 0 || !validNotifyKey(k) {
			continue
		}
		out = append(out, [2]string{string(k), string(v)})
	}
	return out
}

func validNotifyKey(k []byte) bool {
	for _, c := range k {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// recordOfSender finds the live process whose tree pid belongs to, walking
// up parents and checking process groups (orphans keep their group).
func (m *Manager) recordOfSender(pid int) *record {
	self := os.Getpid()
	for range 64 {
		if pid <= 1 || pid == self {
			return nil
		}
		if r := m.liveLeader(pid); r != nil {
			return r
		}
		ppid, pgrp, ok := proc.Ancestry(pid)
		if !ok {
			return nil
		}
		if r := m.liveLeader(pgrp); r != nil && r.pgid == pgrp {
			return r
		}
		if ppid == self && pgrp == pid {
			// What a new leader looks like (our child, leading its own
			// group) without a live record: its start may still be
			// returning. Escapees that procd adopted look the same, so
			// only a sender that started moments ago waits, and only while
			// starts are in flight: the listener serves one datagram at a
			// time.
			if age, ok := proc.Age(pid); ok && age < newLeaderAge {
				return m.pending.await(m.notifyWait, func() *record { return m.liveLeader(pid) })
			}
			return nil
		}
		pid = ppid
	}
	return nil
}

// notifyRecordWait bounds how long a datagram waits for its sender's
// record (registering takes microseconds, or milliseconds on a loaded
// machine); newLeaderAge is how recently such a sender must have started.
const (
	notifyRecordWait = 250 * time.Millisecond
	newLeaderAge     = 2 * time.Second
)

// liveLeader returns the unfinished record whose leader has pid.
func (m *Manager) liveLeader(pid int) *record {
	m.mu.RLock()
	r := m.byPID[pid]
	m.mu.RUnlock()
	if r == nil || isClosed(r.done) {
		return nil
	}
	return r
}

// WatchdogStats are the watchdog's figures for GetStats.
type WatchdogStats struct {
	Watched, Slow, Hung int
	Queue               int
	KillsByReason       map[Reason]int64
	Sampled             int
	CheckInterval       time.Duration
}

// WatchdogStats returns the watchdog's figures.
func (m *Manager) WatchdogStats() WatchdogStats {
	st := m.wd.Stats()
	return WatchdogStats{
		Watched: st.Watched,
		Slow:    st.Slow,
		Hung:    st.Hung,
		Queue:   st.Queue,
		KillsByReason: map[Reason]int64{
			ReasonHung:     st.Counts[watchdog.Kill] + st.Counts[watchdog.ForceKill],
			ReasonDeadline: st.Counts[watchdog.Deadline],
		},
		Sampled:       m.sampler.Len(),
		CheckInterval: m.cfg.Watchdog.CheckInterval,
	}
}
