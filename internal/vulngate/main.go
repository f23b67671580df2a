// Command vulngate turns govulncheck's JSON stream into make lint's verdict.
//
// govulncheck fails on every advisory whose vulnerable symbol procd's code
// can reach, and most of those are in the standard library, which only a
// newer Go toolchain fixes. procd builds with the machine's Go (a fixed
// choice of the project), so such an advisory cannot always be fixed by a
// change here. vulngate keeps the check a gate anyway: every reachable
// advisory must be fixed or listed, with its reason, in the accept file
// (vulncheck-accept.txt); a new one, in any module, fails. An entry names
// the toolchain or module version that fixes it, so the list empties itself
// as the toolchain moves: an entry whose advisory no longer shows is
// reported as stale (a note, not a failure: a machine with a newer Go
// patch release is not wrong), so that its line gets removed.
//
// Usage: govulncheck -json ./... | vulngate -accept vulncheck-accept.txt
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// message is one object of govulncheck's JSON stream (protocol v1.0.0);
// only the parts vulngate reads.
type message struct {
	Config *struct {
		DB             string `json:"db"`
		DBLastModified string `json:"db_last_modified"`
		GoVersion      string `json:"go_version"`
		ScannerVersion string `json:"scanner_version"`
	} `json:"config"`
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string  `json:"osv"`
		FixedVersion string  `json:"fixed_version"`
		Trace        []frame `json:"trace"`
	} `json:"finding"`
}

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
}

// advisory is a reachable advisory: its vulnerable symbol is called.
type advisory struct {
	id, summary, module, version, fixed string
	symbols                             map[string]bool
}

func main() {
	accept := flag.String("accept", "vulncheck-accept.txt", "file of accepted advisories: `ID reason...` per line, # comments")
	flag.Parse()
	ok, err := run(os.Stdin, *accept, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulngate:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(in io.Reader, acceptPath string, out io.Writer) (bool, error) {
	accepted, err := readAccept(acceptPath)
	if err != nil {
		return false, err
	}
	found, summary, err := scan(in)
	if err != nil {
		return false, err
	}
	fmt.Fprintln(out, summary)
	return verdict(found, accepted, acceptPath, out), nil
}

// readAccept reads ID → reason. Every entry must give a reason.
func readAccept(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	acc := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, _ := strings.Cut(line, " ")
		if strings.TrimSpace(reason) == "" || !strings.HasPrefix(id, "GO-") {
			return nil, fmt.Errorf("%s:%d: want \"GO-YYYY-NNNN reason\", got %q", path, n, line)
		}
		acc[id] = strings.TrimSpace(reason)
	}
	return acc, sc.Err()
}

// scan collects the advisories whose symbols are called (trace[0] names a
// function), as govulncheck's own text mode fails on, and a line saying
// what was scanned against which database.
func scan(in io.Reader) (map[string]*advisory, string, error) {
	dec := json.NewDecoder(in)
	found := map[string]*advisory{}
	summaries := map[string]string{}
	var summary string
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, "", fmt.Errorf("reading govulncheck -json: %w", err)
		}
		switch {
		case m.Config != nil:
			c := m.Config
			summary = fmt.Sprintf("govulncheck %s, %s, database %s (modified %s)", c.ScannerVersion, c.GoVersion, c.DB, c.DBLastModified)
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0 && m.Finding.Trace[0].Function != "":
			f, top := m.Finding, m.Finding.Trace[0]
			a := found[f.OSV]
			if a == nil {
				a = &advisory{id: f.OSV, module: top.Module, version: top.Version, fixed: f.FixedVersion, symbols: map[string]bool{}}
				found[f.OSV] = a
			}
			a.symbols[symbol(top)] = true
		}
	}
	if summary == "" {
		return nil, "", errors.New("no config message: is the input govulncheck -json output?")
	}
	for id, a := range found {
		a.summary = summaries[id]
	}
	return found, summary, nil
}

func symbol(f frame) string {
	if f.Receiver != "" {
		return f.Package + "." + strings.TrimPrefix(f.Receiver, "*") + "." + f.Function
	}
	return f.Package + "." + f.Function
}

// verdict prints every reachable advisory as accepted or not, and every
// stale entry; it passes when all reachable advisories are accepted.
func verdict(found map[string]*advisory, accepted map[string]string, acceptPath string, out io.Writer) bool {
	ids := make([]string, 0, len(found))
	for id := range found {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	ok := true
	for _, id := range ids {
		a := found[id]
		syms := make([]string, 0, len(a.symbols))
		for s := range a.symbols {
			syms = append(syms, s)
		}
		sort.Strings(syms)
		if len(syms) > 3 {
			syms = append(syms[:3], fmt.Sprintf("%d more", len(a.symbols)-3))
		}
		where := fmt.Sprintf("%s %s@%s, fixed in %s, reached through %s", id, a.module, a.version, a.fixed, strings.Join(syms, ", "))
		if reason, yes := accepted[id]; yes {
			fmt.Fprintf(out, "  accepted  %s: %s\n            why: %s\n", where, a.summary, reason)
			continue
		}
		ok = false
		fmt.Fprintf(out, "  FAIL      %s: %s\n            upgrade the module (or the Go toolchain for stdlib), or list it with a reason in %s\n", where, a.summary, acceptPath)
	}
	var stale []string
	for id := range accepted {
		if found[id] == nil {
			stale = append(stale, id)
		}
	}
	sort.Strings(stale)
	for _, id := range stale {
		fmt.Fprintf(out, "  stale     %s is listed in %s but no longer reachable: remove its line\n", id, acceptPath)
	}
	fmt.Fprintf(out, "govulncheck: %d reachable advisories, %d accepted, %d stale entries: %s\n",
		len(found), len(found)-countFailed(found, accepted), len(stale), map[bool]string{true: "ok", false: "FAILED"}[ok])
	return ok
}

func countFailed(found map[string]*advisory, accepted map[string]string) int {
	n := 0
	for id := range found {
		if _, yes := accepted[id]; !yes {
			n++
		}
	}
	return n
}
