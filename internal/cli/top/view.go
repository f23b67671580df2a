package top

import (
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	pb "github.com/procd/procd/proto/procd/v1"
)

var (
	titleStyle    = lipgloss.NewStyle().Bold(true)
	headerStyle   = lipgloss.NewStyle().Reverse(true)
	selectedStyle = lipgloss.NewStyle().Reverse(true).Bold(true)
	hungStyle     = lipgloss.NewStyle().Foreground(lipgloss.Color("1")).Bold(true)
	slowStyle     = lipgloss.NewStyle().Foreground(lipgloss.Color("3"))
	finishedStyle = lipgloss.NewStyle().Faint(true)
	promptStyle   = lipgloss.NewStyle().Foreground(lipgloss.Color("3")).Bold(true)
	faintStyle    = lipgloss.NewStyle().Faint(true)
)

// Marks in front of each row: the selection is visible without colour
// (and in a capture of the screen).
const (
	cursorMark = "> "
	noMark     = "  "
)

// topLines and the footer are the lines around the table's body.
const topLines = 3 // title, view line, header

func (m *model) footer() []string {
	var status string
	switch {
	case m.mode == filtering:
		hint := faintStyle.Render("key=value (label)  state:running|slow|hung|…|exited|failed  word (id or name) · enter · esc")
		if m.status != "" {
			hint = hungStyle.Render(m.status)
		}
		return []string{m.input.View(), hint}
	case m.mode == confirming:
		status = promptStyle.Render(m.prompt())
	case m.fetchErr != "":
		status = hungStyle.Render(m.fetchErr)
	case m.status != "":
		status = m.status
	default:
		status = faintStyle.Render(m.event)
	}
	return append([]string{status}, strings.Split(m.help.View(m.keys), "\n")...)
}

// bodyHeight is how many rows fit on screen (0: the size is unknown yet).
func (m *model) bodyHeight() int {
	if m.height == 0 {
		return 0
	}
	return max(m.height-topLines-len(m.footer()), 1)
}

func (m *model) prompt() string {
	a := m.pending
	if a.kill {
		return fmt.Sprintf("Kill %s (%s, pid %d)? [y/N]  SIGKILL to its process group", a.id, a.name, a.pid)
	}
	return fmt.Sprintf("Stop %s (%s, pid %d)? [y/N]  its stop signal, then SIGKILL after its grace", a.id, a.name, a.pid)
}

func (m *model) View() string {
	if !m.loaded {
		if m.fetchErr != "" {
			return m.fetchErr + "\n"
		}
		return "procd top: reading " + m.opts.Where + "…\n"
	}
	w := m.width
	var b strings.Builder
	line := func(s string) {
		if w > 0 {
			s = ansi.Truncate(s, w, "")
		}
		b.WriteString(s + "\n")
	}
	line(titleStyle.Render(title(&m.opts, m.snap)))
	line(viewLine(m.filter, m.sortCol, m.reverse, len(m.rows), len(m.all)))
	inner := 0
	if w > 0 {
		inner = max(w-len(noMark), 1)
	}
	header, lines := layout(m.rows, inner)
	line(headerStyle.Render(pad(noMark+header, w)))
	end := len(lines)
	if n := m.bodyHeight(); n > 0 {
		end = min(m.offset+n, len(lines))
	}
	for i := m.offset; i < end; i++ {
		line(m.styleRow(&m.rows[i], lines[i], w))
	}
	if n := m.bodyHeight(); n > 0 {
		for i := end - m.offset; i < n; i++ {
			b.WriteString("\n")
		}
	}
	for i, f := range m.footer() {
		if i > 0 {
			b.WriteString("\n")
		}
		if w > 0 {
			f = ansi.Truncate(f, w, "")
		}
		b.WriteString(f)
	}
	return b.String()
}

func (m *model) styleRow(r *row, text string, w int) string {
	if r.p.GetId() == m.selected {
		return selectedStyle.Render(pad(cursorMark+text, w))
	}
	text = noMark + text
	switch {
	case finished(r.p):
		return finishedStyle.Render(text)
	case r.mark() == "HUNG":
		return hungStyle.Render(text)
	case r.mark() == "slow":
		return slowStyle.Render(text)
	}
	return text
}

// pad fills s with spaces to width w, so that a highlight spans the line.
func pad(s string, w int) string {
	if n := w - ansi.StringWidth(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

// describe is one line about an event, for the status line.
func describe(e *pb.Event) string {
	typ := strings.ToLower(strings.TrimPrefix(e.GetType().String(), "EVENT_TYPE_"))
	s := fmt.Sprintf("%s  %s %s (%s, pid %d)", e.GetTime().AsTime().Local().Format(time.TimeOnly), typ,
		e.GetProcessId(), e.GetName(), e.GetPid())
	if d := e.GetDetail(); d != "" {
		s += ": " + d
	}
	return s
}

// act stops or kills the process of a, and says how that went. A stop
// waits until the tree is gone (its grace, at most), so it is not bounded
// by the read timeout.
func (m *model) act(a action) tea.Cmd {
	ctx, svc, explain := m.ctx, m.svc, m.opts.Explain
	return func() tea.Msg {
		if a.kill {
			resp, err := svc.SendSignal(ctx, &pb.SendSignalRequest{Target: &pb.SendSignalRequest_Id{Id: a.id}, Signal: "SIGKILL"})
			if err != nil {
				return actionMsg{fmt.Sprintf("kill %s: %v", a.id, explain(err))}
			}
			for _, r := range resp.GetResults() {
				if !r.GetDelivered() {
					return actionMsg{fmt.Sprintf("kill %s: not delivered: %s", a.id, r.GetError())}
				}
			}
			return actionMsg{fmt.Sprintf("%s sent to %s (%s, pid %d)", resp.GetSignal(), a.id, a.name, a.pid)}
		}
		resp, err := svc.StopProcess(ctx, &pb.StopProcessRequest{Target: &pb.StopProcessRequest_Id{Id: a.id}})
		if err != nil {
			return actionMsg{fmt.Sprintf("stop %s: %v", a.id, explain(err))}
		}
		if rs := resp.GetResults(); len(rs) > 0 { // one target: one result
			if rs[0].GetError() != "" {
				return actionMsg{fmt.Sprintf("stop %s: %s", a.id, rs[0].GetError())}
			}
			p := rs[0].GetProcess()
			return actionMsg{fmt.Sprintf("%s (%s, pid %d) stopped: %s", a.id, a.name, a.pid, exitText(p.GetExit()))}
		}
		return actionMsg{"stop " + a.id + ": no such process"}
	}
}

func exitText(e *pb.ExitStatus) string {
	reason := strings.ToLower(strings.TrimPrefix(e.GetReason().String(), "EXIT_REASON_"))
	if e.SignalNumber != nil {
		return e.GetSignal() + ", " + reason
	}
	return fmt.Sprintf("exit %d, %s", e.GetExitCode(), reason)
}
