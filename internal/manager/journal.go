package manager

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// RecordStore keeps records across daemon runs (the daemon's state
// database). Put and Delete are called on the start and exit paths, under
// the manager's locks: they must only note the change and return, and the
// store calls encode when it commits (the newest Put of a key wins).
// Reserve is the exception: it returns once the reservation is durable.
type RecordStore interface {
	Put(key string, encode func() []byte)
	Delete(key string)
	// Reserve records that numbers of the named counter up to upTo may be
	// in use, so that no later run gives them out again.
	Reserve(counter string, upTo uint64) error
}

// IDCounter names the record-id counter in the store.
const IDCounter = "process-id"

// idBlock is how many ids one reservation covers: one synchronous write per
// idBlock starts, and the gap a crash can leave in the numbering.
const idBlock = 4096

// recordKeyPrefix starts every record's key; the rest of the store's keys
// are someone else's.
const recordKeyPrefix = "record/"

// savedVersion is the format of a saved record; a reader refuses others.
const savedVersion = 1

// saved is a record as the store holds it: its snapshot, in the core's own
// numbers (which is why States and Reasons are never renumbered), and for
// a process with a restart policy its spec, to start it again after the
// daemon restarts.
type saved struct {
	Version int    `json:"v"`
	Seq     uint64 `json:"seq"`
	Info    Info   `json:"info"`
	Spec    *Spec  `json:"spec,omitempty"`
}

// journal is the manager's side of the store.
type journal struct {
	st RecordStore // nil: records live in memory only

	mu       sync.Mutex    // held while reserving
	reserved atomic.Uint64 // ids up to this are on record as used
}

// persist notes that r's record changed; the store snapshots it when it
// commits, so several changes between two commits cost one encoding.
func (m *Manager) persist(r *record) {
	if m.journal.st != nil {
		m.journal.st.Put(recordKeyPrefix+r.id, func() []byte { return m.encodeRecord(r) })
	}
}

// forget notes that r's record was removed.
func (m *Manager) forget(r *record) {
	if m.journal.st != nil {
		m.journal.st.Delete(recordKeyPrefix + r.id)
	}
}

func (m *Manager) encodeRecord(r *record) []byte {
	sv := saved{Version: savedVersion, Seq: r.seq, Info: m.info(r)}
	if r.spec.Restart.Mode != RestartNever {
		spec := r.spec
		sv.Spec = &spec
	}
	b, err := json.Marshal(sv)
	if err != nil {
		m.log.Error("cannot encode a record for the state store", zap.String("process-id", r.id), zap.Error(err))
		return nil
	}
	return b
}

// newID gives out the next process number, reserving a block of them in
// the store first when it runs past the reservation: ids never repeat
// across daemon runs, crashes included.
func (m *Manager) newID() uint64 {
	n := m.nextID.Add(1)
	if m.journal.st == nil {
		return n
	}
	j := &m.journal
	if n <= j.reserved.Load() {
		return n
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if n > j.reserved.Load() {
		upTo := n - 1 + idBlock
		if err := j.st.Reserve(IDCounter, upTo); err != nil {
			m.log.Error("cannot reserve process ids in the state store; after a crash, ids may be given out again", zap.Error(err))
		}
		j.reserved.Store(upTo)
	}
	return n
}

// LastID is the number of the last process id given out (p-N), for the
// store to keep exactly at a clean stop.
func (m *Manager) LastID() uint64 { return m.nextID.Load() }

// isRecordKey reports whether a store key is a record's.
func isRecordKey(key string) bool { return strings.HasPrefix(key, recordKeyPrefix) }
