package manager

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/errdefs"
	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/procattr"
)

// Targets resolves either one reference or a selector to records, plus
// the selector's ids no record has. Exactly one of ref and sel should be
// set (sel non-nil wins). An unknown single reference is an error.
func (m *Manager) targets(ref Ref, sel *Selector) ([]*record, []string, error) {
	if sel != nil {
		return m.selectRecords(*sel)
	}
	r, err := m.lookup(ref)
	if err != nil {
		return nil, nil, err
	}
	return []*record{r}, nil, nil
}

// Signal sends sig to each target's process group (or to the leader alone
// with leaderOnly) and returns one result per process. A process that has
// already exited, or a selector id no record has, gets a result saying so,
// not an error for the whole call.
func (m *Manager) Signal(ref Ref, sel *Selector, sig syscall.Signal, leaderOnly bool) ([]SignalResult, error) {
	rs, unknown, err := m.targets(ref, sel)
	if err != nil {
		return nil, err
	}
	out := make([]SignalResult, 0, len(rs)+len(unknown))
	for _, r := range rs {
		res := SignalResult{ID: r.id, PID: r.pid}
		if err := m.signalOne(r, sig, leaderOnly); err != nil {
			res.Err = err.Error()
		} else {
			res.Delivered = true
		}
		out = append(out, res)
	}
	for _, id := range unknown {
		out = append(out, SignalResult{ID: id, Err: unknownID(id)})
	}
	return out, nil
}

func (m *Manager) signalOne(r *record, sig syscall.Signal, leaderOnly bool) error {
	r.mu.Lock()
	if r.state == Backoff {
		r.mu.Unlock()
		return errors.New("not running: waiting to restart (BACKOFF); stop it to cancel the restart")
	}
	if r.exit != nil || r.settling && r.esc == nil {
		r.mu.Unlock()
		return errors.New("already exited")
	}
	r.clientSigs = append(r.clientSigs, sig)
	r.mu.Unlock()
	var err error
	var target string
	if leaderOnly {
		target = fmt.Sprintf("leader %d", r.pid)
		err = r.p.Signal(sig)
	} else {
		target, err = m.signalTree(r, sig, false)
	}
	if errors.Is(err, proc.ErrProcessDone) {
		return errors.New("already exited")
	}
	if err != nil {
		return fmt.Errorf("signal %s: %v", target, err)
	}
	m.publish(r, events.SignalSent, func(e *events.Event) {
		e.Signal = procattr.SignalName(sig)
		e.Detail = fmt.Sprintf("%s to %s (client)", procattr.SignalName(sig), target)
	})
	return nil
}

// StopOptions override a process's own stop settings for one Stop call.
type StopOptions struct {
	Grace  *time.Duration // nil: the process's grace; 0: SIGKILL at once
	Signal syscall.Signal // 0: the process's stop signal
	Reason Reason         // 0: ReasonStopped
}

// Stop ends each target's tree gracefully and returns once each is gone,
// with its final record. Stopping a finished process returns its record; a
// selector id no record has gets a result with Unknown set.
// If ctx ends first, the escalations go on and the results say so.
func (m *Manager) Stop(ctx context.Context, ref Ref, sel *Selector, opts StopOptions) ([]StopResult, error) {
	rs, unknown, err := m.targets(ref, sel)
	if err != nil {
		return nil, err
	}
	if opts.Grace != nil && *opts.Grace < 0 {
		return nil, errdefs.Errorf(errdefs.ErrInvalidArgument, "grace %v is negative", *opts.Grace)
	}
	out := make([]StopResult, len(rs), len(rs)+len(unknown))
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() { out[i] = m.stopOne(ctx, r, opts) })
	}
	wg.Wait()
	for _, id := range unknown {
		out = append(out, StopResult{Info: Info{ID: id}, Unknown: true, Err: errors.New(unknownID(id))})
	}
	return out, nil
}

func (m *Manager) stopOne(ctx context.Context, r *record, opts StopOptions) StopResult {
	sig, grace, reason := r.spec.StopSignal, r.spec.Grace, ReasonStopped
	if opts.Signal != 0 {
		sig = opts.Signal
	}
	if opts.Grace != nil {
		grace = *opts.Grace
	}
	if opts.Reason != 0 {
		reason = opts.Reason
	}
	r = m.halt(r, reason) // no restart after this; a pending one is cancelled
	if e := m.escalate(r, reason, sig, grace, "stop"); e != nil && opts.Grace != nil && *opts.Grace == 0 {
		e.hurry()
	}
	select {
	case <-r.done:
		return StopResult{Info: m.info(m.latest(r))}
	case <-ctx.Done():
		return StopResult{Info: m.info(m.latest(r)), Err: fmt.Errorf("stop %s: %w (the stop goes on in the daemon)", r.id, ctx.Err())}
	}
}

// waitFor looks up what Wait and WaitReady wait on, with timeout's timer
// (a nil channel for no timeout); stop releases the timer.
func (m *Manager) waitFor(ref Ref, timeout time.Duration) (r *record, expire <-chan time.Time, stop func(), err error) {
	if timeout < 0 {
		return nil, nil, nil, errdefs.Errorf(errdefs.ErrInvalidArgument, "timeout %v is negative", timeout)
	}
	if r, err = m.lookup(ref); err != nil {
		return nil, nil, nil, err
	}
	if timeout <= 0 {
		return r, nil, func() {}, nil
	}
	t := time.NewTimer(timeout)
	return r, t.C, func() { t.Stop() }, nil
}

// Wait returns the final record once the logical process is final (EXITED
// or FAILED): a process with a restart policy is waited for across its
// restarts, until one of its runs ends into no restart. With timeout > 0
// it returns the current record and timedOut = true after that long.
func (m *Manager) Wait(ctx context.Context, ref Ref, timeout time.Duration) (info Info, timedOut bool, err error) {
	r, expire, stop, err := m.waitFor(ref, timeout)
	if err != nil {
		return Info{}, false, err
	}
	defer stop()
	select {
	case <-r.done:
		return m.info(m.latest(r)), false, nil
	case <-expire:
		return m.info(m.latest(r)), true, nil
	case <-ctx.Done():
		return Info{}, false, ctx.Err()
	}
}

// Remove deletes the record of a finished process.
func (m *Manager) Remove(ref Ref) (Info, error) {
	r, err := m.lookup(ref)
	if err != nil {
		return Info{}, err
	}
	info := m.info(r)
	if !info.State.Final() {
		return info, errdefs.Errorf(errdefs.ErrFailedPrecondition, "process %s (pid %d) is %s; stop it before removing it", r.id, r.pid, info.State)
	}
	m.mu.Lock()
	removed := m.removeLocked([]*record{r})
	m.mu.Unlock()
	m.announceRemoved(removed, "removed by a client")
	return info, nil
}

// CleanupFinished removes the finished records a selector matches (all
// finished records when sel is nil) and returns their ids, oldest (first
// started) first. Selector ids no record has are already clean: skipped.
func (m *Manager) CleanupFinished(sel *Selector) ([]string, error) {
	var rs []*record
	if sel != nil && !sel.Empty() {
		var err error
		if rs, _, err = m.selectRecords(*sel); err != nil {
			return nil, err
		}
	} else {
		m.mu.RLock()
		rs = append(rs, m.finished...)
		m.mu.RUnlock()
	}
	var fin []*record
	for _, r := range rs {
		select {
		case <-r.done:
			fin = append(fin, r)
		default:
		}
	}
	m.mu.Lock()
	removed := m.removeLocked(fin)
	m.mu.Unlock()
	slices.SortFunc(removed, func(a, b *record) int { return cmp.Compare(a.seq, b.seq) })
	m.announceRemoved(removed, "cleanup of finished processes")
	ids := make([]string, len(removed))
	for i, r := range removed {
		ids[i] = r.id
	}
	return ids, nil
}

// removeLocked deletes finished records from the table; m.mu is held. It
// returns those it actually removed.
func (m *Manager) removeLocked(rs []*record) []*record {
	if len(rs) == 0 {
		return nil
	}
	drop := make(map[*record]bool, len(rs))
	var removed []*record
	for _, r := range rs {
		if _, ok := m.byID[r.id]; !ok || drop[r] {
			continue
		}
		drop[r] = true
		removed = append(removed, r)
		m.forget(r)
		delete(m.byID, r.id)
		if m.byPID[r.pid] == r {
			delete(m.byPID, r.pid)
		}
	}
	kept := m.finished[:0]
	for _, r := range m.finished {
		if !drop[r] {
			kept = append(kept, r)
		}
	}
	clear(m.finished[len(kept):])
	m.finished = kept
	return removed
}

// trimLocked applies the retention limits; m.mu is held. It schedules the
// next age-based trim and returns the removed records.
func (m *Manager) trimLocked(now time.Time) []*record {
	var drop []*record
	excess := 0
	if m.cfg.RetainFinished >= 0 {
		excess = len(m.finished) - m.cfg.RetainFinished
	}
	for i, r := range m.finished {
		old := m.cfg.RetainAge >= 0 && now.Sub(r.finishedAt) >= m.cfg.RetainAge
		if i >= excess && !old {
			break
		}
		drop = append(drop, r)
	}
	removed := m.removeLocked(drop)
	if m.ageTimer != nil {
		m.ageTimer.Stop()
		m.ageTimer = nil
	}
	if m.cfg.RetainAge >= 0 && len(m.finished) > 0 && !m.closing {
		wait := m.cfg.RetainAge - now.Sub(m.finished[0].finishedAt)
		m.ageTimer = time.AfterFunc(max(wait, 0), func() {
			m.mu.Lock()
			removed := m.trimLocked(time.Now())
			m.mu.Unlock()
			m.announceRemoved(removed, "retention age")
		})
	}
	return removed
}

func (m *Manager) announceRemoved(rs []*record, why string) {
	for _, r := range rs {
		m.removeStreams(r) // their log files go with the record
		m.publish(r, events.Removed, func(e *events.Event) { e.Detail = why })
	}
}

// Shutdown refuses new processes, stops every live one with reason
// DAEMON_SHUTDOWN, waits until all are gone and stops the watchdog. When ctx ends first the
// remaining trees are sent SIGKILL at once, and Shutdown still waits for
// them (bounded by the kill wait).
func (m *Manager) Shutdown(ctx context.Context) {
	defer func() {
		m.probes.Wait() // each ends with its process (or its stop)
		m.wd.Close()
		m.sampler.Close()
		m.remover.stop()
		m.fds.release()
	}()
	m.mu.Lock()
	m.closing = true
	if m.ageTimer != nil {
		m.ageTimer.Stop()
		m.ageTimer = nil
	}
	var live []*record
	for _, r := range m.byID {
		select {
		case <-r.done:
		default:
			live = append(live, r)
		}
	}
	m.mu.Unlock()
	if len(live) == 0 {
		return
	}
	m.log.Info("stopping processes for shutdown", zap.Int("count", len(live)))
	var wg sync.WaitGroup
	for _, r := range live {
		wg.Go(func() {
			r := m.halt(r, ReasonShutdown)
			e := m.escalate(r, ReasonShutdown, r.spec.StopSignal, r.spec.Grace, "daemon shutdown")
			select {
			case <-r.done:
				return
			case <-ctx.Done():
			}
			if e != nil {
				e.hurry()
			}
			select {
			case <-r.done:
			case <-time.After(m.cfg.KillWait + m.cfg.PipeWait):
				m.log.Error("process did not end during shutdown", zap.String("process-id", r.id), zap.Int("pid", r.pid))
			}
		})
	}
	wg.Wait()
}

// KillAll sends SIGKILL to every live tree without a grace period (the
// second shutdown signal). It does not wait.
func (m *Manager) KillAll() {
	m.mu.RLock()
	var live []*record
	for _, r := range m.byID {
		live = append(live, r)
	}
	m.mu.RUnlock()
	for _, r := range live {
		r = m.halt(r, ReasonShutdown)
		if e := m.escalate(r, ReasonShutdown, syscall.SIGKILL, 0, "kill now"); e != nil {
			e.hurry()
		}
	}
}
