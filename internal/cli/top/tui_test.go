package top

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

func newTestModel(t *testing.T, f *fake, o Options) *model {
	t.Helper()
	o.Where = "test.sock"
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	m := newModel(context.Background(), f, o)
	run(m, tea.WindowSizeMsg{Width: 100, Height: 14})
	run(m, m.fetchCmd()()) // Init, less its tick (which would wait an interval)
	if !m.loaded {
		t.Fatalf("no refresh: %s", m.View())
	}
	return m
}

// selectedLine is the screen's line that carries the cursor mark.
func selectedLine(t *testing.T, m *model) string {
	t.Helper()
	for _, l := range strings.Split(m.View(), "\n") {
		if strings.HasPrefix(l, cursorMark) {
			return l
		}
	}
	t.Fatalf("no selected row on screen:\n%s", m.View())
	return ""
}

func TestModelStopAfterConfirmation(t *testing.T) {
	f := &fake{procs: table()}
	m := newTestModel(t, f, Options{})
	if l := selectedLine(t, m); !strings.Contains(l, "p-1") {
		t.Fatalf("first row not selected: %q", l)
	}
	run(m, press("down"))
	run(m, press("x"))
	if v := m.View(); !strings.Contains(v, "Stop p-2 (busy-fuzzer-with-a-very-long-name, pid 202)") || !strings.Contains(v, "[y/N]") {
		t.Fatalf("no confirmation prompt:\n%s", v)
	}
	run(m, press("n"))
	if len(f.stops) != 0 || !strings.Contains(m.View(), "cancelled: p-2 left running") {
		t.Fatalf("stopped without a y: %v\n%s", f.stops, m.View())
	}
	run(m, press("x"))
	run(m, press("y"))
	if len(f.stops) != 1 || f.stops[0] != "p-2" {
		t.Fatalf("stops %v, want p-2", f.stops)
	}
	if v := m.View(); !strings.Contains(v, "p-2 (busy-fuzzer-with-a-very-long-name, pid 202) stopped: SIGTERM, stopped") {
		t.Fatalf("no outcome:\n%s", v)
	}
	run(m, press("k"))
	if !strings.Contains(m.View(), "Kill p-2") {
		t.Fatalf("no kill prompt:\n%s", m.View())
	}
	run(m, press("y"))
	if len(f.signals) != 1 || f.signals[0] != "p-2 SIGKILL" || !strings.Contains(m.View(), "SIGKILL sent to p-2") {
		t.Fatalf("signals %v\n%s", f.signals, m.View())
	}
}

func TestModelSortFilterKeepSelection(t *testing.T) {
	f := &fake{procs: table()}
	m := newTestModel(t, f, Options{})
	run(m, press("down")) // p-2
	run(m, press("P"))
	v := m.View()
	if !strings.Contains(v, "sort: cpu ↓") || !strings.Contains(selectedLine(t, m), "p-2") {
		t.Fatalf("after P:\n%s", v)
	}
	if i := strings.Index(v, "p-2"); i < 0 || i > strings.Index(v, "p-1") || i > strings.Index(v, "p-3") {
		t.Fatalf("p-2 (busiest) not first:\n%s", v)
	}
	run(m, press("/"))
	for _, r := range "campaign=b" {
		run(m, press(string(r)))
	}
	run(m, press("enter"))
	if v := m.View(); !strings.Contains(v, "1 of 3 shown") || strings.Contains(v, "p-2") || !strings.Contains(selectedLine(t, m), "p-3") {
		t.Fatalf("after filter campaign=b:\n%s", v)
	}
	run(m, press("esc"))
	run(m, press("f"))
	if !strings.Contains(m.View(), "filter: state:running") {
		t.Fatalf("f does not filter by state:\n%s", m.View())
	}
	run(m, press("/"))
	run(m, press("enter")) // keeps the filter
	run(m, press("/"))
	for _, r := range " state:dozing" {
		run(m, press(string(r)))
	}
	run(m, press("enter"))
	if !strings.Contains(m.View(), `unknown state "dozing"`) || m.mode != filtering {
		t.Fatalf("bad filter not refused:\n%s", m.View())
	}
}

func TestModelFinishedAndIterations(t *testing.T) {
	f := &fake{procs: table()}
	m := newTestModel(t, f, Options{Iterations: 2, Interval: time.Hour})
	if n := len(f.lists[len(f.lists)-1].GetStates()); n != len(liveStates) {
		t.Fatalf("first list asked for %d states, want the live ones", n)
	}
	_, cmd := m.Update(press("a"))
	msgs := drain(cmd)
	if len(f.lists[len(f.lists)-1].GetStates()) != 0 {
		t.Fatalf("a did not ask for finished records")
	}
	_, cmd = m.Update(msgs[0])
	if cmd == nil {
		t.Fatal("no quit after the second refresh")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("the second refresh did not quit the view (Iterations 2)")
	}
}

// Many rows scroll: the selection stays on screen.
func TestModelScrolls(t *testing.T) {
	f := &fake{}
	for i := range 30 {
		f.procs = append(f.procs, proc("p-"+string(rune('a'+i)), "n", int32(i+1), 0, 0, 0, nil))
	}
	m := newTestModel(t, f, Options{})
	for range 20 {
		run(m, press("down"))
	}
	if l := selectedLine(t, m); !strings.HasPrefix(l, cursorMark+"p-u") {
		t.Fatalf("selected %q, want p-u", l)
	}
	if n := len(strings.Split(m.View(), "\n")); n != 14 {
		t.Fatalf("view has %d lines, want the terminal's 14:\n%s", n, m.View())
	}
}

// Keys that arrive together ("/role=x" typed by a script) are each a key.
func TestModelKeysInOneMessage(t *testing.T) {
	f := &fake{procs: table()}
	m := newTestModel(t, f, Options{})
	run(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("/campaign=b")})
	run(m, press("enter"))
	if v := m.View(); !strings.Contains(v, "filter: campaign=b  1 of 3 shown") {
		t.Fatalf("typed at once, /campaign=b did not filter:\n%s", v)
	}
}
