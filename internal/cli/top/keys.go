package top

import "github.com/charmbracelet/bubbles/key"

// keyMap is the view's keys; help renders it.
type keyMap struct {
	Up, Down, PageUp, PageDown, Home, End key.Binding
	Sort, Reverse, SortCPU, SortMem       key.Binding
	Filter, State, Clear, Finished        key.Binding
	Stop, Kill, Help, Quit                key.Binding
}

func newKeyMap() keyMap {
	b := func(help string, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return keyMap{
		Up:       b("↑", "up", "up"),
		Down:     b("↓", "down", "down"),
		PageUp:   b("pgup", "page up", "pgup"),
		PageDown: b("pgdn", "page down", "pgdown"),
		Home:     b("home", "first", "home"),
		End:      b("end", "last", "end"),
		Sort:     b("s", "sort by next column", "s"),
		Reverse:  b("r", "reverse", "r"),
		SortCPU:  b("P", "sort by CPU", "P"),
		SortMem:  b("M", "sort by memory", "M"),
		Filter:   b("/", "filter", "/"),
		State:    b("f", "filter by state", "f"),
		Clear:    b("esc", "clear filter", "esc"),
		Finished: b("a", "show finished", "a"),
		Stop:     b("x", "stop", "x"),
		Kill:     b("k", "kill", "k"),
		Help:     b("?", "more keys", "?"),
		Quit:     b("q", "quit", "q", "ctrl+c"),
	}
}

// ShortHelp is the footer's one line.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Sort, k.SortCPU, k.Filter, k.State, k.Stop, k.Kill, k.Help, k.Quit}
}

// FullHelp is the footer after '?'.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Home, k.End},
		{k.Sort, k.Reverse, k.SortCPU, k.SortMem},
		{k.Filter, k.State, k.Clear, k.Finished},
		{k.Stop, k.Kill, k.Help, k.Quit},
	}
}
