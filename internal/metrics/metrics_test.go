package metrics

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/proc"
)

// scrape serves /metrics once over src.
func scrape(t *testing.T, src Sources) string {
	t.Helper()
	rec := httptest.NewRecorder()
	New(src).Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d\n%s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// The supervision counters exist before anything feeds them (dashboards
// and alerts name them), and report what Restarts says once it is wired.
func TestRestartCountersAndKillLatencyExistFromTheStart(t *testing.T) {
	rt, err := proc.NewRuntime(nil)
	if err != nil {
		t.Fatal(err)
	}
	bus := events.NewBus(64, nil)
	m := manager.New(manager.Config{}, rt, bus, zaptest.NewLogger(t))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Shutdown(ctx)
		bus.Close()
		rt.Close()
	})
	src := Sources{Manager: m, Events: bus}

	body := scrape(t, src)
	for _, want := range []string{
		`procd_process_restarts_total{reason="EXITED"} 0`,
		`procd_process_restarts_total{reason="HUNG"} 0`,
		`procd_process_restarts_total{reason="DEADLINE"} 0`,
		"procd_crash_loops_total 0",
		`procd_watchdog_kill_latency_seconds_count{reason="HUNG"} 0`,
		`procd_watchdog_kill_latency_seconds_count{reason="DEADLINE"} 0`,
		"process_open_fds ",
		"process_max_fds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("without a supervisor, /metrics lacks %q", want)
		}
	}

	src.Restarts = func() (map[manager.Reason]int64, int64) {
		return map[manager.Reason]int64{manager.ReasonExited: 7, manager.ReasonHung: 2}, 1
	}
	body = scrape(t, src)
	for _, want := range []string{
		`procd_process_restarts_total{reason="EXITED"} 7` + "\n",
		`procd_process_restarts_total{reason="HUNG"} 2` + "\n",
		`procd_process_restarts_total{reason="DEADLINE"} 0` + "\n",
		"procd_crash_loops_total 1\n",
		"# HELP procd_crash_loops_total Processes a restart policy gave up on",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("with a supervisor, /metrics lacks %q", want)
		}
	}
}
