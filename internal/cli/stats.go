package cli

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	pb "github.com/procd/procd/proto/procd/v1"
)

func (a *app) statsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "show daemon-wide counters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.dial()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			s, err := c.Process.GetStats(ctx, &pb.GetStatsRequest{})
			if err != nil {
				return a.explain(err)
			}
			if a.json {
				return printJSON(a.stdout, s)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			row := func(k string, v any) { fmt.Fprintf(tw, "%s:\t%v\n", k, v) }
			p, o, e, d := s.GetProcesses(), s.GetOutput(), s.GetEvents(), s.GetDaemon()
			row("processes", fmt.Sprintf("%d running, %d stopping, %d finished records", p.GetRunning(), p.GetStopping(), p.GetExited()))
			row("started", fmt.Sprintf("%d (%d start failures)", p.GetStartedTotal(), p.GetStartFailuresTotal()))
			reasons := make([]string, 0, len(p.GetExitsByReason()))
			for r := range p.GetExitsByReason() {
				reasons = append(reasons, r)
			}
			sort.Strings(reasons)
			for _, r := range reasons {
				row("  exited "+r, p.GetExitsByReason()[r])
			}
			row("leftovers killed", p.GetLeftoversKilledTotal())
			row("orphans reaped", p.GetOrphansReapedTotal())
			row("output", fmt.Sprintf("%s captured, %s dropped, ring %s per stream", humanBytes(o.GetBytesCapturedTotal()),
				humanBytes(o.GetBytesDroppedTotal()), humanBytes(o.GetRingBytes())))
			row("events", fmt.Sprintf("last seq %d, oldest retained %d, ring %d, %d subscriber(s), %d ended as too slow",
				e.GetLastSeq(), e.GetOldestSeq(), e.GetRingSize(), e.GetSubscribers(), e.GetSlowSubscribersTotal()))
			w := s.GetWatchdog()
			row("watchdog", fmt.Sprintf("%d watched, %d slow, %d hung, %d timers, %d sampled every %v; kills: %s",
				w.GetWatched(), w.GetSlow(), w.GetHung(), w.GetTimerQueue(), w.GetSampled(),
				w.GetCheckInterval().AsDuration(), mapString(w.GetKillsByReason())))
			row("notify", fmt.Sprintf("%d datagrams accepted, %d rejected", w.GetNotifyAcceptedTotal(), w.GetNotifyRejectedTotal()))
			if b := s.GetBatches(); b != nil {
				row("batches", fmt.Sprintf("%d running; jobs: %d queued, %d running (cap %d), %d succeeded, %d failed, %d retries",
					b.GetBatchesRunning(), b.GetJobsQueued(), b.GetJobsRunning(), b.GetMaxRunningJobs(),
					b.GetJobsSucceededTotal(), b.GetJobsFailedTotal(), b.GetRetriesTotal()))
			}
			cont := d.GetContainment()
			if d.GetCgroupBase() != "" {
				cont += fmt.Sprintf(" (%s; limits: %s)", d.GetCgroupBase(), mapString(d.GetControllers()))
			}
			row("containment", cont)
			row("daemon", fmt.Sprintf("procd %s, pid %d, up %v, %d goroutines, RSS %s", d.GetVersion(), d.GetPid(),
				roundDuration(d.GetUptime().AsDuration()), d.GetGoroutines(), humanBytes(d.GetRssBytes())))
			return tw.Flush()
		},
	}
}

// mapString renders a map as "k1 v1, k2 v2" in key order, or "none".
func mapString[V any](m map[string]V) string {
	if len(m) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprint(k, " ", m[k]))
	}
	return strings.Join(parts, ", ")
}
