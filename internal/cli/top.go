package cli

import (
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/procd/procd/internal/cli/top"
	"github.com/procd/procd/internal/config"
)

func (a *app) topCmd() *cobra.Command {
	var o top.Options
	var interval config.Duration
	var labels []string
	var state, filter string
	var once, plain bool
	cmd := &cobra.Command{
		Use:   "top [-d INTERVAL] [-n N | --once] [--sort COL] [-l k=v]... [--state S] [--filter TEXT]",
		Short: "watch the processes live: CPU, memory, watchdog, output rate; stop or kill from the list",
		Long: `top shows procd's processes in a live table: id, name, state, pid, CPU % of one
core and memory of the whole tree (with cgroup containment), time since the last
activity and the watchdog's mark (ok, slow, HUNG), restarts, and output per second.
It refreshes every interval and at once when a process starts, ends, or turns slow
or hung. Finished processes (exited, failed, lost) are left out unless --all (or a
state filter that names them).

On a terminal it is interactive:
  ↑ ↓ pgup pgdn home end   select a process
  s / r                    sort by the next column / reverse the order
  P / M                    sort by CPU / by memory
  /                        filter: key=value (a label), state:S, or a word of the id or
                           name; terms are ANDed. S: running, slow (hung ones too), hung,
                           starting, stopping, backoff, exited, failed, lost
  f / esc                  filter by the next state / clear the filter
  a                        show finished processes too
  x / k                    stop (stop signal, grace, SIGKILL) / kill (SIGKILL) the selected
                           process, after a y to confirm
  ?  q                     all keys, quit
When stdout is not a terminal (or with --plain) it prints a plain table per refresh.`,
		Example: `  procctl top
  procctl top --sort cpu -l campaign=a
  procctl top --once --state hung | mail -s hung ops`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.json {
				return usagef("top has no --json form: use ps --json for the table, watch --json for changes")
			}
			if once {
				o.Iterations = 1
			}
			if o.Iterations < 0 {
				return usagef("--iterations %d: must be positive (0: until quit)", o.Iterations)
			}
			terms := append([]string(nil), labels...)
			if state != "" {
				terms = append(terms, "state:"+state)
			}
			if filter != "" {
				terms = append(terms, filter)
			}
			o.Filter = strings.Join(terms, " ")
			o.Interval = time.Duration(interval)
			o.CallTimeout = time.Duration(a.timeout)
			o.Where = a.opts.Where()
			c, err := a.dial()
			if err != nil {
				return err
			}
			o.Explain = a.explain
			if !plain && a.onTerminal() {
				return a.usage(top.RunTerminal(cmd.Context(), c.Process, o, a.stdin, a.stdout))
			}
			return a.usage(top.RunPlain(cmd.Context(), c.Process, o, a.stdout))
		},
	}
	interval = config.Duration(time.Second)
	f := cmd.Flags()
	f.VarP(&interval, "interval", "d", "time between refreshes (events refresh sooner)")
	f.IntVarP(&o.Iterations, "iterations", "n", 0, "stop after N refreshes (0: until quit)")
	f.BoolVar(&once, "once", false, "print one refresh and exit (-n 1)")
	f.BoolVar(&plain, "plain", false, "print a plain table per refresh even on a terminal")
	f.StringVar(&o.Sort, "sort", "id", "sort column: id (start order), name, state, pid, cpu, mem, idle, watchdog, restarts, output, labels")
	f.BoolVar(&o.Reverse, "reverse", false, "reverse the sort order")
	f.BoolVarP(&o.All, "all", "a", false, "include finished processes")
	f.StringArrayVarP(&labels, "label", "l", nil, "only processes with this label key=value (repeatable)")
	f.StringVar(&state, "state", "", "only processes in this state: running, slow (hung ones too), hung, starting, stopping, backoff, exited, failed or lost")
	f.StringVar(&filter, "filter", "", "initial filter, as typed after / (e.g. 'campaign=a state:hung fuzz')")
	return cmd
}

// onTerminal reports whether procctl's stdin and stdout are a terminal,
// which the interactive view needs.
func (a *app) onTerminal() bool {
	in, ok1 := a.stdin.(*os.File)
	out, ok2 := a.stdout.(*os.File)
	return ok1 && ok2 && term.IsTerminal(int(in.Fd())) && term.IsTerminal(int(out.Fd()))
}

// usage marks top's option errors (a bad sort column or filter) as usage
// errors; call errors are already the client's.
func (a *app) usage(err error) error {
	if top.IsOptionError(err) {
		return &usageError{err}
	}
	return err
}
