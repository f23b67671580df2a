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
	Dropped  int      // records past the retention limits, or unreadable
}

// Recover reads back the records an earlier run of the daemon kept (values
// calls fn with each of the store's keys and values) and continues the id
// numbering after lastID, with ids up to idCeiling already reserved.
// Records of processes that were running or stopping become LOST: the
// daemon that watched them died, and its guardian ended their trees, so
// how they ended is unknown. The retention limits apply to what is read
// back as to any finished record. Call it once, after New and before the
// first Start.
func (m *Manager) Recover(values func(fn func(key string, value []byte) error) error, lastID, idCeiling uint64) (Recovered, error) {
	var out Recovered
	var rs []*record
	var bad []string
	now := time.Now()
	err := values(func(key string, value []byte) error {
		if !isRecordKey(key) {
			return nil
		}
		r, lost, err := m.restore(key, value, now)
		if err != nil {
			m.log.Warn("dropping an unreadable record from the state store", zap.String("key", key), zap.Error(err))
			bad = append(bad, key)
			return nil
		}
		rs = append(rs, r)
		if lost {
			out.Lost = append(out.Lost, r.id)
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("read the records of the earlier run: %w", err)
	}
	for _, key := range bad {
		m.journal.st.Delete(key)
	}
	out.Dropped = len(bad)
	sortRecords(rs)
	m.mu.Lock()
	for _, r := range rs {
		m.byID[r.id] = r
		m.byPID[r.pid] = r // oldest first: the newest record of a pid wins
		lastID = max(lastID, r.seq)
	}
	for _, id := range out.Lost {
		m.persist(m.byID[id])
	}
	out.Finished = len(rs) - len(out.Lost)
	// Retention goes by the time each ended; a lost one, by when it was
	// found lost.
	fin := slices.Clone(rs)
	slices.SortStableFunc(fin, func(a, b *record) int { return a.finishedAt.Compare(b.finishedAt) })
	m.finished = append(fin, m.finished...)
	removed := m.trimLocked(now)
	m.mu.Unlock()
	out.Dropped += len(removed)
	m.nextID.Store(lastID)
	m.journal.reserved.Store(max(idCeiling, lastID))
	return out, nil
}

// restore turns a saved record into a finished, inert one: its process is
// gone, its output was not kept, and nothing may signal or stop it.
func (m *Manager) restore(key string, value []byte, now time.Time) (_ *record, lost bool, _ error) {
	var sv saved
	if err := json.Unmarshal(value, &sv); err != nil {
		return nil, false, err
	}
	info := sv.Info
	switch {
	case sv.Version != savedVersion:
		return nil, false, fmt.Errorf("format version %d, this procd reads %d", sv.Version, savedVersion)
	case key != recordKeyPrefix+info.ID || sv.Seq == 0:
		return nil, false, fmt.Errorf("record of %q under key %q with seq %d", info.ID, key, sv.Seq)
	}
	info.Restored = true
	info.LogDir = "" // an earlier run's output logs are removed at start
	finished := info.FinishedAt
	if info.State != Lost && (info.State != Exited || info.Exit == nil) {
		// Running or stopping when the daemon died (or a state a record
		// cannot end in): the guardian ended the tree.
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
		done:       done,
		state:      info.State,
		settling:   true, // nothing escalates or signals it
		exit:       info.Exit,
		finishedAt: finished,
		frozen:     &info,
	}
	return r, lost, nil
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
