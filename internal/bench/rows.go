//go:build linux

package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/procd/procd/proto/procd/v1"
)

// rate runs fn from conc goroutines for d and returns calls per second.
func rate(conc int, d time.Duration, fn func() error) (float64, error) {
	r, _, err := rateN(conc, d, fn)
	return r, err
}

// rateN is rate, also returning how many calls completed.
func rateN(conc int, d time.Duration, fn func() error) (float64, int64, error) {
	var n atomic.Int64
	var firstErr error
	var once sync.Once
	deadline := time.Now().Add(d)
	t0 := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := fn(); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(t0).Seconds(), n.Load(), firstErr
}

// P3: 5,000 idle processes with output captured: daemon RSS and idle CPU;
// then starting until the fd ceiling must give RESOURCE_EXHAUSTED while the
// daemon keeps serving.
func p3ManyProcesses(cfg Config, t *Table) error {
	n := 5000
	idle := 5 * time.Second
	if cfg.Quick {
		n, idle = 50, 500*time.Millisecond
	}
	dm, err := startDaemon(cfg, "--max-processes", "-1", "--shutdown-timeout", "2m")
	if err != nil {
		return err
	}
	defer dm.stop()
	ctx := context.Background()
	spec := &pb.ProcessSpec{Command: []string{"sleep", "100000"}}
	start := func(count int) (int, error) {
		var started atomic.Int64
		var firstErr error
		var once sync.Once
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for started.Load() < int64(count) {
					if _, err := dm.c.StartProcess(ctx, &pb.StartProcessRequest{Spec: spec}); err != nil {
						once.Do(func() { firstErr = err })
						return
					}
					started.Add(1)
				}
			})
		}
		wg.Wait()
		return int(started.Load()), firstErr
	}
	if _, err := start(n); err != nil {
		return fmt.Errorf("starting %d processes: %w", n, err)
	}
	time.Sleep(time.Second) // let the start burst's garbage be collected
	pid := dm.cmd.Process.Pid
	cpu0, _ := cpuAndRSS(pid)
	time.Sleep(idle)
	cpu1, rss := cpuAndRSS(pid)
	cpuPct := 100 * float64(cpu1-cpu0) / float64(idle)
	t.Rows = append(t.Rows, Row{ID: "P3", Measure: fmt.Sprintf("%d idle processes: daemon RSS", n),
		Figure: fmt.Sprintf("%.1f MiB", float64(rss)/(1<<20)), Baseline: "-", Ratio: "-", Goal: "≤ 100 MB", Verdict: verdict(rss <= 100e6)})
	t.Rows = append(t.Rows, Row{ID: "P3", Measure: fmt.Sprintf("%d idle processes: daemon CPU", n),
		Figure: fmt.Sprintf("%.2f%% of a core", cpuPct), Baseline: "-", Ratio: "-", Goal: "≤ 2%", Verdict: verdict(cpuPct <= 2)})
	// Up to the ceiling. A smoke run lowers it, to get there in seconds.
	if cfg.Quick {
		lim := unix.Rlimit{Cur: 1024, Max: 1024}
		if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
			return fmt.Errorf("lowering the daemon's descriptor limit: %w", err)
		}
	}
	more, err := start(1 << 20)
	code := status.Code(err)
	_, statErr := dm.c.GetStats(ctx, &pb.GetStatsRequest{})
	serves := statErr == nil
	alive := dm.cmd.ProcessState == nil
	msg := ""
	if s, ok := status.FromError(err); ok {
		msg = s.Message()
	}
	t.Rows = append(t.Rows, Row{ID: "P3", Measure: "starting until the fd ceiling",
		Figure:   fmt.Sprintf("%d more started, then %s", more, code),
		Baseline: "-", Ratio: "-", Goal: "RESOURCE_EXHAUSTED, still serving",
		Verdict: verdict(code == codes.ResourceExhausted && serves && alive)})
	t.Notes = append(t.Notes, fmt.Sprintf("P3: at the ceiling (%d processes): %q", n+more, msg))
	if _, err = dm.c.StopProcess(ctx, &pb.StopProcessRequest{Target: &pb.StopProcessRequest_Selector{Selector: &pb.Selector{All: true}},
		Grace: durationpb.New(0)}); err != nil {
		return err
	}
	// With the processes gone, new clients get in again.
	conn, err := dm.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

// P4: capture throughput of a process writing 2 GiB, against a Go program
// reading the same kind of pipe into nothing.
func p4Capture(cfg Config, t *Table) error {
	size := int64(2 << 30)
	if cfg.Quick {
		size = 64 << 20
	}
	dm, err := startDaemon(cfg)
	if err != nil {
		return err
	}
	defer dm.stop()
	args := []string{"head", "-c", fmt.Sprint(size), "/dev/zero"}
	viaProcd := func() (time.Duration, error) {
		p, err := startWait(context.Background(), dm.c, &pb.ProcessSpec{Command: args})
		if err != nil {
			return 0, err
		}
		if got := p.GetStdout().GetTotalBytes(); got != size {
			return 0, fmt.Errorf("captured %d bytes of %d", got, size)
		}
		return p.GetFinishedAt().AsTime().Sub(p.GetStartedAt().AsTime()), nil
	}
	viaPipe := func() (time.Duration, error) {
		cmd := exec.Command(args[0], args[1:]...)
		out, _ := cmd.StdoutPipe()
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		buf := make([]byte, 64<<10)
		for {
			if _, err := out.Read(buf); err != nil {
				break
			}
		}
		return time.Since(t0), cmd.Wait()
	}
	viaSession := func() (time.Duration, error) { return pipeCapture(dm.c, args, size) }
	// Interleaved, median of three each: one run is at the mercy of the
	// host (a shared VM).
	var procdRuns, sessionRuns, directRuns []time.Duration
	for range 3 {
		for _, m := range []struct {
			f    func() (time.Duration, error)
			runs *[]time.Duration
		}{{viaProcd, &procdRuns}, {viaSession, &sessionRuns}, {viaPipe, &directRuns}} {
			d, err := m.f()
			if err != nil {
				return err
			}
			*m.runs = append(*m.runs, d)
		}
	}
	procd, session, direct := percentile(procdRuns, 0.5), percentile(sessionRuns, 0.5), percentile(directRuns, 0.5)
	mbs := func(d time.Duration) float64 { return float64(size) / (1 << 20) / d.Seconds() }
	ratio := mbs(procd) / mbs(direct)
	t.Rows = append(t.Rows, Row{ID: "P4", Measure: fmt.Sprintf("stdout capture, %d MiB (median of 3)", size>>20),
		Figure: fmt.Sprintf("%.0f MiB/s", mbs(procd)), Baseline: fmt.Sprintf("Go reading the pipe %.0f MiB/s", mbs(direct)),
		Ratio: fmt.Sprintf("%.2fx", ratio), Goal: "≥ 0.8x", Verdict: verdict(ratio >= 0.8)})
	ratio = mbs(session) / mbs(direct)
	t.Rows = append(t.Rows, Row{ID: "P4", Measure: "same, read by one lossless session on the local fast path (procctl run)",
		Figure: fmt.Sprintf("%.0f MiB/s", mbs(session)), Baseline: fmt.Sprintf("Go reading the pipe %.0f MiB/s", mbs(direct)),
		Ratio: fmt.Sprintf("%.2fx", ratio), Goal: "≥ 0.8x", Verdict: verdict(ratio >= 0.8)})
	return nil
}

// P5: procctl batch of `true` jobs at concurrency 8, against xargs -P 8 and
// GNU parallel -j 8.
func p5Batch(cfg Config, t *Table) error {
	jobs := 5000
	if cfg.Quick {
		jobs = 100
	}
	dm, err := startDaemon(cfg, "--retain-finished", "100")
	if err != nil {
		return err
	}
	defer dm.stop()
	input := strings.Repeat("true\n", jobs)
	run := func(name string, args ...string) (time.Duration, error) {
		cmd := exec.Command(name, args...)
		cmd.Stdin = strings.NewReader(input)
		t0 := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("%s: %v: %s", name, err, out)
		}
		return time.Since(t0), nil
	}
	procctl, err := run(cfg.Procctl, "--socket", dm.socket, "batch", "--max-concurrency", "8")
	if err != nil {
		return err
	}
	xargs, err := run("xargs", "-P", "8", "-d", "\n", "-I{}", "sh", "-c", "{}")
	if err != nil {
		return err
	}
	base := fmt.Sprintf("xargs -P 8 %.2fs", xargs.Seconds())
	if p, err := exec.LookPath("parallel"); err == nil {
		if par, err := run(p, "-j", "8"); err == nil {
			base += fmt.Sprintf("; GNU parallel %.2fs (procctl %.2fx)", par.Seconds(), procctl.Seconds()/par.Seconds())
		}
	} else {
		t.Notes = append(t.Notes, "P5: GNU parallel is not installed (Debian package parallel); its figure is missing")
	}
	ratio := procctl.Seconds() / xargs.Seconds()
	t.Rows = append(t.Rows, Row{ID: "P5", Measure: fmt.Sprintf("procctl batch, %d true jobs at -P 8", jobs),
		Figure: fmt.Sprintf("%.2fs", procctl.Seconds()), Baseline: base, Ratio: fmt.Sprintf("%.2fx xargs", ratio),
		Goal: "≤ 1.2x xargs", Verdict: verdict(ratio <= 1.2)})
	// What containment costs, as for P1.
	dm.stop()
	pg, err := startDaemon(cfg, "--retain-finished", "100", "--containment", "pgroup")
	if err != nil {
		return err
	}
	defer pg.stop()
	procctlPG, err := run(cfg.Procctl, "--socket", pg.socket, "batch", "--max-concurrency", "8")
	if err != nil {
		return err
	}
	t.Rows = append(t.Rows, Row{ID: "P5", Measure: "same, --containment pgroup",
		Figure: fmt.Sprintf("%.2fs", procctlPG.Seconds()), Baseline: fmt.Sprintf("xargs -P 8 %.2fs", xargs.Seconds()),
		Ratio: fmt.Sprintf("%.2fx xargs", procctlPG.Seconds()/xargs.Seconds()), Goal: "(for comparison)"})
	return nil
}

// EchoServer is the line echo server of P7 (this binary, run as
// "echo-server"): each line comes back at once.
func EchoServer() {
	r := bufio.NewReaderSize(os.Stdin, 64<<10)
	w := bufio.NewWriter(os.Stdout)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			w.Write(line)
			w.Flush()
		}
		if err != nil {
			return
		}
	}
}
