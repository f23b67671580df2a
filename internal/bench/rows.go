//go:build linux

package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/procd/procd/internal/client"
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

// startWait starts a process and waits for it in one call (StartProcess
// with wait), the form a start+wait client uses. A daemon that answered
// before the process ended ignores the field (it is older than it): an
// error, not a silently cheaper loop.
func startWait(ctx context.Context, c pb.ProcessServiceClient, spec *pb.ProcessSpec) (*pb.Process, error) {
	s, err := c.StartProcess(ctx, &pb.StartProcessRequest{Spec: spec, Wait: &pb.StartWait{}})
	if err != nil {
		return nil, err
	}
	if p := s.GetProcess(); !client.Waited(p, false) {
		return nil, fmt.Errorf("%s is %v: the daemon answered before the process ended, so it ignores StartProcessRequest.wait (it is older than it); run it with a procd-bench of its own age", p.GetId(), p.GetState())
	}
	return s.GetProcess(), nil
}

// startThenWait is the two-call form: StartProcess, then WaitForProcess.
func startThenWait(ctx context.Context, c pb.ProcessServiceClient, spec *pb.ProcessSpec) (*pb.Process, error) {
	s, err := c.StartProcess(ctx, &pb.StartProcessRequest{Spec: spec})
	if err != nil {
		return nil, err
	}
	w, err := c.WaitForProcess(ctx, &pb.WaitForProcessRequest{Target: &pb.WaitForProcessRequest_Id{Id: s.GetProcess().GetId()}})
	return w.GetProcess(), err
}

// P1: start+wait of /bin/true in one call (StartProcess with wait),
// against os/exec from Go and a C posix_spawn loop, with a cgroup per tree
// (the default) and with process groups; procd's own CPU time per start in
// both, a figure the machine's speed of the day moves far less than a
// rate; and for reference the two-call form (StartProcess, then
// WaitForProcess) with cgroups.
func p1StartWait(cfg Config, t *Table) error {
	d := time.Duration(3 * time.Second)
	if cfg.Quick {
		d = 300 * time.Millisecond
	}
	cSpawn := cSpawnRate(d)
	cg, err := p1Daemon(cfg, d, "cgroup", []int{1, 8}, cSpawn)
	if err != nil {
		return err
	}
	pg, err := p1Daemon(cfg, d, "pgroup", []int{8}, nil)
	if err != nil {
		return err
	}
	t.Rows = append(t.Rows, cg.rows...)
	t.Rows = append(t.Rows, pg.rows...)
	t.Rows = append(t.Rows, cg.cpu, pg.cpu)
	return nil
}

// p1Result is one containment's P1 rows and its CPU-per-start row.
type p1Result struct {
	rows []Row
	cpu  Row
}

// p1Goals are the goals per containment: the rate against Go's at
// 8 clients, and procd's CPU per start.
var p1Goals = map[string]struct {
	ratio float64
	cpu   time.Duration
}{"cgroup": {0.6, 500 * time.Microsecond}, "pgroup": {0.8, 300 * time.Microsecond}}

// p1Daemon runs P1's loops against a daemon with the given containment.
// The CPU per start is the daemon's utime+stime (/proc/PID/stat) over the
// 8-client loop divided by the processes it started. With cgroups it adds
// the two-call reference row at 8 clients.
func p1Daemon(cfg Config, d time.Duration, containment string, concs []int, cSpawn map[int]float64) (p1Result, error) {
	var res p1Result
	dm, err := startDaemon(cfg, "--retain-finished", "100", "--containment", containment)
	if err != nil {
		return res, err
	}
	defer dm.stop()
	spec := &pb.ProcessSpec{Command: []string{"/bin/true"}}
	goal := p1Goals[containment]
	label := "cgroup per tree"
	if containment == "pgroup" {
		label = "--containment pgroup"
	}
	for _, conc := range concs {
		procd, n, cpu, err := p1Loop(dm, conc, d, spec, startWait)
		if err != nil {
			return res, err
		}
		goExec, _, err := rateN(conc, d, func() error { return exec.Command("/bin/true").Run() })
		if err != nil {
			return res, err
		}
		r := Row{ID: "P1", Measure: fmt.Sprintf("start+wait /bin/true in one call, %d client(s), %s", conc, label),
			Figure: fmt.Sprintf("%.0f/s", procd), Baseline: fmt.Sprintf("Go os/exec %.0f/s", goExec),
			Ratio: fmt.Sprintf("%.2fx", procd/goExec)}
		if c, ok := cSpawn[conc]; ok {
			r.Baseline += fmt.Sprintf("; C posix_spawn %.0f/s", c)
		}
		if conc != 8 {
			res.rows = append(res.rows, r)
			continue
		}
		r.Goal, r.Verdict = fmt.Sprintf("≥ %.1fx Go", goal.ratio), verdict(procd/goExec >= goal.ratio)
		per := cpu / time.Duration(max(n, 1))
		res.cpu = Row{ID: "P1", Measure: "procd CPU per start (utime+stime), " + label,
			Figure:   fmt.Sprintf("%.3f ms", float64(per)/float64(time.Millisecond)),
			Baseline: fmt.Sprintf("%v over %d starts", cpu.Round(10*time.Millisecond), n), Ratio: "-",
			Goal: fmt.Sprintf("≤ %.1f ms", float64(goal.cpu)/float64(time.Millisecond)), Verdict: verdict(per <= goal.cpu)}
		res.rows = append(res.rows, r)
		if containment == "cgroup" {
			two, n2, cpu2, err := p1Loop(dm, conc, d, spec, startThenWait)
			if err != nil {
				return res, err
			}
			res.rows = append(res.rows, Row{ID: "P1", Measure: "same in two calls (StartProcess, then WaitForProcess)",
				Figure:   fmt.Sprintf("%.0f/s, %.3f ms CPU per start", two, float64(cpu2/time.Duration(max(n2, 1)))/float64(time.Millisecond)),
				Baseline: fmt.Sprintf("Go os/exec %.0f/s", goExec), Ratio: fmt.Sprintf("%.2fx", two/goExec), Goal: "(for reference)"})
		}
	}
	return res, nil
}

// p1Loop runs f from conc clients for d against dm: the rate, the starts,
// and the daemon's CPU time over the loop.
func p1Loop(dm *daemon, conc int, d time.Duration, spec *pb.ProcessSpec,
	f func(context.Context, pb.ProcessServiceClient, *pb.ProcessSpec) (*pb.Process, error)) (float64, int64, time.Duration, error) {
	ctx := context.Background()
	cpu0, _ := cpuAndRSS(dm.cmd.Process.Pid)
	rate, n, err := rateN(conc, d, func() error { _, err := f(ctx, dm.c, spec); return err })
	cpu1, _ := cpuAndRSS(dm.cmd.Process.Pid)
	return rate, n, cpu1 - cpu0, err
}

// cSpawnRate compiles and runs a posix_spawn+waitpid loop of /bin/true in
// 1 and 8 processes (the machine's limit); empty without a C compiler.
func cSpawnRate(d time.Duration) map[int]float64 {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		if cc, err = exec.LookPath("cc"); err != nil {
			return nil
		}
	}
	dir, _ := os.MkdirTemp("", "pdbench-c")
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "spawn.c")
	os.WriteFile(src, []byte(`#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
extern char **environ;
int main(int argc, char **argv) {
	double secs = atof(argv[1]);
	struct timespec t0, t; clock_gettime(CLOCK_MONOTONIC, &t0);
	char *args[] = {"/bin/true", NULL};
	long n = 0;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		double el = (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
		if (el >= secs) { printf("%f\n", n / el); return 0; }
		pid_t pid;
		if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) != 0) return 1;
		int st; waitpid(pid, &st, 0); n++;
	}
}
`), 0o644)
	bin := filepath.Join(dir, "spawn")
	if out, err := exec.Command(cc, "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "C baseline skipped: %v\n%s", err, out)
		return nil
	}
	res := map[int]float64{}
	for _, conc := range []int{1, 8} {
		var mu sync.Mutex
		var total float64
		var wg sync.WaitGroup
		for range conc {
			wg.Go(func() {
				out, err := exec.Command(bin, fmt.Sprint(d.Seconds())).Output()
				var r float64
				if err == nil {
					fmt.Sscan(string(out), &r)
				}
				mu.Lock()
				total += r
				mu.Unlock()
			})
		}
		wg.Wait()
		res[conc] = total
	}
	return res
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
