package top

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	pb "github.com/procd/procd/proto/procd/v1"
)

// RunTerminal runs the interactive view on a terminal (in and out are its
// input and output) until the user quits, ctx ends, or o.Iterations
// refreshes were shown.
func RunTerminal(ctx context.Context, svc Service, o Options, in io.Reader, out io.Writer) error {
	if err := o.defaults(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := newModel(ctx, svc, o)
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithAltScreen())
	go watch(ctx, svc, o.Interval, func(evs []*pb.Event, err error) { p.Send(eventsMsg{evs, err}) })
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // the caller's context ended the view
	}
	return err
}

type mode int

const (
	normal     mode = iota
	filtering       // the '/' prompt is open
	confirming      // a stop or kill waits for y
)

// action is a stop or a kill waiting for its confirmation.
type action struct {
	kill bool
	id   string
	name string
	pid  int32
}

type (
	snapshotMsg struct {
		snap snapshot
		err  error
	}
	tickMsg   struct{}
	eventsMsg struct {
		events []*pb.Event
		err    error
	}
	actionMsg struct{ text string }
)

// model is the interactive view's state; bubbletea calls its methods from
// one goroutine, and the calls to procd run in commands.
type model struct {
	ctx   context.Context
	svc   Service
	opts  Options
	keys  keyMap
	help  help.Model
	input textinput.Model

	sampler  sampler
	snap     snapshot // the last good refresh
	loaded   bool
	all      []row // every row of snap
	rows     []row // the rows shown: filtered and sorted
	filter   filter
	sortCol  int
	reverse  bool
	finished bool // 'a': fetch finished records too

	selected      string // the selected row's process id
	offset        int    // the first row on screen
	width, height int

	mode            mode
	pending         action
	status          string // the last outcome of a key
	fetchErr        string // why the last refresh failed
	event           string // the last event, one line
	fetching, again bool
	frames          int
}

func newModel(ctx context.Context, svc Service, o Options) *model {
	f, _ := parseFilter(o.Filter) // checked by defaults
	col, _ := columnByKey(o.Sort)
	in := textinput.New()
	in.Prompt = "filter: "
	in.Placeholder = "key=value state:hung word (enter applies, esc cancels)"
	in.Cursor.SetMode(cursor.CursorStatic) // a blinking one redraws twice a second for nothing
	return &model{ctx: ctx, svc: svc, opts: o, keys: newKeyMap(), help: help.New(), input: in,
		filter: f, sortCol: col, reverse: o.Reverse, finished: o.All, sampler: sampler{window: o.Interval}}
}

func (m *model) Init() tea.Cmd { return tea.Batch(m.fetchCmd(), m.tickCmd()) }

func (m *model) tickCmd() tea.Cmd {
	return tea.Tick(m.opts.Interval, func(time.Time) tea.Msg { return tickMsg{} })
}

// fetchCmd starts a refresh, or asks for one more after the refresh in
// flight (an event may have come after it read the table).
func (m *model) fetchCmd() tea.Cmd {
	if m.fetching {
		m.again = true
		return nil
	}
	m.fetching = true
	ctx, svc, o, fin := m.ctx, m.svc, m.opts, m.finished || m.filter.finished()
	return func() tea.Msg {
		s, err := fetch(ctx, svc, &o, fin)
		return snapshotMsg{s, err}
	}
}

func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.Width = msg.Width
		m.scroll()
	case tickMsg:
		return m, tea.Batch(m.fetchCmd(), m.tickCmd())
	case snapshotMsg:
		return m, m.onSnapshot(msg)
	case eventsMsg:
		if msg.err != nil {
			m.event = fmt.Sprintf("events: %v (refreshing every %v)", m.opts.Explain(msg.err), m.opts.Interval)
			return m, nil
		}
		if len(msg.events) > 0 {
			m.event = describe(msg.events[len(msg.events)-1])
		}
		return m, m.fetchCmd()
	case actionMsg:
		m.status = msg.text
		return m, m.fetchCmd()
	case tea.KeyMsg:
		return m, m.onKey(msg)
	}
	return m, nil
}

func (m *model) onSnapshot(msg snapshotMsg) tea.Cmd {
	m.fetching = false
	m.fetchErr = ""
	if msg.err != nil {
		m.fetchErr = "refresh failed: " + msg.err.Error()
	} else {
		m.snap, m.loaded = msg.snap, true
		m.all = m.sampler.rows(msg.snap)
		m.refilter()
		m.frames++
		if m.opts.Iterations > 0 && m.frames >= m.opts.Iterations {
			return tea.Quit
		}
	}
	if m.again {
		m.again = false
		return m.fetchCmd()
	}
	return nil
}

// refilter recomputes the rows shown and keeps the selection on the same
// process, or on the row where it was if that process is gone.
func (m *model) refilter() {
	at := m.index()
	m.rows = visible(m.all, m.filter, m.sortCol, m.reverse)
	if m.index() < 0 {
		m.selectAt(max(at, 0))
	}
	m.scroll()
}

// index is the selected row's position in rows, or -1.
func (m *model) index() int {
	for i := range m.rows {
		if m.rows[i].p.GetId() == m.selected {
			return i
		}
	}
	return -1
}

func (m *model) selectAt(i int) {
	if len(m.rows) == 0 {
		m.selected = ""
		return
	}
	i = min(max(i, 0), len(m.rows)-1)
	m.selected = m.rows[i].p.GetId()
	m.scroll()
}

// scroll moves the window of rows on screen so that the selection is in it.
func (m *model) scroll() {
	n := m.bodyHeight()
	i := max(m.index(), 0)
	switch {
	case n <= 0 || len(m.rows) <= n:
		m.offset = 0
	case i < m.offset:
		m.offset = i
	case i >= m.offset+n:
		m.offset = i - n + 1
	}
	m.offset = min(m.offset, max(len(m.rows)-n, 0))
}

func (m *model) onKey(msg tea.KeyMsg) tea.Cmd {
	// Keys typed faster than the view reads them (or sent by a script)
	// arrive as one message of many runes: each is a key of its own.
	if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste {
		var cmds []tea.Cmd
		for _, r := range msg.Runes {
			cmds = append(cmds, m.onKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt}))
		}
		return tea.Batch(cmds...)
	}
	switch m.mode {
	case filtering:
		return m.onFilterKey(msg)
	case confirming:
		m.mode = normal
		if msg.String() != "y" && msg.String() != "Y" {
			m.status = "cancelled: " + m.pending.id + " left running"
			return nil
		}
		verb := "stopping"
		if m.pending.kill {
			verb = "killing"
		}
		m.status = fmt.Sprintf("%s %s…", verb, m.pending.id)
		return m.act(m.pending)
	}
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.Up, k.Down, k.PageUp, k.PageDown, k.Home, k.End):
		m.move(msg)
	case key.Matches(msg, k.Sort, k.Reverse, k.SortCPU, k.SortMem):
		m.resort(msg)
	case key.Matches(msg, k.Filter):
		m.mode, m.status = filtering, ""
		m.input.SetValue(m.filter.String())
		m.input.CursorEnd()
		return m.input.Focus()
	case key.Matches(msg, k.State):
		return m.setFilter(m.filter.nextState())
	case key.Matches(msg, k.Clear):
		m.status = ""
		return m.setFilter(filter{})
	case key.Matches(msg, k.Finished):
		m.finished = !m.finished
		return m.fetchCmd()
	case key.Matches(msg, k.Stop, k.Kill):
		m.confirm(key.Matches(msg, k.Kill))
	case key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
		m.scroll()
	}
	return nil
}

func (m *model) move(msg tea.KeyMsg) {
	i, page := m.index(), max(m.bodyHeight(), 1)
	switch k := m.keys; {
	case key.Matches(msg, k.Up):
		i--
	case key.Matches(msg, k.Down):
		i++
	case key.Matches(msg, k.PageUp):
		i -= page
	case key.Matches(msg, k.PageDown):
		i += page
	case key.Matches(msg, k.Home):
		i = 0
	case key.Matches(msg, k.End):
		i = len(m.rows) - 1
	}
	m.selectAt(i)
}

func (m *model) resort(msg tea.KeyMsg) {
	switch k := m.keys; {
	case key.Matches(msg, k.Sort):
		m.sortCol = (m.sortCol + 1) % len(columns)
		m.reverse = false
	case key.Matches(msg, k.Reverse):
		m.reverse = !m.reverse
	case key.Matches(msg, k.SortCPU):
		m.sortCol, _ = columnByKey("cpu")
		m.reverse = false
	case key.Matches(msg, k.SortMem):
		m.sortCol, _ = columnByKey("mem")
		m.reverse = false
	}
	m.refilter()
}

func (m *model) onFilterKey(msg tea.KeyMsg) tea.Cmd {
	switch msg.Type {
	case tea.KeyEnter:
		f, err := parseFilter(m.input.Value())
		if err != nil {
			m.status = err.Error()
			return nil
		}
		m.mode = normal
		m.input.Blur()
		m.status = ""
		return m.setFilter(f)
	case tea.KeyEsc:
		m.mode, m.status = normal, ""
		m.input.Blur()
		return nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return cmd
}

// setFilter applies f, fetching again when it changes whether finished
// records are wanted.
func (m *model) setFilter(f filter) tea.Cmd {
	refetch := f.finished() != m.filter.finished()
	m.filter = f
	m.refilter()
	if refetch {
		return m.fetchCmd()
	}
	return nil
}

// confirm asks before stopping or killing the selected process.
func (m *model) confirm(kill bool) {
	i := m.index()
	if i < 0 {
		m.status = "no process selected"
		return
	}
	p := m.rows[i].p
	if finished(p) {
		m.status = p.GetId() + " has already finished"
		return
	}
	m.pending = action{kill: kill, id: p.GetId(), name: p.GetName(), pid: p.GetPid()}
	m.mode = confirming
}
