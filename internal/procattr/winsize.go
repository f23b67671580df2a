package procattr

// WindowSize is a terminal's size in character cells.
type WindowSize struct {
	Rows, Cols uint16
}
