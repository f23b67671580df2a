package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func list(xs ...string) *[]string { return &xs }

var testLookup = Lookup{
	User: func(n string) (int, error) {
		switch n {
		case "fuzz":
			return 1001, nil
		case "nobody":
			return 65534, nil
		}
		return 0, errors.New("no such user")
	},
	Group: func(n string) (int, error) {
		if n == "fuzz" {
			return 1001, nil
		}
		return 0, errors.New("no such group")
	},
}

func TestParseTokens(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []Token
		legacy     bool
		err        string
	}{
		{name: "roles", file: "# CI\nci control 0123456789abcdef0123\n\nviewer read abcdefghijklmnopqrst # not a comment\n",
			err: "t:4: want NAME ROLE TOKEN, found 7 fields"},
		{name: "two", file: "# CI\nci control 0123456789abcdef0123\n  viewer   read   abcdefghijklmnopqrst\n",
			want: []Token{{"ci", RoleControl, "0123456789abcdef0123"}, {"viewer", RoleRead, "abcdefghijklmnopqrst"}}},
		{name: "legacy", file: "0123456789abcdef-secret\n", legacy: true,
			want: []Token{{LegacyTokenName, RoleControl, "0123456789abcdef-secret"}}},
		{name: "legacy short", file: "short\n", err: "t:1: the token is 5 characters; at least 16"},
		{name: "empty", file: "# nothing\n\n", err: "no token in it"},
		{name: "bad role", file: "ci admin 0123456789abcdef0123\n", err: `t:1: token ci: unknown role "admin"`},
		{name: "bad name", file: "c/i read 0123456789abcdef0123\n", err: `token name "c/i"`},
		{name: "short", file: "ci read 0123\n", err: "token ci: the token is 4 characters"},
		{name: "dup name", file: "ci read 0123456789abcdef0123\nci control 0123456789abcdef0124\n", err: "t:2: token name ci is already used on line 1"},
		{name: "dup secret", file: "a read 0123456789abcdef0123\nb control 0123456789abcdef0123\n", err: "t:2: token b has the same secret as line 1"},
		{name: "nonprint", file: "a read 0123456789abcdef\x01123\n", err: "not printable ASCII at position 17"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, legacy, err := ParseTokens(strings.NewReader(tc.file), "t")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "0123456789abcdef") {
					t.Fatalf("the error shows the secret: %v", err)
				}
				return
			}
			if err != nil || legacy != tc.legacy || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v legacy %v err %v; want %v legacy %v", got, legacy, err, tc.want, tc.legacy)
			}
		})
	}
}

func TestClientIDs(t *testing.T) {
	for in, want := range map[string]string{
		"cn:runner":              "cn:runner",
		"dns:Runner.Example.COM": "dns:runner.example.com",
		"uri:spiffe://cluster.local/ns/fuzz/sa/runner": "uri:spiffe://cluster.local/ns/fuzz/sa/runner",
		"runner":     "error",
		"cn:":        "error",
		"ip:1.2.3.4": "error",
		"uri:runner": "error",
		"dns:a b":    "error",
		"cn:a\nb":    "error",
	} {
		got, err := ParseClientID(in)
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("ParseClientID(%q) = %q (%v), want %q", in, got, err, want)
		}
	}
	u, _ := url.Parse("spiffe://cluster.local/ns/fuzz/sa/runner")
	ids := CertIdentities(&x509.Certificate{Subject: pkix.Name{CommonName: "runner"}, DNSNames: []string{"Host.Example"}, URIs: []*url.URL{u}})
	want := []string{"cn:runner", "dns:host.example", "uri:spiffe://cluster.local/ns/fuzz/sa/runner"}
	if !slices.Equal(ids, want) {
		t.Fatalf("CertIdentities = %v, want %v", ids, want)
	}
	// What CertIdentities produces, ParseClientID accepts unchanged.
	for _, id := range ids {
		if p, err := ParseClientID(id); err != nil || p != id {
			t.Errorf("ParseClientID(%q) = %q, %v", id, p, err)
		}
	}
}

func TestDeniedEnv(t *testing.T) {
	for _, n := range []string{"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "LD_ANYTHING", "GCONV_PATH", "GLIBC_TUNABLES",
		"BASH_ENV", "ENV", "SHELLOPTS", "PS4", "BASH_FUNC_ls%%", "PYTHONPATH", "PYTHONSTARTUP", "NODE_OPTIONS", "PERL5OPT", "JAVA_TOOL_OPTIONS"} {
		if why, denied := DeniedEnv(n); !denied || why == "" {
			t.Errorf("%s is not denied", n)
		}
	}
	for _, n := range []string{"PATH", "HOME", "TMPDIR", "TZ", "ASAN_OPTIONS", "LANG", "FUZZ_SEED", "OLD_PRELOAD", "ld_preload"} {
		if _, denied := DeniedEnv(n); denied {
			t.Errorf("%s is denied", n)
		}
	}
}

func TestMatchExe(t *testing.T) {
	for _, tc := range []struct {
		pattern, exe string
		want         bool
	}{
		{"/usr/bin/*", "/usr/bin/sleep", true},
		{"/usr/bin/*", "/usr/bin/x/sleep", false},
		{"/usr/bin/*", "/usr/local/bin/sleep", false},
		{"/usr/bin/*", "/usr/bin", false},
		{"/usr/bin/sleep", "/usr/bin/sleep", true},
		{"/usr/bin/s*p", "/usr/bin/sleep", true},
		{"/opt/fuzz/**", "/opt/fuzz/bin/afl", true},
		{"/opt/fuzz/**", "/opt/fuzz/afl", true},
		{"/opt/fuzz/**", "/opt/fuzz", false},
		{"/opt/fuzz/**", "/opt/fuzzer/afl", false},
		{"/opt/*/bin/**", "/opt/a/bin/x/y", true},
		{"/opt/*/bin/**", "/opt/a/lib/x", false},
		{"/**", "/anything/at/all", true},
	} {
		if err := checkExePattern(tc.pattern); err != nil {
			t.Fatalf("pattern %q: %v", tc.pattern, err)
		}
		if got := matchExe(tc.pattern, tc.exe); got != tc.want {
			t.Errorf("matchExe(%q, %q) = %v, want %v", tc.pattern, tc.exe, got, tc.want)
		}
	}
	for _, bad := range []string{"usr/bin/*", "/usr/bin/../sbin/*", "/usr/**/bin", "/usr/bin/[", "/usr/bin/"} {
		if checkExePattern(bad) == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}

func TestCheckStart(t *testing.T) {
	pol, err := Compile(&Config{Rules: []RuleConfig{
		{Name: "fuzz", Match: []string{"uri:spiffe://cluster.local/ns/fuzz/sa/runner", "token:ci"},
			Executables: list("/usr/bin/*", "/opt/fuzz/**"), Users: list("fuzz"), Groups: list("fuzz"), Env: list("ASAN_OPTIONS", "FUZZ_*")},
		{Name: "root", Match: []string{"uid:0"}},
		{Name: "ops", Match: []string{"gid:fuzz", "role:control"}, Executables: list("/usr/bin/*")},
	}}, 1000, testLookup)
	if err != nil {
		t.Fatal(err)
	}
	fuzzer := &Caller{Transport: "tcp", UID: -1, GID: -1, Role: RoleControl, Identities: []string{"cn:x", "token:ci"}, Desc: "token ci"}
	root := &Caller{Transport: "unix", Root: true, Role: RoleControl, Desc: "uid 0"}
	op := &Caller{Transport: "unix", UID: 1002, GID: 1002, Groups: []int{1001}, Role: RoleControl, Desc: "uid 1002"}
	reader := &Caller{Transport: "unix", UID: 1003, GID: 1003, Role: RoleRead, Desc: "uid 1003"}
	for _, tc := range []struct {
		name string
		pol  *Policy
		s    Start
		want string // "" : allowed; else a part of the refusal
	}{
		{"fuzz exe", pol, Start{Caller: fuzzer, Command0: "afl", Executable: "/opt/fuzz/bin/afl"}, ""},
		{"fuzz outside", pol, Start{Caller: fuzzer, Command0: "sleep", Executable: "/tmp/x/sleep"},
			`policy rule "fuzz" (rules[0]) refuses executable /tmp/x/sleep (resolved from "sleep"): it matches none of the rule's executables (/usr/bin/*, /opt/fuzz/**)`},
		{"fuzz user", pol, Start{Caller: fuzzer, Command0: "/usr/bin/id", Executable: "/usr/bin/id", User: "fuzz", UID: 1001, Group: "fuzz", GID: 1001}, ""},
		{"fuzz other user", pol, Start{Caller: fuzzer, Command0: "/usr/bin/id", Executable: "/usr/bin/id", User: "nobody", UID: 65534},
			`running as user "nobody" (uid 65534): it is not among the rule's users (fuzz)`},
		{"fuzz env", pol, Start{Caller: fuzzer, Command0: "/usr/bin/id", Executable: "/usr/bin/id", Env: []string{"FUZZ_SEED", "ASAN_OPTIONS"}}, ""},
		{"fuzz env other", pol, Start{Caller: fuzzer, Command0: "/usr/bin/id", Executable: "/usr/bin/id", Env: []string{"FUZZ_SEED", "PATH"}},
			"environment variable PATH: it matches none of the rule's env patterns (ASAN_OPTIONS, FUZZ_*)"},
		{"root anything", pol, Start{Caller: root, Command0: "x", Executable: "/tmp/x", User: "nobody", UID: 65534, Env: []string{"LD_PRELOAD"}}, ""},
		{"op exe", pol, Start{Caller: op, Command0: "sleep", Executable: "/usr/bin/sleep"}, ""},
		{"op LD_PRELOAD", pol, Start{Caller: op, Command0: "sleep", Executable: "/usr/bin/sleep", Env: []string{"LD_PRELOAD"}},
			`policy rule "ops" (rules[2]), which has no env list, so the default refuses environment variable LD_PRELOAD`},
		{"op user", pol, Start{Caller: op, Command0: "sleep", Executable: "/usr/bin/sleep", User: "fuzz", UID: 1001},
			"only root may run a process as another user"},
		{"no rule", pol, Start{Caller: reader, Command0: "sleep", Executable: "/usr/bin/sleep"},
			"the command policy refuses starting a process for uid 1003 (role read): no rule matches"},
		{"in-process", pol, Start{Command0: "x", Executable: "/tmp/x"}, ""},

		{"default LD_PRELOAD", nil, Start{Caller: op, Command0: "true", Executable: "/usr/bin/true", Env: []string{"LD_PRELOAD"}},
			"the default command policy refuses environment variable LD_PRELOAD from uid 1002 (role control): dynamic loader"},
		{"default own user", &Policy{daemonUID: 1002}, Start{Caller: op, Command0: "true", Executable: "/usr/bin/true", Env: []string{"LD_PRELOAD"}}, ""},
		{"default tcp", &Policy{daemonUID: -1}, Start{Caller: fuzzer, Command0: "true", Executable: "/usr/bin/true", Env: []string{"PYTHONPATH"}},
			"refuses environment variable PYTHONPATH from token ci (role control)"},
		{"default root", nil, Start{Caller: root, Command0: "true", Executable: "/usr/bin/true", Env: []string{"LD_PRELOAD"}}, ""},
		{"default user", nil, Start{Caller: op, Command0: "true", Executable: "/usr/bin/true", User: "nobody", UID: 65534},
			`the default command policy refuses running as user "nobody" for uid 1002`},
		{"default any exe", nil, Start{Caller: op, Command0: "x", Executable: "/tmp/x"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			err := tc.pol.CheckStart(&s)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var d *Denied
			if !errors.As(err, &d) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a refusal containing %q", err, tc.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		r    RuleConfig
		want string
	}{
		{RuleConfig{Match: []string{"*"}}, "policy.rules[0]: a rule needs a name"},
		{RuleConfig{Name: "a"}, `policy.rules[0] ("a"): match is empty`},
		{RuleConfig{Name: "a", Match: []string{"role:admin"}}, `match: "role:admin": unknown role "admin"`},
		{RuleConfig{Name: "a", Match: []string{"uid:mallory"}}, `"uid:mallory": user "mallory": no such user`},
		{RuleConfig{Name: "a", Match: []string{"host:x"}}, `unknown kind "host"`},
		{RuleConfig{Name: "a", Match: []string{"*"}, Executables: list("sleep")}, `executables: "sleep" is not an absolute path`},
		{RuleConfig{Name: "a", Match: []string{"*"}, Users: list("mallory")}, `users: user "mallory"`},
		{RuleConfig{Name: "a", Match: []string{"*"}, Env: list("A=B")}, `env: "A=B" is not a variable name`},
	} {
		_, err := Compile(&Config{Rules: []RuleConfig{tc.r}}, 0, testLookup)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.r, err, tc.want)
		}
	}
	_, err := Compile(&Config{Rules: []RuleConfig{{Name: "a", Match: []string{"*"}}, {Name: "a", Match: []string{"*"}}}}, 0, testLookup)
	if err == nil || !strings.Contains(err.Error(), `another rule is named "a"`) {
		t.Errorf("duplicate names: %v", err)
	}
}

func TestDecode(t *testing.T) {
	c, err := Decode(map[string]any{"rules": []any{
		map[string]any{"name": "a", "match": []any{"*"}, "users": []any{int64(1001), "fuzz"}, "env": []any{}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Rules[0]
	if r.Name != "a" || r.Executables != nil || !slices.Equal(*r.Users, []string{"1001", "fuzz"}) || r.Env == nil || len(*r.Env) != 0 {
		t.Fatalf("decoded %+v", r)
	}
	for _, tc := range []struct {
		v    any
		want string
	}{
		{"x", "policy: want a table with rules, found a string"},
		{map[string]any{"rule": nil}, `policy: unknown key "rule"`},
		{map[string]any{"rules": map[string]any{}}, "policy.rules: want a list of rules"},
		{map[string]any{"rules": []any{map[string]any{"name": "a", "exe": []any{}}}}, `policy.rules[0]: unknown key "exe"`},
		{map[string]any{"rules": []any{map[string]any{"match": "*"}}}, "policy.rules[0].match: want a list, found a string"},
		{map[string]any{"rules": []any{map[string]any{"env": []any{true}}}}, "policy.rules[0].env[0]: want a string, found a boolean"},
	} {
		if _, err := Decode(tc.v); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(%v): %v, want %q", tc.v, err, tc.want)
		}
	}
}

// Fuzz targets: the parsers of credentials and policy never panic, and
// what they accept holds their contracts.

func FuzzParseTokens(f *testing.F) {
	f.Add("ci control 0123456789abcdef0123\nviewer read abcdefghijklmnopqrst\n")
	f.Add("0123456789abcdef-secret\n")
	f.Add("# comment\n\n")
	f.Fuzz(func(t *testing.T, file string) {
		toks, legacy, err := ParseTokens(strings.NewReader(file), "f")
		if err != nil {
			return
		}
		if legacy && (len(toks) != 1 || toks[0].Name != LegacyTokenName || toks[0].Role != RoleControl) {
			t.Fatalf("legacy file read as %v", toks)
		}
		for _, tk := range toks {
			if len(tk.Secret) < MinTokenLen || tk.Role == RoleNone || strings.ContainsAny(tk.Secret, " \t\r\n") {
				t.Fatalf("accepted %+v", tk)
			}
		}
	})
}

func FuzzParseClientID(f *testing.F) {
	for _, s := range []string{"cn:runner", "dns:a.example", "uri:spiffe://cluster.local/ns/fuzz/sa/runner", "uri:x", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseClientID(s)
		if err != nil {
			return
		}
		if again, err := ParseClientID(id); err != nil || again != id {
			t.Fatalf("ParseClientID(%q) = %q, but again %q, %v", s, id, again, err)
		}
	})
}

func FuzzPolicy(f *testing.F) {
	f.Add("role:control", "/usr/bin/*", "FUZZ_*", "/usr/bin/sleep", "FUZZ_SEED")
	f.Add("uid:0", "/opt/**", "*", "/opt/a/b", "LD_PRELOAD")
	f.Add("token:ci", "/[a-", "A", "/x", "A")
	f.Fuzz(func(t *testing.T, match, exePattern, envPattern, exe, env string) {
		pol, err := Compile(&Config{Rules: []RuleConfig{{Name: "r", Match: []string{match},
			Executables: list(exePattern), Env: list(envPattern)}}}, 0, Lookup{})
		if err != nil {
			return
		}
		c := &Caller{Transport: "tcp", UID: -1, GID: -1, Role: RoleControl, Identities: []string{"token:ci"}}
		err = pol.CheckStart(&Start{Caller: c, Command0: exe, Executable: exe, Env: []string{env}})
		var d *Denied
		if err != nil && !errors.As(err, &d) {
			t.Fatalf("CheckStart error %v is not a *Denied", err)
		}
		if err == nil && !strings.HasPrefix(exe, "/") {
			t.Fatalf("a relative executable %q was allowed by pattern %q", exe, exePattern)
		}
	})
}
