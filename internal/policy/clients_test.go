package policy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The Python and Node clients skip procd's deny list when they forward a
// non-root caller's environment; each keeps a copy of DeniedEnvNames
// between "BEGIN denied-env" and "END denied-env" lines, which must match.
func TestClientsDenyWhatProcdDenies(t *testing.T) {
	want := DeniedEnvNames()
	slices.Sort(want)
	for _, file := range []string{"clients/python/procd_client/config.py", "clients/node/index.js"} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			got := clientDenyList(t, filepath.Join("..", "..", file))
			if !slices.Equal(got, want) {
				t.Errorf("%s's deny list differs from policy.DeniedEnvNames:\n only in %s: %v\n only in Go: %v",
					file, file, minus(got, want), minus(want, got))
			}
		})
	}
}

// clientDenyList reads the quoted names between the markers, sorted.
func clientDenyList(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	begin, end := strings.Index(text, "BEGIN denied-env\n"), strings.Index(text, "END denied-env\n")
	if begin < 0 || end < begin {
		t.Fatalf("%s: no BEGIN denied-env … END denied-env block", file)
	}
	var names []string
	for _, m := range regexp.MustCompile(`["']([^"'\n]+)["']`).FindAllStringSubmatch(text[begin:end], -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return names
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
