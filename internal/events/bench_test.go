//go:build unix

package events

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkCoalescedDelivery is P6's delivery without gRPC: 100
// subscriptions coalescing at 2 ms (batch WatchEvents handlers) follow
// events published every 250 µs (P6's closed-loop pace). It reports the
// process's CPU per event delivered (the publisher's pace is fixed, so
// that is the subscribers' wake-ups and copies) and events per Next (per
// message a handler would send). Run with -benchtime 4000x.
func BenchmarkCoalescedDelivery(b *testing.B) {
	const subs, every, window = 100, 250 * time.Microsecond, 2 * time.Millisecond
	bus := NewBus(4096, nil)
	ctx := context.Background()
	var nexts atomic.Int64
	var wg sync.WaitGroup
	for range subs {
		s, err := bus.Subscribe(Filter{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		s.Coalesce(window)
		wg.Go(func() {
			defer s.Close()
			buf := make([]Event, 0, 64)
			for got := 0; got < b.N; {
				evs, err := s.Next(ctx, buf[:0])
				if err != nil {
					b.Error(err)
					return
				}
				got += len(evs)
				nexts.Add(1)
			}
		})
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	t := time.NewTicker(every)
	defer t.Stop()
	for range b.N {
		<-t.C
		bus.Publish(Event{Type: Started})
	}
	wg.Wait()
	b.StopTimer()
	delivered := float64(b.N * subs)
	b.ReportMetric(float64(cpuTime()-cpu0)/delivered, "cpu-ns/delivery")
	b.ReportMetric(delivered/float64(nexts.Load()), "events/Next")
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
