//go:build linux

package bench

import (
	"context"
	"fmt"
	"time"

	pb "github.com/procd/procd/proto/procd/v1"
)

// p1Store prices the state store on the start path: P1 at 8 clients
// against a daemon keeping records in its state store (the default) and
// one with --store=false, in alternating rounds (on first, then off first)
// so that the machine's drift falls on both alike.
func p1Store(cfg Config, t *Table) error {
	rounds, d := 4, 1500*time.Millisecond
	if cfg.Quick {
		rounds, d = 2, 150*time.Millisecond
	}
	on, err := startDaemon(cfg, "--retain-finished", "100")
	if err != nil {
		return err
	}
	defer on.stop()
	off, err := startDaemon(cfg, "--retain-finished", "100", "--store=false")
	if err != nil {
		return err
	}
	defer off.stop()
	ctx := context.Background()
	spec := &pb.ProcessSpec{Command: []string{"/bin/true"}}
	measure := func(dm *daemon) (float64, error) {
		return rate(8, d, func() error { _, err := startWait(ctx, dm.c, spec); return err })
	}
	var sumOn, sumOff float64
	for i := range rounds {
		order := []*daemon{on, off}
		if i%2 == 1 {
			order = []*daemon{off, on}
		}
		for _, dm := range order {
			r, err := measure(dm)
			if err != nil {
				return err
			}
			if dm == on {
				sumOn += r
			} else {
				sumOff += r
			}
		}
	}
	ratio := sumOn / sumOff
	t.Rows = append(t.Rows, Row{ID: "P1S", Measure: "P1 at 8 clients with the state store on",
		Figure: fmt.Sprintf("%.0f/s", sumOn/float64(rounds)), Baseline: fmt.Sprintf("--store=false %.0f/s", sumOff/float64(rounds)),
		Ratio: fmt.Sprintf("%.2fx", ratio), Goal: "≥ 0.9x store off", Verdict: verdict(ratio >= 0.9)})
	return nil
}
