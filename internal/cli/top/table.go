package top

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// gap is the space between columns.
const gap = "  "

// layout renders the header and one line per row, columns aligned. With
// width > 0 the lines fit in it: the labels column gives way first, then
// the name, and what still overflows is cut.
func layout(rows []row, width int) (header string, lines []string) {
	cells := make([][]string, len(rows))
	widths := make([]int, len(columns))
	for i, c := range columns {
		widths[i] = ansi.StringWidth(c.title)
	}
	for r := range rows {
		cells[r] = make([]string, len(columns))
		for i, c := range columns {
			s := c.text(&rows[r])
			cells[r][i] = s
			w := ansi.StringWidth(s)
			if c.max > 0 && w > c.max {
				w = c.max
			}
			widths[i] = max(widths[i], w)
		}
	}
	if width > 0 {
		fit(widths, width)
	}
	titles := make([]string, len(columns))
	for i, c := range columns {
		titles[i] = c.title
	}
	header = joinRow(titles, widths, width)
	lines = make([]string, len(rows))
	for r := range rows {
		lines[r] = joinRow(cells[r], widths, width)
	}
	return header, lines
}

// fit narrows the flexible columns so that the row fits in width: the
// labels down to a readable floor, then out altogether (a width of 0
// hides a column), then the name down to its floor.
func fit(widths []int, width int) {
	total := len(gap) * (len(widths) - 1)
	for _, w := range widths {
		total += w
	}
	labels, _ := columnByKey("labels")
	name, _ := columnByKey("name")
	for _, step := range []struct{ col, floor int }{{labels, 10}, {labels, 0}, {name, 8}} {
		over := total - width
		if over <= 0 || widths[step.col] <= step.floor {
			continue
		}
		cut := min(over, widths[step.col]-step.floor)
		if step.floor == 0 {
			cut = widths[step.col] + len(gap) // the whole column and its gap
		}
		widths[step.col] -= min(cut, widths[step.col])
		total -= cut
	}
}

func joinRow(cells []string, widths []int, width int) string {
	var b strings.Builder
	for i, s := range cells {
		w := widths[i]
		if w == 0 {
			continue
		}
		if i > 0 {
			b.WriteString(gap)
		}
		if ansi.StringWidth(s) > w {
			s = ansi.Truncate(s, w, "…")
		}
		pad := strings.Repeat(" ", w-ansi.StringWidth(s))
		if columns[i].right {
			b.WriteString(pad + s)
		} else if i < len(cells)-1 {
			b.WriteString(s + pad)
		} else {
			b.WriteString(s)
		}
	}
	line := b.String()
	if width > 0 && ansi.StringWidth(line) > width {
		line = ansi.Truncate(line, width, "")
	}
	return line
}
