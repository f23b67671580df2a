package top

import (
	"context"
	"fmt"
	"io"
	"time"
)

// RunPlain prints the table once per refresh, each frame after the last,
// for a pipe, a log or a test: no terminal control, no keys. It returns
// after o.Iterations frames, when ctx ends, or on the first failed refresh.
func RunPlain(ctx context.Context, svc Service, o Options, w io.Writer) error {
	if err := o.defaults(); err != nil {
		return err
	}
	f, _ := parseFilter(o.Filter)
	col, _ := columnByKey(o.Sort)
	s := sampler{window: o.Interval}
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for n := 1; ; n++ {
		snap, err := fetch(ctx, svc, &o, o.All || f.finished())
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		all := s.rows(snap)
		rows := visible(all, f, col, o.Reverse)
		fmt.Fprintln(w, title(&o, snap))
		fmt.Fprintln(w, viewLine(f, col, o.Reverse, len(rows), len(all)))
		header, lines := layout(rows, 0)
		fmt.Fprintln(w, header)
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
		fmt.Fprintln(w)
		if o.Iterations > 0 && n >= o.Iterations {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// visible filters and sorts rows (a new slice; all is left as it is).
func visible(all []row, f filter, col int, reverse bool) []row {
	out := make([]row, 0, len(all))
	for i := range all {
		if f.match(&all[i]) {
			out = append(out, all[i])
		}
	}
	sortRows(out, col, reverse)
	return out
}

// title is the first line: the daemon, the time, and its counters.
func title(o *Options, snap snapshot) string {
	p, w := snap.stats.GetProcesses(), snap.stats.GetWatchdog()
	s := fmt.Sprintf("procd top  %s  %s  %d running, %d stopping  watchdog: %d slow, %d hung, %d hung kills",
		o.Where, snap.at.Local().Format(time.TimeOnly), p.GetRunning(), p.GetStopping(),
		w.GetSlow(), w.GetHung(), w.GetKillsByReason()["HUNG"])
	if b := snap.stats.GetBatches(); b.GetBatchesRunning() > 0 {
		s += fmt.Sprintf("  batches: %d running, %d jobs queued", b.GetBatchesRunning(), b.GetJobsQueued())
	}
	return s
}

// viewLine says how the table is sorted and filtered.
func viewLine(f filter, col int, reverse bool, shown, total int) string {
	dir := "↑"
	if columns[col].desc != reverse {
		dir = "↓"
	}
	s := fmt.Sprintf("sort: %s %s", columns[col].key, dir)
	if t := f.String(); t != "" {
		s += "  filter: " + t
	}
	return s + fmt.Sprintf("  %d of %d shown", shown, total)
}
