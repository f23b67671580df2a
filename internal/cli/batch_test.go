package cli

import (
	"errors"
	"testing"
)

// The two concurrency limits of batch, and the default of 5 per daemon.
func TestBatchConcurrencyLimits(t *testing.T) {
	for _, c := range []struct {
		name                string
		totalSet            bool
		total               int
		eachSet             bool
		each                int
		wantTotal, wantEach int
		wantOne             int
		bad                 bool
	}{
		{name: "neither: 5 per daemon", wantEach: 5, wantOne: 5},
		{name: "total only", totalSet: true, total: 12, wantTotal: 12, wantOne: 12},
		{name: "per daemon only", eachSet: true, each: 4, wantEach: 4, wantOne: 4},
		{name: "both", totalSet: true, total: 10, eachSet: true, each: 4, wantTotal: 10, wantEach: 4, wantOne: 4},
		{name: "zero total", totalSet: true, total: 0, bad: true},
		{name: "negative per daemon", eachSet: true, each: -1, bad: true},
	} {
		total, each, err := concurrency(c.totalSet, c.total, c.eachSet, c.each)
		var ue *usageError
		if c.bad != (err != nil) || (err != nil && !errors.As(err, &ue)) {
			t.Errorf("%s: error %v", c.name, err)
			continue
		}
		if c.bad {
			continue
		}
		if total != c.wantTotal || each != c.wantEach || oneDaemon(total, each) != c.wantOne {
			t.Errorf("%s: total %d, per daemon %d, one daemon %d", c.name, total, each, oneDaemon(total, each))
		}
	}
}
