package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/procd/procd/proto/procd/v1"
)

var (
	jsonDoc  = protojson.MarshalOptions{Multiline: true, Indent: "  "}
	jsonLine = protojson.MarshalOptions{}
)

// printJSON writes one message as an indented JSON document.
func printJSON(w io.Writer, m proto.Message) error {
	b, err := jsonDoc.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// printJSONLine writes one message on one line (for streams).
func printJSONLine(w io.Writer, m proto.Message) error {
	b, err := jsonLine.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// shellQuote renders argv so it can be pasted into a shell.
func shellQuote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// stateName is a state without its enum prefix.
func stateName(s pb.ProcessState) string {
	return strings.TrimPrefix(s.String(), "PROCESS_STATE_")
}

func reasonName(r pb.ExitReason) string {
	return strings.TrimPrefix(r.String(), "EXIT_REASON_")
}

// exitSummary says how a process ended, e.g. "exit 3" or "SIGSEGV (core dumped)".
func exitSummary(e *pb.ExitStatus) string {
	if e == nil {
		return ""
	}
	if e.SignalNumber != nil {
		s := fmt.Sprintf("%s (signal %d)", e.GetSignal(), e.GetSignalNumber())
		if e.GetCoreDumped() {
			s += ", core dumped"
		}
		return s
	}
	return fmt.Sprintf("exit %d", e.GetExitCode())
}

// shortExit is exitSummary for tables.
func shortExit(e *pb.ExitStatus) string {
	if e == nil {
		return "-"
	}
	if e.SignalNumber != nil {
		return e.GetSignal()
	}
	return fmt.Sprint(e.GetExitCode())
}

func labelsString(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ",")
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond)
	case d < time.Second:
		return d.Round(time.Millisecond)
	default:
		return d.Round(10 * time.Millisecond)
	}
}

// printProcess writes the human form of one record.
func printProcess(w io.Writer, p *pb.Process) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("id", p.GetId())
	row("pid", fmt.Sprintf("%d (process group %d)", p.GetPid(), p.GetPgid()))
	row("name", p.GetName())
	row("state", stateName(p.GetState()))
	row("command", shellQuote(p.GetCommand()))
	row("executable", p.GetExecutable())
	if p.GetCwd() != "" {
		row("cwd", p.GetCwd())
	}
	if len(p.GetLabels()) > 0 {
		row("labels", labelsString(p.GetLabels()))
	}
	if p.GetRunAs() != "" {
		row("runs as", p.GetRunAs())
	}
	if p.GetCaller() != "" {
		row("started by", p.GetCaller())
	}
	row("started", p.GetStartedAt().AsTime().Local().Format(time.RFC3339Nano))
	if p.GetFinishedAt() != nil {
		row("finished", p.GetFinishedAt().AsTime().Local().Format(time.RFC3339Nano))
	}
	lost := p.GetState() == pb.ProcessState_PROCESS_STATE_LOST
	if lost {
		row("duration", "at most "+roundDuration(p.GetDuration().AsDuration()).String())
		row("lost", fmt.Sprintf("procd died while it was %s; the restarted procd found it gone at %s (procd's guardian ended its tree); how it ended is unknown",
			stateName(p.GetLastState()), p.GetLostAt().AsTime().Local().Format(time.RFC3339Nano)))
	} else {
		row("duration", roundDuration(p.GetDuration().AsDuration()).String())
	}
	if p.GetRestored() {
		row("restored", "kept by an earlier run of procd (its output was not kept)")
	}
	printReady(row, p)
	printExit(row, p.GetExit())
	printRestart(tw, p)
	printTree(row, p, lost)
	if lim := limitsSummary(p); lim != "" {
		row("limits", lim)
	}
	printActivity(row, p, lost)
	tw.Flush()
}

// printExit prints the rows of an exit status, if there is one.
func printExit(row func(k, v string), e *pb.ExitStatus) {
	if e == nil {
		return
	}
	row("exit", exitSummary(e))
	row("reason", reasonName(e.GetReason()))
	if e.GetLeftoversKilled() > 0 {
		row("leftovers", fmt.Sprintf("%d process(es) of the tree ended after the leader exited", e.GetLeftoversKilled()))
	}
	if e.GetOutputTruncated() {
		row("output", "pipes still held open by an escaped descendant; closed after the pipe wait")
	}
	if e.GetOomKilled() {
		row("oom", "the kernel killed a process of the tree for memory")
	}
	if u := e.GetRusage(); u != nil {
		row("resources", fmt.Sprintf("max RSS %s, user CPU %v, system CPU %v", humanBytes(u.GetMaxRssBytes()),
			roundDuration(u.GetUserCpu().AsDuration()), roundDuration(u.GetSystemCpu().AsDuration())))
	}
}

// printTree prints the cgroup of a process's tree and its usage.
func printTree(row func(k, v string), p *pb.Process, lost bool) {
	if p.GetCgroup() == "" {
		return
	}
	row("cgroup", p.GetCgroup())
	u := p.GetUsage()
	tree := fmt.Sprintf("CPU %v, peak memory %s", roundDuration(u.GetCpu().AsDuration()), humanBytes(u.GetMemoryPeakBytes()))
	switch {
	case u.GetMemoryPeakBytes() == 0 && u.GetMemoryCurrentBytes() == 0 && !lost:
		// A tree in a recycled cgroup (procd's default for trees
		// without limits) has no memory accounting of its own.
		tree = fmt.Sprintf("CPU %v, memory not measured (procd --exact-peak-memory, or a memory limit, measures it)",
			roundDuration(u.GetCpu().AsDuration()))
	case p.GetExit() == nil && !lost:
		tree += ", memory now " + humanBytes(u.GetMemoryCurrentBytes())
	}
	row("tree usage", tree)
}

// printActivity prints the last activity, the watchdog's view and the
// output counters.
func printActivity(row func(k, v string), p *pb.Process, lost bool) {
	last := p.GetLastActivity().AsTime().Local().Format(time.RFC3339Nano)
	if src := p.GetWatchdog().GetLastActivitySource(); src != pb.ActivitySource_ACTIVITY_SOURCE_UNSPECIFIED {
		last += " (" + sourceName(src) + ")"
	}
	row("last activity", last)
	if w := p.GetWatchdog(); w != nil {
		row("watchdog", watchdogSummary(w))
		if p.GetExit() == nil && !lost && w.GetIdle() != nil {
			state := "active"
			switch {
			case w.GetHung():
				state = "HUNG"
			case w.GetSlow():
				state = "slow"
			}
			row("idle", fmt.Sprintf("%v (%s)", roundDuration(w.GetIdle().AsDuration()), state))
		}
		if w.GetReady() || w.GetNotifyStatus() != "" {
			row("notify", fmt.Sprintf("ready=%v status=%q", w.GetReady(), w.GetNotifyStatus()))
		}
	}
	for _, s := range []struct {
		name string
		info *pb.OutputInfo
	}{{"stdout", p.GetStdout()}, {"stderr", p.GetStderr()}} {
		v := humanBytes(s.info.GetTotalBytes())
		if s.info.GetDroppedBytes() > 0 {
			v += fmt.Sprintf(" (%s dropped from the ring)", humanBytes(s.info.GetDroppedBytes()))
		}
		row(s.name, v)
	}
}

// printTable writes process rows.
func printTable(w io.Writer, ps []*pb.Process) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPID\tSTATE\tEXIT\tREASON\tDURATION\tNAME\tCOMMAND")
	for _, p := range ps {
		reason := "-"
		if p.GetExit() != nil {
			reason = reasonName(p.GetExit().GetReason())
		}
		cmd := shellQuote(p.GetCommand())
		if len(cmd) > 60 {
			cmd = cmd[:57] + "..."
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", p.GetId(), p.GetPid(), stateName(p.GetState()),
			shortExit(p.GetExit()), reason, roundDuration(p.GetDuration().AsDuration()), p.GetName(), cmd)
	}
	tw.Flush()
}

func sourceName(s pb.ActivitySource) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "ACTIVITY_SOURCE_"))
}

// watchdogSummary says how a process is watched, in one line.
func watchdogSummary(w *pb.WatchdogStatus) string {
	if !w.GetEnabled() {
		return "off"
	}
	var parts []string
	if t := w.GetTimeout().AsDuration(); t > 0 {
		hang := fmt.Sprintf("slow after %v, hung after %v", t, t+w.GetExtraBuffer().AsDuration())
		if w.GetAutoKill() {
			hang += " (then stopped)"
		} else {
			hang += fmt.Sprintf(" (SIGKILL after %v)", max(w.GetMaxHangTime().AsDuration(), t+w.GetExtraBuffer().AsDuration()))
		}
		parts = append(parts, hang)
		var srcs []string
		for _, s := range w.GetSources() {
			srcs = append(srcs, sourceName(s))
		}
		parts = append(parts, "activity: "+strings.Join(srcs, ","))
		if f := w.GetActivityFile(); f != "" {
			parts = append(parts, "file "+f)
		}
	}
	if d := w.GetDeadline(); d != nil {
		parts = append(parts, fmt.Sprintf("deadline %v", d.AsDuration()))
	}
	return strings.Join(parts, "; ")
}

func limitsSummary(p *pb.Process) string {
	var parts []string
	if v := p.GetMemoryMax(); v > 0 {
		parts = append(parts, "memory "+humanBytes(v))
	}
	if v := p.GetPidsMax(); v > 0 {
		parts = append(parts, fmt.Sprintf("pids %d", v))
	}
	if v := p.GetCpuMax(); v > 0 {
		parts = append(parts, fmt.Sprintf("cpu %g cores", v))
	}
	for _, r := range p.GetRlimits() {
		parts = append(parts, fmt.Sprintf("%s %s:%s", r.GetName(), rlimitValue(r.GetSoft()), rlimitValue(r.GetHard())))
	}
	return strings.Join(parts, ", ")
}

func rlimitValue(v uint64) string {
	if v == ^uint64(0) {
		return "unlimited"
	}
	return fmt.Sprint(v)
}
