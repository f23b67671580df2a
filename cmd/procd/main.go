// Command procd is the process supervisor daemon. It parses flags, builds
// the daemon, runs it until SIGTERM or SIGINT and picks the exit code; a
// second signal kills every managed process at once.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
	var configFile string
	root := &cobra.Command{
		Use:   "procd",
		Short: "procd supervises processes for fuzzers, test harnesses and automation",
		Long: `procd starts processes on request, ends whole process trees reliably, keeps every
exit status, captures output and publishes a resumable event stream. Clients talk
to it over gRPC on a Unix socket (procctl, or any gRPC client).

Settings come from the defaults, then --config FILE (TOML or YAML, keys named
like the flags; see procd config default), then PROCD_* environment variables
(--ring-size is PROCD_RING_SIZE), then the flags given on the command line.

Signals: SIGTERM or SIGINT stop every process gracefully (bounded by
--shutdown-timeout) and exit 0; a second signal kills them all at once.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.String(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := load(cmd.Flags(), configFile, &cfg); err != nil {
				return err
			}
			return run(cfg)
		},
	}
	cfg.Bind(root.Flags())
	root.Flags().StringVar(&configFile, "config", "", "read settings from this TOML or YAML file (command-line flags win)")
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(configCommand())
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

	// PROCD_CPUPROFILE=FILE profiles the daemon's whole life, for
	// benchmarks (procd-bench -profile); --pprof-addr serves live profiles.
	if f := os.Getenv("PROCD_CPUPROFILE"); f != "" {
		stop, err := cpuProfile(f)
		if err != nil {
			return err
		}
		defer stop()
	}
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

func cpuProfile(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("PROCD_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("PROCD_CPUPROFILE: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
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

// load applies the config file and then the environment to every flag
// the command line did not set.
func load(fs *pflag.FlagSet, file string, cfg *config.Config) error {
	cli := config.SetOnCommandLine(fs)
	if file == "" {
		file = os.Getenv("PROCD_CONFIG")
	}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("--config: %w", err)
		}
		defer f.Close()
		pol, err := config.LoadFile(fs, f, file, "", cli)
		if err != nil {
			return err
		}
		cfg.Policy = pol
	}
	return config.ApplyEnv(fs, os.LookupEnv, cli)
}

func configCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "print or check configuration files"}
	var format string
	cmd.AddCommand(&cobra.Command{
		Use:   "default",
		Short: "print the default configuration, every setting with a comment (TOML)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			d := config.Default()
			fs := pflag.NewFlagSet("procd", pflag.ContinueOnError)
			d.Bind(fs)
			return config.WriteDefault(c.OutOrStdout(), fs)
		},
	})
	check := &cobra.Command{
		Use:   "check FILE",
		Short: "check a configuration file (- or /dev/stdin for standard input)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			d := config.Default()
			fs := pflag.NewFlagSet("procd", pflag.ContinueOnError)
			d.Bind(fs)
			in := io.Reader(os.Stdin)
			name := args[0]
			if name != "-" {
				f, err := os.Open(name)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			pol, err := config.LoadFile(fs, in, name, format, nil)
			if err != nil {
				return err
			}
			d.Policy = pol
			if err := d.Validate(); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if _, err := daemon.CommandPolicy(&d); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			fmt.Fprintf(c.OutOrStdout(), "%s: ok\n", name)
			return nil
		},
	}
	check.Flags().StringVar(&format, "format", "", "toml or yaml (default: from the extension or the content)")
	cmd.AddCommand(check)
	return cmd
}
