// Command procd is the process supervisor daemon. It parses flags, builds
// the daemon, runs it until SIGTERM or SIGINT and picks the exit code; a
// second signal kills every managed process at once.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/procd/procd/internal/config"
	"github.com/procd/procd/internal/daemon"
	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/version"
)

func main() {
	proc.RunHelper() // procd doubles as its exec shim and guardian
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "procd:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	cfg := config.Default()
	root := &cobra.Command{
		Use:   "procd",
		Short: "procd supervises processes for fuzzers, test harnesses and automation",
		Long: `procd starts processes on request, ends whole process trees reliably, keeps every
exit status, captures output and publishes a resumable event stream. Clients talk
to it over gRPC on a Unix socket (procctl, or any gRPC client).

Every flag can also be set with an environment variable: --ring-size is
PROCD_RING_SIZE. Flags given on the command line win.

Signals: SIGTERM or SIGINT stop every process gracefully (bounded by
--shutdown-timeout) and exit 0; a second signal kills them all at once.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.String(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := config.ApplyEnv(cmd.Flags(), os.LookupEnv); err != nil {
				return err
			}
			return run(cfg)
		},
	}
	cfg.Bind(root.Flags())
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "print the version",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "procd", version.String()) },
	})
	return root
}

func run(cfg config.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	defer log.Sync()

	d, err := daemon.New(cfg, log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	go func() {
		sig := <-sigs
		log.Info("signal received; shutting down gracefully (send it again to kill everything now)", zap.String("signal", sig.String()))
		cancel()
		sig = <-sigs
		log.Warn("second signal; killing all processes now", zap.String("signal", sig.String()))
		d.KillNow()
	}()
	return d.Run(ctx)
}

func newLogger(cfg config.Config) (*zap.Logger, error) {
	var zc zap.Config
	if cfg.LogFormat == "console" {
		zc = zap.NewDevelopmentConfig()
		zc.DisableStacktrace = true
	} else {
		zc = zap.NewProductionConfig()
		zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	}
	lvl, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.Sampling = nil // never drop lines about processes
	return zc.Build()
}
