// Package cli is procctl, procd's command-line client: one file per verb,
// each a cobra command whose handler returns an error; Main turns errors
// into the exit codes documented in the help text.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/grpc/codes"

	"github.com/procd/procd/internal/client"
	"github.com/procd/procd/internal/config"
)

const exitCodesHelp = `Exit codes:
  0     success
  1     the operation failed for some process (see the message)
  N     run and wait: the process's own exit code
  128+N run and wait: the process was killed by signal N
  64    usage error, or the daemon rejected an argument (INVALID_ARGUMENT)
  65    the process is in the wrong state (FAILED_PRECONDITION, OUT_OF_RANGE)
  66    no such process, executable or directory (NOT_FOUND)
  69    procd is not reachable or is shutting down (UNAVAILABLE)
  70    internal error in procd
  75    a limit was reached; try again later (RESOURCE_EXHAUSTED)
  77    permission denied
  124   wait --timeout (or --rpc-timeout) expired
  130   interrupted`

// app holds what every command needs.
type app struct {
	opts    client.Options
	addrs   []string // --addr, repeatable for batch
	json    bool
	timeout config.Duration
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	conn    *client.Conn
}

// exitError carries an exit code without a message to print (run and wait
// pass the process's code through).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError marks command-line mistakes.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return &usageError{fmt.Errorf(format, args...)} }

// Main runs procctl with args and returns its exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.newRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if a.conn != nil {
		a.conn.Close()
	}
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(stderr, "procctl:", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return client.ExitUsage
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		return client.ExitCode(ce.Code)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return client.ExitTimeout
	}
	return client.ExitFailure
}

func (a *app) newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "procctl",
		Short: "procctl controls procd, the process supervisor daemon",
		Long: `procctl controls procd, the process supervisor daemon, over its gRPC socket.

Processes are named by their id (p-42) or their pid. --json prints protobuf JSON:
one document per command, or one line per message for streams (run, logs, watch).

Environment: PROCD_SOCKET, PROCD_ADDR, PROCD_TLS_CA, PROCD_TLS_CERT, PROCD_TLS_KEY and
PROCD_TOKEN_FILE set the flags of the same names.

Over TCP (--addr) procd wants proof of who you are, and gives you the role it maps
you to (control: everything; read: status, list, wait, events, output, stats):
  mTLS   --tls-ca ca.pem --tls-cert me.pem --tls-key me-key.pem
         (a certificate signed by procd's --client-ca, mapped by its --control-client
         or --read-client to cn:NAME, dns:NAME or uri:URI)
  token  --tls-ca ca.pem --token-file my.token
         (the file holds your token alone, or one line NAME ROLE TOKEN; plaintext
         only to a loopback address of a procd started with --insecure)
On the Unix socket procd knows you by your uid and groups; no flag is needed.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Name() == "help" {
				return nil
			}
			if err := config.ApplyClientEnv(cmd.Flags(), os.LookupEnv); err != nil {
				return err
			}
			if len(a.addrs) > 1 && cmd.Name() != "batch" {
				return usagef("--addr given %d times: only procctl batch spreads work over several daemons", len(a.addrs))
			}
			if len(a.addrs) > 0 {
				a.opts.Addr = a.addrs[0]
			}
			return nil
		},
	}
	// `procctl completion bash|zsh|fish|powershell` prints a completion
	// script (cobra's), listed in --help.
	pf := root.PersistentFlags()
	pf.StringVar(&a.opts.Socket, "socket", config.DefaultSocket(), "procd's Unix socket (env PROCD_SOCKET)")
	pf.StringArrayVar(&a.addrs, "addr", nil, "procd's TCP address host:port instead of the socket (env PROCD_ADDR); batch takes it repeatedly to fan out")
	pf.StringVar(&a.opts.TLSCA, "tls-ca", "", "CA certificate that signed procd's TLS certificate, for --addr (env PROCD_TLS_CA)")
	pf.StringVar(&a.opts.TLSCert, "tls-cert", "", "this client's certificate for mTLS, signed by procd's --client-ca (env PROCD_TLS_CERT)")
	pf.StringVar(&a.opts.TLSKey, "tls-key", "", "this client's private key for --tls-cert (env PROCD_TLS_KEY)")
	pf.StringVar(&a.opts.TokenFile, "token-file", "", "file holding this client's bearer token for --addr: the token alone, or a line NAME ROLE TOKEN (env PROCD_TOKEN_FILE)")
	pf.BoolVar(&a.json, "json", false, "print protobuf JSON")
	pf.Var(&a.timeout, "rpc-timeout", "deadline for each call to the daemon, e.g. 5s (0: none; streams and waits are not bounded by it)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })

	for _, c := range []*cobra.Command{
		a.startCmd(), a.runCmd(), a.waitCmd(), a.statusCmd(), a.psCmd(), a.signalCmd(), a.killCmd(),
		a.stopCmd(), a.heartbeatCmd(), a.rmCmd(), a.logsCmd(), a.watchCmd(), a.statsCmd(), a.versionCmd(),
		a.batchCmd(), a.attachCmd(), a.topCmd(),
	} {
		wrapArgs(c)
		root.AddCommand(c)
	}
	hideZeroDefaults(root)
	return root
}

// hideZeroDefaults keeps pflag from printing "(default 0s)" after a help
// text that gives the real default (the daemon's, usually), as pflag
// already does for its own zero durations and numbers.
func hideZeroDefaults(c *cobra.Command) {
	hide := func(f *pflag.Flag) {
		switch f.DefValue {
		case "0s", "0B", "0.0":
			f.DefValue = ""
		}
	}
	c.LocalFlags().VisitAll(hide)
	c.PersistentFlags().VisitAll(hide)
	for _, sub := range c.Commands() {
		hideZeroDefaults(sub)
	}
}

// local reports whether procctl talks to procd over the Unix socket, where
// procd runs on this machine and the caller's directory and environment
// mean something to it.
func (a *app) local() bool { return a.opts.Addr == "" }

// wrapArgs makes cobra's argument-count errors usage errors.
func wrapArgs(c *cobra.Command) {
	if c.Args == nil {
		return
	}
	check := c.Args
	c.Args = func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &usageError{fmt.Errorf("%s: %v (see procctl %s --help)", cmd.Name(), err, cmd.Name())}
		}
		return nil
	}
}

// dial connects on first use.
func (a *app) dial() (*client.Conn, error) {
	if a.conn != nil {
		return a.conn, nil
	}
	c, err := client.Dial(a.opts)
	if err != nil {
		return nil, err
	}
	a.conn = c
	return c, nil
}

// callCtx bounds one unary call by --rpc-timeout.
func (a *app) callCtx(parent context.Context) (context.Context, context.CancelFunc) {
	if a.timeout > 0 {
		return context.WithTimeout(parent, time.Duration(a.timeout))
	}
	return context.WithCancel(parent)
}

// explain converts a call error for the user.
func (a *app) explain(err error) error {
	if err == nil || a.conn == nil {
		return err
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		return err
	}
	e := a.conn.Explain(err)
	var ce2 *client.Error
	if errors.As(e, &ce2) && ce2.Code == codes.DeadlineExceeded && a.timeout > 0 {
		ce2.Msg = fmt.Sprintf("no answer within --rpc-timeout %v: %s", time.Duration(a.timeout), ce2.Msg)
	}
	return e
}
