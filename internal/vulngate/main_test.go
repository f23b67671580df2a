package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const stream = `{"config":{"scanner_version":"v1.9.0","go_version":"go1.26.8","db":"file:///db","db_last_modified":"2026-11-05T23:49:57Z"}}
{"osv":{"id":"GO-2026-0001","summary":"called, accepted"}}
{"osv":{"id":"GO-2026-0002","summary":"called, not accepted"}}
{"finding":{"osv":"GO-2026-0001","fixed_version":"v1.26.9","trace":[{"module":"stdlib","version":"v1.26.8","package":"net/http","function":"Serve","receiver":"*Server"},{"module":"example.com/m","package":"example.com/m/a","function":"Run"}]}}
{"finding":{"osv":"GO-2026-0002","fixed_version":"v0.62.0","trace":[{"module":"golang.org/x/net","version":"v0.60.0","package":"golang.org/x/net/http2","function":"ReadFrame","receiver":"*Framer"}]}}
{"finding":{"osv":"GO-2026-0003","fixed_version":"v0.62.0","trace":[{"module":"golang.org/x/net","version":"v0.60.0"}]}}
`

func writeAccept(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "accept.txt")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A called advisory not in the accept file fails the gate and says which
// and how to fix it; a module-only finding (nothing calls it) does not
// count; a listed advisory that no longer shows is noted as stale.
func TestGateFailsOnAnUnlistedReachableAdvisory(t *testing.T) {
	acc := writeAccept(t, "# comment\nGO-2026-0001 not reachable in practice\nGO-2026-0009 fixed long ago\n")
	var out strings.Builder
	ok, err := run(strings.NewReader(stream), acc, &out)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Fatalf("gate passed with an unlisted reachable advisory:\n%s", out.String())
	}
	for _, want := range []string{
		"database file:///db (modified 2026-11-05T23:49:57Z)",
		"accepted  GO-2026-0001 stdlib@v1.26.8, fixed in v1.26.9, reached through net/http.Server.Serve",
		"why: not reachable in practice",
		"FAIL      GO-2026-0002 golang.org/x/net@v0.60.0, fixed in v0.62.0, reached through golang.org/x/net/http2.Framer.ReadFrame: called, not accepted",
		"stale     GO-2026-0009",
		"2 reachable advisories, 1 accepted, 1 stale entries: FAILED",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "GO-2026-0003") {
		t.Errorf("a module-only finding was reported:\n%s", out.String())
	}

	acc = writeAccept(t, "GO-2026-0001 a\nGO-2026-0002 b\n")
	out.Reset()
	if ok, err := run(strings.NewReader(stream), acc, &out); err != nil || !ok {
		t.Fatalf("gate with every advisory listed: ok=%v err=%v\n%s", ok, err, out.String())
	}
}

// An accept line without a reason, and input that is not govulncheck's,
// are errors, not a pass.
func TestGateRefusesBadInput(t *testing.T) {
	var out strings.Builder
	if _, err := run(strings.NewReader(stream), writeAccept(t, "GO-2026-0001\n"), &out); err == nil || !strings.Contains(err.Error(), ":1: want") {
		t.Errorf("accept line without a reason: err=%v", err)
	}
	if _, err := run(strings.NewReader(`{"progress":{}}`), writeAccept(t, ""), &out); err == nil || !strings.Contains(err.Error(), "no config message") {
		t.Errorf("input without a config: err=%v", err)
	}
	if _, err := run(strings.NewReader(`not json`), writeAccept(t, ""), &out); err == nil {
		t.Error("garbage input passed")
	}
}
