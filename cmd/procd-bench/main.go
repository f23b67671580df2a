//go:build linux

// Command procd-bench measures procd (see internal/bench) and prints one
// table: each figure beside a baseline measured in the same run.
//
//	procd-bench -procd bin/procd -procctl bin/procctl [-rows P1,P5] [-quick] [-profile DIR]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"

	"github.com/procd/procd/internal/bench"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "echo-server" {
		bench.EchoServer()
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "spawn-loop" {
		if err := bench.SpawnLoop(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "procd-bench spawn-loop:", err)
			os.Exit(1)
		}
		return
	}
	procd := flag.String("procd", "bin/procd", "procd binary")
	procctl := flag.String("procctl", "bin/procctl", "procctl binary")
	rows := flag.String("rows", "", "comma-separated rows to run (default all: P1..P7)")
	quick := flag.Bool("quick", false, "small runs (a smoke test, not figures)")
	daemonArgs := flag.String("daemon-args", "", "extra procd flags for every daemon, space-separated (to compare configurations)")
	profile := flag.String("profile", "", "write a CPU profile of each row's daemon into this directory")
	selfProfile := flag.String("cpuprofile", "", "write a CPU profile of procd-bench itself (the clients) to this file")
	flag.Parse()
	if *selfProfile != "" {
		f, err := os.Create(*selfProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "procd-bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "procd-bench:", err)
		os.Exit(1)
	}
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	if *profile != "" {
		if err := os.MkdirAll(*profile, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "procd-bench:", err)
			os.Exit(1)
		}
	}
	cfg := bench.Config{Procd: abs(*procd), Procctl: abs(*procctl), Self: self, Quick: *quick, ProfileDir: *profile}
	cfg.DaemonArgs = strings.Fields(*daemonArgs)
	if *rows != "" {
		cfg.Rows = strings.Split(*rows, ",")
	}
	t, err := bench.Run(cfg, os.Stderr)
	t.Print(os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "procd-bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}
