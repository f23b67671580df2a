package daemon

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/store"
)

// eventSeqCounter names the event sequence in the state store.
const eventSeqCounter = "event-seq"

// eventSeqBlock is how many event numbers one reservation covers: one
// synchronous write per block of events, and the gap a crash leaves.
const eventSeqBlock = 1 << 16

// storeOpenWait bounds the wait for the file while another procd (one
// killed an instant ago, its lock not yet released) still holds it.
const storeOpenWait = 10 * time.Second

// openStore opens the state database in this daemon's part of the state
// directory. One that cannot be opened is a loud warning, not a refused
// start: procd runs, and its records live in memory only.
func (d *Daemon) openStore() {
	dir := d.cfg.InstanceStateDir()
	if !d.cfg.Store || dir == "" {
		return
	}
	st, err := store.Open(dir, storeOpenWait, d.log.Named("store"))
	if err != nil {
		d.log.Warn("cannot open the state store; records will not survive a restart of procd", zap.Error(err))
		return
	}
	d.store = st
	d.life.add("state store", func(context.Context) error {
		exact := map[string]uint64{}
		if d.bus != nil {
			exact[eventSeqCounter] = d.bus.Stats().LastSeq
		}
		if d.mgr != nil {
			exact[manager.IDCounter] = d.mgr.LastID()
		}
		return st.Close(exact)
	})
}

// resumeEvents continues the earlier run's event numbers.
func (d *Daemon) resumeEvents() {
	c := d.store.Counter(eventSeqCounter)
	d.bus.Resume(c.Last, c.Ceiling, eventSeqBlock, func(upTo uint64) {
		if err := d.store.Reserve(eventSeqCounter, upTo); err != nil {
			d.log.Error("cannot reserve event numbers; after a crash, numbers may repeat", zap.Error(err))
		}
	})
}

// recoverRecords reads the earlier run's records back into the table.
func (d *Daemon) recoverRecords() error {
	c := d.store.Counter(manager.IDCounter)
	rec, err := d.mgr.Recover(d.store.Values, c.Last, c.Ceiling)
	if err != nil {
		return err
	}
	if rec.Finished+len(rec.Lost)+len(rec.Resumed)+rec.Dropped > 0 || c.Last > 0 {
		d.log.Info("records of the earlier run read back", zap.Bool("clean-stop", c.Clean),
			zap.Int("finished", rec.Finished), zap.Int("lost", len(rec.Lost)), zap.Int("restarted", len(rec.Resumed)),
			zap.Int("dropped", rec.Dropped), zap.Uint64("last-id", c.Last))
	}
	if len(rec.Lost) > 0 {
		d.log.Warn("processes that were running when procd died are LOST (their trees were ended)",
			zap.Strings("process-ids", rec.Lost), zap.Strings("restart-failed", rec.ResumeFailed))
	}
	if len(rec.Resumed) > 0 {
		d.log.Info("processes with a restart policy that were running when procd died run again",
			zap.Strings("process-ids", rec.Resumed))
	}
	return nil
}
