package archtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/procd/procd"

// rules is what ARCHITECTURE.md states: each package's floor, and the
// packages some packages must never reach.
type rules struct {
	floor map[string]int // module-relative path → floor
	room  map[int]string // floor → room name
	never []arrow        // forbidden arrows
}

// arrow forbids every package in from to reach any package matching to.
type arrow struct {
	from []string
	to   []string // module-relative or absolute import paths; "x/..." matches x and below
	line int
}

// parseRules reads the Floors and "Arrows that must never exist" tables.
func parseRules(r io.Reader) (*rules, error) {
	rs := &rules{floor: map[string]int{}, room: map[int]string{}}
	sc := bufio.NewScanner(r)
	section := ""
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if h, ok := strings.CutPrefix(line, "## "); ok {
			section = h
			continue
		}
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if strings.Trim(cells[0], "-: ") == "" {
			continue // the header's rule
		}
		switch section {
		case "Floors":
			if cells[0] == "Floor" {
				continue
			}
			if len(cells) != 3 {
				return nil, fmt.Errorf("ARCHITECTURE.md:%d: a floor row has 3 cells (floor, room, packages)", n)
			}
			f, err := strconv.Atoi(cells[0])
			if err != nil {
				return nil, fmt.Errorf("ARCHITECTURE.md:%d: floor %q is not a number", n, cells[0])
			}
			rs.room[f] = cells[1]
			for _, p := range paths(cells[2]) {
				if prev, dup := rs.floor[p]; dup {
					return nil, fmt.Errorf("ARCHITECTURE.md:%d: %s is on floor %d already", n, p, prev)
				}
				rs.floor[p] = f
			}
		case "Arrows that must never exist":
			if cells[0] == "From" {
				continue
			}
			if len(cells) != 2 {
				return nil, fmt.Errorf("ARCHITECTURE.md:%d: an arrow row has 2 cells (from, must never reach)", n)
			}
			rs.never = append(rs.never, arrow{from: paths(cells[0]), to: paths(cells[1]), line: n})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rs.floor) == 0 || len(rs.never) == 0 {
		return nil, fmt.Errorf("ARCHITECTURE.md: no Floors table or no \"Arrows that must never exist\" table found")
	}
	return rs, nil
}

var backticked = regexp.MustCompile("`([^`]+)`")

func paths(cell string) []string {
	var out []string
	for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
		out = append(out, m[1])
	}
	return out
}

// pkg is what go list says of one package.
type pkg struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

// list runs go list -deps over the whole module for one GOOS.
func list(t *testing.T, root, goos string) map[string]*pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports,Standard", "./...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS="+goos, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("GOOS=%s go list -deps ./...: %v\n%s", goos, err, stderr.Bytes())
	}
	pkgs := map[string]*pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = &p
	}
	return pkgs
}

// rel is a module package's path relative to the module ("" if outside).
func rel(path string) (string, bool) {
	r, ok := strings.CutPrefix(path, module+"/")
	return r, ok
}

// matches reports whether import path p is one a rule names: a module
// path relative to the module, or any other path absolutely; "x/..."
// covers x and everything under it.
func matches(rule, p string) bool {
	if r, ok := rel(p); ok {
		p = r
	}
	if base, ok := strings.CutSuffix(rule, "/..."); ok {
		return p == base || strings.HasPrefix(p, base+"/")
	}
	return p == rule
}

// chain finds how from reaches a package matching rule, as a path of
// imports (nil if it does not).
func chain(pkgs map[string]*pkg, from, rule string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p != from && matches(rule, p) {
			var out []string
			for q := p; q != ""; q = prev[q] {
				out = append(out, short(q))
			}
			slices.Reverse(out)
			return out
		}
		if pk, ok := pkgs[p]; ok {
			for _, i := range pk.Imports {
				if _, seen := prev[i]; !seen {
					prev[i] = p
					queue = append(queue, i)
				}
			}
		}
	}
	return nil
}

func short(p string) string {
	if r, ok := rel(p); ok {
		return r
	}
	return p
}

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// check applies the rules to one GOOS's package graph and returns every
// violation, worded for the engineer who caused it.
func check(rs *rules, pkgs map[string]*pkg, goos string) []string {
	var bad []string
	var mine []string
	for path := range pkgs {
		if r, ok := rel(path); ok {
			mine = append(mine, r)
		}
	}
	slices.Sort(mine)
	for _, r := range mine {
		f, ok := rs.floor[r]
		if !ok {
			bad = append(bad, fmt.Sprintf("%s is on no floor: add it to the Floors table of ARCHITECTURE.md", r))
			continue
		}
		for _, imp := range pkgs[module+"/"+r].Imports {
			ir, ok := rel(imp)
			if !ok {
				continue
			}
			if g, ok := rs.floor[ir]; ok && g >= f {
				bad = append(bad, fmt.Sprintf("%s (floor %d, %s) imports %s (floor %d, %s): a floor imports only floors below it (GOOS=%s)",
					r, f, rs.room[f], ir, g, rs.room[g], goos))
			}
		}
	}
	for _, a := range rs.never {
		for _, from := range a.from {
			if _, ok := pkgs[module+"/"+from]; !ok {
				continue // reported below when it exists nowhere
			}
			for _, to := range a.to {
				if c := chain(pkgs, module+"/"+from, to); c != nil {
					bad = append(bad, fmt.Sprintf("forbidden arrow %s → %s (ARCHITECTURE.md:%d): %s (GOOS=%s)",
						from, to, a.line, strings.Join(c, " → "), goos))
				}
			}
		}
	}
	return bad
}

// The imports of every package of the module keep to the floors of
// ARCHITECTURE.md, and none of its forbidden arrows exists, on every OS
// procd builds for.
func TestFloors(t *testing.T) {
	root := repoRoot(t)
	f, err := os.Open(filepath.Join(root, "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, err := parseRules(f)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	reported := map[string]bool{}
	for _, goos := range []string{"linux", "darwin", "windows"} {
		pkgs := list(t, root, goos)
		for p := range pkgs {
			if r, ok := rel(p); ok {
				seen[r] = true
			}
		}
		for _, msg := range check(rs, pkgs, goos) {
			if key, _, _ := strings.Cut(msg, " (GOOS="); !reported[key] {
				reported[key] = true
				t.Error(msg)
			}
		}
	}
	// The document names only packages that exist.
	named := func(p string) {
		if !seen[p] && !strings.HasSuffix(p, "/...") && !strings.Contains(p, ".") {
			t.Errorf("ARCHITECTURE.md names %s, which is not a package of the module", p)
		}
	}
	for p := range rs.floor {
		named(p)
	}
	for _, a := range rs.never {
		for _, p := range a.from {
			named(p)
		}
	}
}

// The checker itself finds what it must: a floor violation, an unplaced
// package and a forbidden arrow reached indirectly.
func TestCheckFindsViolations(t *testing.T) {
	rs, err := parseRules(strings.NewReader("## Floors\n| Floor | Room | Packages |\n|--:|--|--|\n" +
		"| 0 | low | `internal/a` |\n| 1 | high | `internal/b`, `cmd/c` |\n" +
		"## Arrows that must never exist\n| From | Must never reach |\n|--|--|\n| `cmd/c` | `internal/a`, `example.com/x/...` |\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := func(p string) string { return module + "/" + p }
	pkgs := map[string]*pkg{
		m("internal/a"):   {ImportPath: m("internal/a"), Imports: []string{m("internal/b"), "example.com/x/y"}},
		m("internal/b"):   {ImportPath: m("internal/b"), Imports: []string{m("internal/a")}},
		m("cmd/c"):        {ImportPath: m("cmd/c"), Imports: []string{m("internal/b")}},
		m("internal/d"):   {ImportPath: m("internal/d")},
		"example.com/x/y": {ImportPath: "example.com/x/y"},
	}
	got := strings.Join(check(rs, pkgs, "linux"), "\n")
	for _, want := range []string{
		"internal/a (floor 0, low) imports internal/b (floor 1, high)",
		"internal/d is on no floor",
		"forbidden arrow cmd/c → internal/a (ARCHITECTURE.md:9): cmd/c → internal/b → internal/a",
		"forbidden arrow cmd/c → example.com/x/... (ARCHITECTURE.md:9): cmd/c → internal/b → internal/a → example.com/x/y",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("violations lack %q:\n%s", want, got)
		}
	}
}
