package manager

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/output"
	"github.com/procd/procd/internal/watchdog"
)

// Recovered says what Recover read back.
type Recovered struct {
	Finished int      // records of processes that had ended
	Lost     []string // ids of processes running when the daemon died, now LOST
	// Resumed are the ids of processes with a restart policy that were
	// running (or waiting to restart) when the daemon died, or that its
	// shutdown stopped: each was started again, once, as the next run of
	// its logical process.
	Resumed []string
	// ResumeFailed are those that could not start again: kept as they
	// were (LOST ones also in Lost), with the error in their restart state.
	ResumeFailed []string
	Dropped      int // records past the retention limits, or unreadable
}

// resumable is a lost process to start again.
type resumable struct {
	r    *record
	spec Spec
}

// Recover reads back the records an earlier run of the daemon kept (values
// calls fn with each of the store's keys and values) and continues the id
// numbering after lastID, with ids up to idCeiling already reserved.
// Records of processes that were running or stopping become LOST: the
// daemon that watched them died, and its guardian ended their trees, so
// how they ended is unknown. The retention limits apply to what is read
// back as to any finished record.
//
// A lost process with a restart policy is started again instead, as the
// next run of the same logical process (its id, run history and backoff
// go on): one run per daemon start however often the daemon crashes, since
// an id has one record. One that was stopping is not: a stop (the user's,
// the watchdog's or the shutdown's) was under way, and a restart never
// resurrects what was being stopped. One the daemon's shutdown stopped
// runs again too: the daemon stopped it, not the user. Call Recover once, after New and
// before the first Start.
func (m *Manager) Recover(values func(fn func(key string, value []byte) error) error, lastID, idCeiling uint64) (Recovered, error) {
	now := time.Now()
	rs, resume, out, err := m.readBack(values, now)
	if err != nil {
		return out, err
	}
	for _, r := range rs {
		lastID = max(lastID, r.seq)
	}
	for _, x := range resume {
		lastID = max(lastID, x.r.seq)
	}
	m.nextID.Store(lastID)
	m.journal.reserved.Store(max(idCeiling, lastID))
	out.Finished = len(rs) - len(out.Lost)
	out.Dropped += m.adopt(rs, now)
	for _, x := range resume {
		if err := m.resumeLost(x); err != nil {
			m.log.Warn("a process with a restart policy could not start again after the daemon restarted",
				zap.String("process-id", x.r.id), zap.String("state", x.r.state.String()), zap.Error(err))
			if ri := x.r.frozen.Restart; ri != nil {
				ri.Error = err.Error()
			}
			if x.r.state == Lost {
				out.Lost = append(out.Lost, x.r.id)
			} else {
				out.Finished++
			}
			out.ResumeFailed = append(out.ResumeFailed, x.r.id)
			out.Dropped += m.adopt([]*record{x.r}, now)
			continue
		}
		out.Resumed = append(out.Resumed, x.r.id)
	}
	return out, nil
}

// readBack decodes the stored records, oldest first, and sets apart the
// lost ones to start again. Unreadable ones are deleted from the store.
func (m *Manager) readBack(values func(fn func(key string, value []byte) error) error, now time.Time) (rs []*record, resume []resumable, out Recovered, err error) {
	var bad []string
	err = values(func(key string, value []byte) error {
		if !isRecordKey(key) {
			return nil
		}
		r, lost, spec, err := m.restore(key, value, now)
		switch {
		case err != nil:
			m.log.Warn("dropping an unreadable record from the state store", zap.String("key", key), zap.Error(err))
			bad = append(bad, key)
		case spec != nil && spec.Restart.Mode != RestartNever && resumes(r.frozen, lost):
			resume = append(resume, resumable{r: r, spec: *spec})
		default:
			rs = append(rs, r)
			if lost {
				out.Lost = append(out.Lost, r.id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, out, fmt.Errorf("read the records of the earlier run: %w", err)
	}
	for _, key := range bad {
		m.journal.st.Delete(key)
	}
	out.Dropped = len(bad)
	sortRecords(rs)
	slices.SortFunc(resume, func(a, b resumable) int { return compareSeq(a.r.seq, b.r.seq) })
	return rs, resume, out, nil
}

// adopt puts restored records into the table, stores the LOST marks of
// those found lost now, and applies the retention limits; it returns how
// many records retention removed.
func (m *Manager) adopt(rs []*record, now time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range rs {
		m.byID[r.id] = r
		m.byPID[r.pid] = r // oldest first: the newest record of a pid wins
		if r.state == Lost && r.frozen.LostAt.Equal(now) {
			m.persist(r)
		}
	}
	// Retention goes by the time each ended; a lost one, by when it was
	// found lost.
	m.finished = append(m.finished, rs...)
	slices.SortStableFunc(m.finished, func(a, b *record) int { return a.finishedAt.Compare(b.finishedAt) })
	return len(m.trimLocked(now))
}

// resumes says whether a process with a restart policy runs again after
// the daemon restarts: one the daemon lost, unless it was being stopped,
// and one the daemon's own shutdown stopped (the user did not).
func resumes(info *Info, lost bool) bool {
	if lost {
		return info.LastState != Stopping
	}
	return info.State == Exited && info.Exit != nil && info.Exit.Reason == ReasonShutdown
}

// resumeLost starts the next run of a lost process with a restart policy.
// The run the daemon lost ended at an unknown instant: its entry in the
// history says when it was found lost, and has no exit.
func (m *Manager) resumeLost(x resumable) error {
	var st RestartState
	if ri := x.r.frozen.Restart; ri != nil {
		st = ri.RestartState
	}
	if n := len(st.Runs); n > 0 && st.Runs[n-1].FinishedAt.IsZero() && x.r.state == Lost {
		st.Runs[n-1].FinishedAt = x.r.frozen.LostAt
	}
	_, err := m.Resume(x.r.id, x.spec, st)
	return err
}

// restore turns a saved record into a finished, inert one: its process is
// gone, its output was not kept, and nothing may signal or stop it.
func (m *Manager) restore(key string, value []byte, now time.Time) (_ *record, lost bool, _ *Spec, _ error) {
	var sv saved
	if err := json.Unmarshal(value, &sv); err != nil {
		return nil, false, nil, err
	}
	info := sv.Info
	switch {
	case sv.Version != savedVersion:
		return nil, false, nil, fmt.Errorf("format version %d, this procd reads %d", sv.Version, savedVersion)
	case key != recordKeyPrefix+info.ID || sv.Seq == 0:
		return nil, false, nil, fmt.Errorf("record of %q under key %q with seq %d", info.ID, key, sv.Seq)
	}
	info.Restored = true
	info.LogDir = "" // an earlier run's output logs are removed at start
	finished := info.FinishedAt
	if !info.State.Final() || info.State != Lost && info.Exit == nil {
		// Starting, running, stopping or waiting to restart when the
		// daemon died (or final without an exit, which a record cannot
		// be): the guardian ended the tree, and no restart is pending.
		info.LastState, info.State, info.LostAt = info.State, Lost, now
		info.Exit, info.FinishedAt = nil, time.Time{}
		lost = true
	}
	if info.State == Lost {
		finished = info.LostAt
	}
	if info.Labels == nil {
		info.Labels = map[string]string{}
	}
	done := make(chan struct{})
	close(done)
	r := &record{
		id:  info.ID,
		seq: sv.Seq,
		spec: Spec{Command: info.Command, Dir: info.Dir, Name: info.Name, Labels: info.Labels,
			KillMode: info.KillMode, Limits: info.Limits, Stdin: info.Stdin, BindToSession: info.BoundToSession},
		exe:        info.Executable,
		pid:        info.PID,
		pgid:       info.PGID,
		startedAt:  info.StartedAt,
		stdout:     closedStream(),
		stderr:     closedStream(),
		act:        watchdog.NewActivity(0, 0),
		wdConfig:   info.Watchdog.Settings,
		exited:     done,
		ended:      done,
		done:       done,
		state:      info.State,
		settling:   true, // nothing escalates or signals it
		exit:       info.Exit,
		finishedAt: finished,
		frozen:     &info,
	}
	return r, lost, sv.Spec, nil
}

// closedStream is the output of a restored record: empty and ended.
func closedStream() *output.Stream {
	s := output.NewStream(output.NewRing(1), nil, 0)
	s.Close()
	return s
}

// frozenInfo is a restored record's snapshot.
func (r *record) frozenInfo() Info {
	info := *r.frozen
	if info.Exit != nil {
		e := *info.Exit
		info.Exit = &e
	}
	return info
}
