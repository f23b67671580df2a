//go:build linux

package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The operators' kit: deploy/grafana's dashboard and deploy/prometheus's
// alerting rules may only name metrics a running procd exports.

var deployDir = filepath.Join("..", "..", "deploy")

// PromQL pieces that are not metric names, removed before looking for
// names: string literals, label matchers, range and subquery brackets,
// Grafana variables, and the label lists of by/without/on/ignoring/
// group_left/group_right.
var (
	promStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promRanges   = regexp.MustCompile(`\[[^\]]*\]`)
	promVars     = regexp.MustCompile(`\$\{?\w+\}?`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promKeywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
		"group_left", "group_right", "inf", "nan", "Inf", "NaN", "atan2"}
	labelValues = regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,`)
)

// metricNames lists the metric names a PromQL expression selects: the
// identifiers left once the pieces above are removed, that are neither
// keywords, nor functions or aggregations (followed by "("), nor part of
// a number (1e3, the "m" of a duration).
func metricNames(expr string) []string {
	s := promStrings.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, " ")
	s = promRanges.ReplaceAllString(s, " ")
	s = promVars.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsAny(s[loc[0]-1:loc[0]], "0123456789.") {
			continue
		}
		if rest := strings.TrimLeft(s[loc[1]:], " \t\n"); strings.HasPrefix(rest, "(") || slices.Contains(promKeywords, name) {
			continue
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func TestMetricNamesFromPromQL(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (reason) (rate(procd_process_exits_total{reason!="EXITED", instance=~"$instance"}[$__rate_interval]))`: {"procd_process_exits_total"},
		`histogram_quantile(0.99, sum by (job, instance, le) (rate(x_seconds_bucket[15m]))) > 0.5`:                     {"x_seconds_bucket"},
		"(process_open_fds / process_max_fds > 0.8)\nand on (job, instance) procd_event_last_seq":                      {"process_open_fds", "process_max_fds", "procd_event_last_seq"},
		`1e3 * foo offset 5m unless bar{a="{b}"}`:                                                                      {"foo", "bar"},
		`sum without (instance) (a) / ignoring (x) group_left (y) b`:                                                   {"a", "b"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%q) = %q, want %q", expr, got, want)
		}
	}
}

// scrapeNames reads every metric name (histogram series included, as
// _bucket, _sum and _count) a running procd exports.
func scrapeNames(t *testing.T, d *daemon) map[string]bool {
	t.Helper()
	addr := logField(t, d, "serving metrics", "addr").(string)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// dashboardQueries walks the dashboard for every panel query ("expr") and
// the metric behind every templating query, and checks each panel has one.
func dashboardQueries(t *testing.T, file string) (exprs []string, templated []string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string           `json:"title"`
		UID    string           `json:"uid"`
		Panels []map[string]any `json:"panels"`
		Templ  struct {
			List []struct {
				Name       string `json:"name"`
				Type       string `json:"type"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("%s: no title, uid or panels", file)
	}
	var walk func(p map[string]any)
	walk = func(p map[string]any) {
		if p["type"] == "row" {
			for _, sub := range p["panels"].([]any) {
				walk(sub.(map[string]any))
			}
			return
		}
		targets, _ := p["targets"].([]any)
		if len(targets) == 0 {
			t.Errorf("%s: panel %q has no query", file, p["title"])
		}
		for _, tg := range targets {
			expr, _ := tg.(map[string]any)["expr"].(string)
			if expr == "" {
				t.Errorf("%s: panel %q has a target without expr", file, p["title"])
			}
			exprs = append(exprs, expr)
		}
	}
	for _, p := range dash.Panels {
		walk(p)
	}
	for _, v := range dash.Templ.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("%s: variable %q: query %q is not label_values(METRIC, LABEL)", file, v.Name, v.Definition)
			continue
		}
		templated = append(templated, m[1])
	}
	return exprs, templated
}

// alertExprs reads every rule's expression.
func alertExprs(t *testing.T, file string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	out := map[string]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: group %s: a rule without alert, expr, severity or summary: %+v", file, g.Name, r)
			}
			out[r.Alert] = r.Expr
		}
	}
	return out
}

// Issue 19, must-show 4: every metric the dashboard and the alerting rules
// name is one a running procd exports; promtool checks and unit-tests the
// rules, and parses every dashboard query.
func TestOperatorsKitNamesExportedMetrics(t *testing.T) {
	// Long on purpose: every metric the dashboard and alerts name, checked against a live procd.
	d := startDaemon(t, "--metrics-addr", "127.0.0.1:0")
	d.mustCtl("run", "true")
	d.ctl("run", "--timeout", "0.2", "--extra-buffer", "0.1", "sleep", "10") // a hung kill
	exported := scrapeNames(t, d)

	dashboard := filepath.Join(deployDir, "grafana", "procd-dashboard.json")
	rulesFile := filepath.Join(deployDir, "prometheus", "procd-alerts.yaml")
	exprs, templated := dashboardQueries(t, dashboard)
	alerts := alertExprs(t, rulesFile)
	if len(exprs) < 10 || len(alerts) < 3 {
		t.Fatalf("%d dashboard queries and %d alerts: the files were not read as expected", len(exprs), len(alerts))
	}
	named := map[string]bool{}
	checkExpr := func(where, expr string) {
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: %q names no metric", where, expr)
		}
		for _, n := range names {
			named[n] = true
			if !exported[n] {
				t.Errorf("%s: %q names %s, which procd does not export", where, expr, n)
			}
		}
	}
	for _, e := range exprs {
		checkExpr(filepath.Base(dashboard), e)
	}
	for _, m := range templated {
		checkExpr(filepath.Base(dashboard)+" templating", m)
	}
	for name, e := range alerts {
		checkExpr(filepath.Base(rulesFile)+" "+name, e)
	}
	// The panels the issue asks for, by the metrics they show.
	for _, want := range []string{"procd_processes", "procd_process_starts_total", "procd_process_start_failures_total",
		"procd_process_exits_total", "procd_watchdog_kills_total", "procd_watchdog_kill_latency_seconds_bucket",
		"procd_output_bytes_total", "procd_output_dropped_bytes_total", "procd_batch_jobs", "procd_event_subscribers",
		"process_open_fds", "process_max_fds", "go_goroutines", "process_resident_memory_bytes",
		"procd_process_restarts_total", "procd_crash_loops_total"} {
		if !named[want] {
			t.Errorf("no dashboard query or alert shows %s", want)
		}
	}
	var list []string
	for n := range named {
		list = append(list, n)
	}
	sort.Strings(list)
	t.Logf("%d dashboard queries and %d alerts name %d metrics: %s", len(exprs), len(alerts), len(list), strings.Join(list, " "))

	t.Run("promtool", func(t *testing.T) {
		promtool, err := exec.LookPath("promtool")
		if err != nil {
			t.Skip("promtool not installed (Debian package prometheus): the rules are not checked by it")
		}
		for _, args := range [][]string{{"check", "rules", "procd-alerts.yaml"}, {"test", "rules", "procd-alerts.test.yaml"}} {
			cmd := exec.Command(promtool, args...)
			cmd.Dir = filepath.Dir(rulesFile)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			} else {
				t.Logf("promtool %s: %s", strings.Join(args, " "), bytes.TrimSpace(out))
			}
		}
		// The dashboard's queries parse: as recording rules, with
		// Grafana's variables given values.
		var rec bytes.Buffer
		rec.WriteString("groups:\n  - name: dashboard\n    rules:\n")
		vars := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*")
		for i, e := range exprs {
			q, _ := json.Marshal(vars.Replace(e))
			fmt.Fprintf(&rec, "      - record: dashboard:query%d\n        expr: %s\n", i, q)
		}
		recFile := filepath.Join(t.TempDir(), "dashboard-queries.yaml")
		os.WriteFile(recFile, rec.Bytes(), 0o644)
		if out, err := exec.Command(promtool, "check", "rules", recFile).CombinedOutput(); err != nil {
			t.Errorf("the dashboard's queries do not parse: %v\n%s", err, out)
		}
	})
}
