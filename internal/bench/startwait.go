//go:build linux

package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/procd/procd/internal/client"
	pb "github.com/procd/procd/proto/procd/v1"
)

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
// both, beside the CPU time the Go loop's own process spent per spawn in
// the same run (part of every spawn's kernel work — the clone, the pidfd,
// the wait and the reaping — runs in the parent and is charged to it, and
// its cost moves with the machine's speed of the day); and for reference
// the two-call form (StartProcess, then WaitForProcess) with cgroups.
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
	t.Notes = append(t.Notes, cg.note, pg.note)
	return nil
}

// p1CPURow is procd's CPU per start (cpu over n starts) beside the Go
// loop's parent-side CPU per spawn in the same run, and their ratio. The
// verdict is the absolute goal; the ratio is the figure that
// compares across days.
func p1CPURow(label string, goal, cpu time.Duration, n int64, base spawnLoop) (Row, string) {
	per := cpu / time.Duration(max(n, 1))
	floor := base.cpu / time.Duration(max(base.n, 1))
	msf := func(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }
	row := Row{ID: "P1", Measure: "procd CPU per start (utime+stime), " + label,
		Figure: msf(per), Baseline: "Go os/exec, its own CPU per spawn " + msf(floor),
		Ratio: fmt.Sprintf("%.2fx Go", float64(per)/float64(max(floor, 1))),
		Goal:  fmt.Sprintf("≤ %.1f ms", float64(goal)/float64(time.Millisecond)), Verdict: verdict(per <= goal)}
	note := fmt.Sprintf("P1 CPU per start, %s: procd %v over %d starts (8 clients); Go os/exec's process %v over %d spawns of /bin/true at 8 goroutines, the same run (utime+stime of the spawning process itself, children excluded)",
		label, cpu.Round(10*time.Millisecond), n, base.cpu.Round(time.Millisecond), base.n)
	return row, note
}

// spawnLoop is the result of a Go os/exec loop: its rate, the spawns it
// made and the CPU time of the process that made them (children excluded).
type spawnLoop struct {
	rate float64
	n    int64
	cpu  time.Duration
}

// goExecLoop runs the Go os/exec start+wait loop of /bin/true at conc
// goroutines for d in a process of its own (this program, run as
// "spawn-loop"), so that its CPU time is the loop's alone: the bench's
// own clients and connections are not in it.
func goExecLoop(cfg Config, conc int, d time.Duration) (spawnLoop, error) {
	out, err := exec.Command(cfg.Self, "spawn-loop", strconv.Itoa(conc), d.String()).Output()
	if err != nil {
		return spawnLoop{}, fmt.Errorf("the Go os/exec loop: %w", err)
	}
	var r spawnLoop
	var ns int64
	if _, err := fmt.Sscan(string(out), &r.rate, &r.n, &ns); err != nil {
		return spawnLoop{}, fmt.Errorf("the Go os/exec loop printed %q: %w", out, err)
	}
	r.cpu = time.Duration(ns)
	return r, nil
}

// SpawnLoop is the Go os/exec baseline of P1 (this binary, run as
// "spawn-loop CONC DURATION"): exec.Command("/bin/true").Run() from CONC
// goroutines for DURATION. It prints the rate, the spawns, and the
// process's own utime+stime over the loop in nanoseconds
// (getrusage(RUSAGE_SELF): every thread, no child).
func SpawnLoop(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: spawn-loop CONCURRENCY DURATION")
	}
	conc, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	d, err := time.ParseDuration(args[1])
	if err != nil {
		return err
	}
	cpu := func() time.Duration {
		var ru unix.Rusage
		unix.Getrusage(unix.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c0 := cpu()
	r, n, err := rateN(conc, d, func() error { return exec.Command("/bin/true").Run() })
	c1 := cpu()
	if err != nil {
		return err
	}
	_, err = fmt.Printf("%f %d %d\n", r, n, int64(c1-c0))
	return err
}

// p1Result is one containment's P1 rows, its CPU-per-start row and that
// row's raw counts (a note).
type p1Result struct {
	rows []Row
	cpu  Row
	note string
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
		base, err := goExecLoop(cfg, conc, d)
		if err != nil {
			return res, err
		}
		goExec := base.rate
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
		res.cpu, res.note = p1CPURow(label, goal.cpu, cpu, n, base)
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
