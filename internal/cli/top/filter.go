package top

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// states a filter can name: the process states and the watchdog's marks.
// A hung process is slow too (as the daemon counts them). The last three
// are final: the view fetches them only when asked.
var states = []string{"running", "slow", "hung", "starting", "stopping", "backoff", "exited", "failed", "lost"}

// filter selects rows. Its text is space-separated terms, all of which
// must match: key=value (a label), state:S (one of states), or a word
// found in the id or the name.
type filter struct {
	labels map[string]string
	state  string
	words  []string
}

func parseFilter(text string) (filter, error) {
	var f filter
	for _, t := range strings.Fields(text) {
		switch k, v, isLabel := strings.Cut(t, "="); {
		case strings.HasPrefix(t, "state:"):
			s := strings.ToLower(strings.TrimPrefix(t, "state:"))
			if !slices.Contains(states, s) {
				return filter{}, fmt.Errorf("filter %q: unknown state %q (one of %s)", t, s, strings.Join(states, ", "))
			}
			f.state = s
		case isLabel:
			if k == "" {
				return filter{}, fmt.Errorf("filter %q: a label term is key=value", t)
			}
			if f.labels == nil {
				f.labels = map[string]string{}
			}
			f.labels[k] = v
		default:
			f.words = append(f.words, strings.ToLower(t))
		}
	}
	return f, nil
}

// String is the filter in the syntax it was parsed from, terms in a fixed
// order.
func (f filter) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(f.labels)) {
		parts = append(parts, k+"="+f.labels[k])
	}
	if f.state != "" {
		parts = append(parts, "state:"+f.state)
	}
	return strings.Join(append(parts, f.words...), " ")
}

// finished reports whether the filter asks for finished records, which the
// view otherwise does not fetch.
func (f filter) finished() bool {
	return slices.Index(states, f.state) >= slices.Index(states, "exited")
}

func (f filter) match(r *row) bool {
	for k, v := range f.labels {
		if got, ok := r.p.GetLabels()[k]; !ok || got != v {
			return false
		}
	}
	switch f.state {
	case "":
	case "slow", "hung":
		if m := r.mark(); m != "HUNG" && (f.state == "hung" || m != "slow") {
			return false
		}
	default:
		if !strings.HasPrefix(stateText(r), f.state) {
			return false
		}
	}
	for _, w := range f.words {
		if !strings.Contains(strings.ToLower(r.p.GetId()), w) && !strings.Contains(strings.ToLower(r.p.GetName()), w) {
			return false
		}
	}
	return true
}

// nextState is the state the 'f' key moves the filter to: none, then each
// of states in turn.
func (f filter) nextState() filter {
	i := slices.Index(states, f.state) // -1 for none
	if i+1 < len(states) {
		f.state = states[i+1]
	} else {
		f.state = ""
	}
	return f
}
