//go:build linux

// Package bench measures procd against the machine's limits and the tools
// users would pick instead, each figure beside a baseline measured in the
// same run (these machines are shared and noisy, so only ratios mean
// much). cmd/procd-bench runs it; make bench builds everything first.
//
// Every row starts its own daemon from the built procd binary on a
// temporary socket, so rows do not disturb each other.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/procd/procd/internal/client"
	pb "github.com/procd/procd/proto/procd/v1"
)

// Config says where the binaries are and how big the runs are.
type Config struct {
	Procd, Procctl string // built binaries
	Self           string // this executable (echo server helper)
	Quick          bool   // small runs, for the smoke test
	Rows           []string
	// ProfileDir, when set, receives a CPU profile of every daemon a row
	// starts (ROW-N.cpu.pprof, via PROCD_CPUPROFILE).
	ProfileDir string
	// DaemonArgs are extra procd flags for every daemon (to compare
	// configurations; the published figures use none).
	DaemonArgs []string

	row string // the row running, to name profiles
}

// Row is one line of the table.
type Row struct {
	ID, Measure, Figure, Baseline, Ratio, Goal, Verdict string
}

// Table is the result of a run.
type Table struct {
	Rows  []Row
	Notes []string
}

// Print writes the table.
func (t *Table) Print(w io.Writer) {
	var uts syscall.Utsname
	syscall.Uname(&uts)
	fmt.Fprintf(w, "procd benchmarks — %d cores, kernel %s, %s\n\n", runtime.NumCPU(), charsToString(uts.Release[:]), time.Now().UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "id\tmeasure\tprocd\tbaseline (same run)\tratio\tgoal\tmet")
	for _, r := range t.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Measure, r.Figure, r.Baseline, r.Ratio, r.Goal, r.Verdict)
	}
	tw.Flush()
	for _, n := range t.Notes {
		fmt.Fprintln(w, "  "+n)
	}
}

func charsToString(c []int8) string {
	var b strings.Builder
	for _, x := range c {
		if x == 0 {
			break
		}
		b.WriteByte(byte(x))
	}
	return b.String()
}

// Run runs the rows.
func Run(cfg Config, progress io.Writer) (*Table, error) {
	t := &Table{}
	rows := []struct {
		id string
		fn func(Config, *Table) error
	}{
		{"P1", p1StartWait}, {"P2", p2HangKill}, {"P3", p3ManyProcesses}, {"P4", p4Capture},
		{"P5", p5Batch}, {"P6", p6Events}, {"P7", p7Attach}, {"P1S", p1Store},
	}
	for _, r := range rows {
		if len(cfg.Rows) > 0 && !slices.Contains(cfg.Rows, r.id) {
			continue
		}
		fmt.Fprintf(progress, "running %s...\n", r.id)
		t0 := time.Now()
		cfg.row = r.id
		if err := r.fn(cfg, t); err != nil {
			return t, fmt.Errorf("%s: %w", r.id, err)
		}
		fmt.Fprintf(progress, "  %s took %v\n", r.id, time.Since(t0).Round(time.Second))
	}
	return t, nil
}

// daemon is a procd started for one row.
type daemon struct {
	dir, socket string
	cmd         *exec.Cmd
	conn        *grpc.ClientConn
	c           pb.ProcessServiceClient
	stopOnce    sync.Once
}

// daemons counts the daemons started, to name their profiles.
var daemons int

func startDaemon(cfg Config, args ...string) (*daemon, error) {
	dir, err := os.MkdirTemp("", "pdbench")
	if err != nil {
		return nil, err
	}
	d := &daemon{dir: dir, socket: filepath.Join(dir, "procd.sock")}
	d.cmd = exec.Command(cfg.Procd, append([]string{"--socket", d.socket, "--log-level", "warn",
		"--process-timeout", "0", "--retain-finished", "20000", "--state-dir", filepath.Join(dir, "state")}, append(args, cfg.DaemonArgs...)...)...)
	d.cmd.Stderr = os.Stderr
	if cfg.ProfileDir != "" {
		daemons++
		prof := filepath.Join(cfg.ProfileDir, fmt.Sprintf("%s-%d.cpu.pprof", cfg.row, daemons))
		d.cmd.Env = append(os.Environ(), "PROCD_CPUPROFILE="+prof)
	}
	// Pdeathsig: a bench killed mid-row (timeout, ^C) takes its daemon
	// with it, which then ends its trees and removes its cgroups.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	d.conn, err = d.dial()
	if err != nil {
		d.stop()
		return nil, err
	}
	d.c = pb.NewProcessServiceClient(d.conn)
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := healthpb.NewHealthClient(d.conn).Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil {
			return d, nil
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("procd did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dial opens a connection of its own, as a separate client (procctl)
// would, with the same options.
func (d *daemon) dial() (*grpc.ClientConn, error) {
	c, err := client.Dial(client.Options{Socket: d.socket})
	if err != nil {
		return nil, err
	}
	return c.ClientConn, nil
}

func (d *daemon) stop() { d.stopOnce.Do(d.doStop) }

func (d *daemon) doStop() {
	if d.conn != nil {
		d.conn.Close()
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		d.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(d.dir)
}

// cpuAndRSS reads a process's CPU time (user+system) and RSS from /proc.
func cpuAndRSS(pid int) (time.Duration, int64) {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	i := strings.LastIndexByte(string(b), ')')
	var ticks int64
	if i > 0 {
		f := strings.Fields(string(b)[i+2:])
		if len(f) > 13 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			ticks = u + s
		}
	}
	var rss int64
	if s, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status"); err == nil {
		sc := bufio.NewScanner(s)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
				rss = kb << 10
			}
		}
		s.Close()
	}
	return time.Duration(ticks) * 10 * time.Millisecond, rss // USER_HZ is 100
}

func percentile(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p * float64(len(s)-1))
	return s[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}
