//go:build linux

package manager

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/events"
)

// BenchmarkHangKillLatency watches 1,000 silent processes whose hang
// deadlines fall 1 ms apart, and measures, for each, the time from its
// deadline (timeout + extra buffer after its last activity) to the return
// of the kill(2) that sent the stop signal to its group. Run it with
// -benchtime=1x: one iteration starts and kills 1,000 processes.
func BenchmarkHangKillLatency(b *testing.B) {
	const n = 1000
	for b.Loop() {
		bus := events.NewBus(8*n, nil)
		m := New(Config{}, rt, bus, zap.NewNop())
		sub, _ := bus.Subscribe(events.Filter{Types: []events.Type{events.SignalSent}}, nil)
		const base = 8 * time.Second // every process is started before the first deadline
		due := make(map[string]time.Time, n)
		for i := range n {
			timeout := base + time.Duration(i)*time.Millisecond
			info, err := m.Start(Spec{Command: []string{"sleep", "1000"}, Watchdog: WatchdogSpec{Timeout: &timeout, ExtraBuffer: new(time.Duration)}})
			if err != nil {
				b.Fatal(err)
			}
			due[info.ID] = m.clock.Wall(m.byIDLocked(info.ID).startMono + timeout + 1)
		}
		var lat []time.Duration
		for len(lat) < n {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			evs, err := sub.Next(ctx, make([]events.Event, 0, 256))
			cancel()
			if err != nil {
				b.Fatalf("after %d kills: %v", len(lat), err)
			}
			for _, e := range evs {
				if strings.Contains(e.Detail, "(hung)") {
					lat = append(lat, e.Time.Sub(due[e.ProcessID]))
				}
			}
		}
		sub.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		m.Shutdown(ctx)
		cancel()
		bus.Close()
		slices.Sort(lat)
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		b.ReportMetric(ms(lat[n/2]), "p50-ms")
		b.ReportMetric(ms(lat[n*99/100]), "p99-ms")
		b.ReportMetric(ms(lat[n-1]), "max-ms")
		b.ReportMetric(ms(lat[0]), "min-ms")
	}
}

// BenchmarkIdleCPUWatched measures the CPU the manager uses while 1,000
// processes are watched and idle (nothing due for an hour), against the
// same span with nothing watched, both in percent of one core.
func BenchmarkIdleCPUWatched(b *testing.B) {
	const n = 1000
	const span = 3 * time.Second
	for b.Loop() {
		bus := events.NewBus(4*n, nil)
		m := New(Config{}, rt, bus, zap.NewNop())
		baseline := cpuPercent(span)
		for range n {
			if _, err := m.Start(Spec{Command: []string{"sleep", "1000"}, Watchdog: WatchdogSpec{Timeout: new(time.Duration)}}); err != nil {
				b.Fatal(err)
			}
		}
		hour := time.Hour
		for range n {
			if _, err := m.Start(Spec{Command: []string{"sleep", "1000"}, Watchdog: WatchdogSpec{Timeout: &hour}}); err != nil {
				b.Fatal(err)
			}
		}
		if st := m.WatchdogStats(); st.Watched != n {
			b.Fatalf("watched %d", st.Watched)
		}
		watched := cpuPercent(span)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		m.Shutdown(ctx)
		cancel()
		bus.Close()
		b.ReportMetric(baseline, "idle-cpu-%-0-watched")
		b.ReportMetric(watched, "idle-cpu-%-1000-watched")
	}
}

// cpuPercent is this process's CPU use over span, in percent of one core.
func cpuPercent(span time.Duration) float64 {
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	t0 := time.Now()
	time.Sleep(span)
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := time.Duration(r1.Utime.Nano()+r1.Stime.Nano()-r0.Utime.Nano()-r0.Stime.Nano()) * time.Nanosecond
	return 100 * float64(cpu) / float64(time.Since(t0))
}

// byIDLocked looks a record up (tests only).
func (m *Manager) byIDLocked(id string) *record {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.byID[id]
}
