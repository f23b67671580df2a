// Command procctl is the command-line client of procd. Everything lives in
// internal/cli; main only picks the exit code.
package main

import (
	"os"

	"github.com/procd/procd/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
