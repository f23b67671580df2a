package policy

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Caller is who asks to start a process, as the server established it.
type Caller struct {
	Transport string // "unix" or "tcp"
	UID, GID  int    // kernel-verified on the Unix socket; -1 over TCP
	Groups    []int  // supplementary groups (Unix socket)
	Root      bool   // root on this machine: kernel-verified uid 0 on the Unix socket
	Role      Role
	// Identities are what the caller proved over TCP: its certificate's
	// (cn:…, dns:…, uri:…) and its token's ("token:NAME").
	Identities []string
	Desc       string // for messages: "uid 1000 (gid 1000, pid 42)"
}

// Start is one request to start a process, after the executable was
// looked up and the user and groups resolved, before anything is forked.
type Start struct {
	Caller *Caller
	// Command0 is the program as the caller named it; Executable is the
	// absolute path it resolved to, symbolic links resolved. procd runs
	// Executable, so what is checked is what runs.
	Command0, Executable string
	// Env lists the names of the variables the spec sets (not those the
	// process inherits from procd).
	Env []string
	// User, Group and Groups are as the spec gave them ("" or nil: not
	// set), with the ids they resolved to.
	User   string
	UID    int
	Group  string
	GID    int
	Groups []string
	GIDs   []int
}

// Denied is a refused start: which rule refused, what, and why. The
// server turns it into PERMISSION_DENIED with this message.
type Denied struct {
	Rule  string // `policy rule "fuzz" (rules[0])`, or "the default command policy"
	Value string // what was refused: `executable /opt/x/sleep (from "sleep")`
	Why   string
}

func (d *Denied) Error() string { return d.Rule + " refuses " + d.Value + ": " + d.Why }

// Policy is a compiled command policy. The zero value and nil are the
// default policy: any executable; only root may set user or groups; a
// caller other than root and procd's own user may not set the variables
// of the default deny list (DeniedEnv).
type Policy struct {
	rules     []rule
	daemonUID int
}

type rule struct {
	name        string
	index       int
	match       []selector
	executables []string // nil: any
	users       []int    // nil: root callers only
	userNames   []string // as written, for messages
	groups      []int    // nil: root callers only
	groupNames  []string
	env         []string // nil: the default deny list
}

type selector struct {
	kind string // "*", role, transport, uid, gid, id (cn/dns/uri/token)
	text string // as written
	role Role
	id   int
	str  string
}

// Lookup resolves user and group names of a policy to ids.
type Lookup struct {
	User  func(name string) (int, error)
	Group func(name string) (int, error)
}

// Compile checks a decoded policy and resolves its names. daemonUID is the
// user procd runs as: its callers on the Unix socket count as trusted for
// the default environment rule, as root does. A nil c compiles to the
// default policy.
func Compile(c *Config, daemonUID int, lookup Lookup) (*Policy, error) {
	p := &Policy{daemonUID: daemonUID}
	if c == nil {
		return p, nil
	}
	names := map[string]bool{}
	for i, rc := range c.Rules {
		where := fmt.Sprintf("policy.rules[%d]", i)
		if rc.Name != "" {
			where += fmt.Sprintf(" (%q)", rc.Name)
		}
		switch {
		case rc.Name == "":
			return nil, fmt.Errorf("%s: a rule needs a name (it is quoted in refusals)", where)
		case names[rc.Name]:
			return nil, fmt.Errorf("%s: another rule is named %q", where, rc.Name)
		case len(rc.Match) == 0:
			return nil, fmt.Errorf(`%s: match is empty; say whom the rule is for (e.g. match = ["role:control"], or ["*"] for every caller)`, where)
		}
		names[rc.Name] = true
		r, err := compileRule(rc, i, lookup)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		p.rules = append(p.rules, r)
	}
	return p, nil
}

// resolveID is a user or group given by number or, through f, by name.
func resolveID(kind, s string, f func(string) (int, error)) (int, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n, nil
	}
	if f == nil {
		return 0, fmt.Errorf("%s %q: give a number", kind, s)
	}
	n, err := f(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", kind, s, err)
	}
	return n, nil
}

// compileRule checks and resolves one named rule's selectors and limits.
func compileRule(rc RuleConfig, i int, lookup Lookup) (rule, error) {
	r := rule{name: rc.Name, index: i}
	for _, m := range rc.Match {
		s, err := parseSelector(m, func(kind, v string) (int, error) {
			if kind == "uid" {
				return resolveID("user", v, lookup.User)
			}
			return resolveID("group", v, lookup.Group)
		})
		if err != nil {
			return r, fmt.Errorf("match: %w", err)
		}
		r.match = append(r.match, s)
	}
	if rc.Executables != nil {
		r.executables = []string{}
		for _, e := range *rc.Executables {
			if err := checkExePattern(e); err != nil {
				return r, fmt.Errorf("executables: %w", err)
			}
			r.executables = append(r.executables, e)
		}
	}
	ids := func(what, kind string, list *[]string, f func(string) (int, error)) ([]int, error) {
		if list == nil {
			return nil, nil
		}
		out := []int{}
		for _, v := range *list {
			id, err := resolveID(kind, v, f)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			out = append(out, id)
		}
		return out, nil
	}
	var err error
	if r.users, err = ids("users", "user", rc.Users, lookup.User); err != nil {
		return r, err
	}
	if r.groups, err = ids("groups", "group", rc.Groups, lookup.Group); err != nil {
		return r, err
	}
	if rc.Users != nil {
		r.userNames = *rc.Users
	}
	if rc.Groups != nil {
		r.groupNames = *rc.Groups
	}
	if rc.Env != nil {
		r.env = []string{}
		for _, e := range *rc.Env {
			if e == "" || strings.ContainsAny(e, "=\x00/") {
				return r, fmt.Errorf("env: %q is not a variable name or pattern", e)
			}
			if _, err := path.Match(e, ""); err != nil {
				return r, fmt.Errorf("env: pattern %q: %w", e, err)
			}
			r.env = append(r.env, e)
		}
	}
	return r, nil
}

func parseSelector(s string, resolve func(kind, v string) (int, error)) (selector, error) {
	if s == "*" {
		return selector{kind: "*", text: s}, nil
	}
	kind, v, ok := strings.Cut(s, ":")
	if !ok || v == "" {
		return selector{}, fmt.Errorf("%q: use *, role:ROLE, transport:unix|tcp, uid:USER, gid:GROUP, cn:NAME, dns:NAME, uri:URI or token:NAME", s)
	}
	sel := selector{kind: kind, text: s}
	switch kind {
	case "role":
		r, err := ParseRole(v)
		if err != nil {
			return selector{}, fmt.Errorf("%q: %w", s, err)
		}
		sel.role = r
	case "transport":
		if v != "unix" && v != "tcp" {
			return selector{}, fmt.Errorf("%q: use transport:unix or transport:tcp", s)
		}
		sel.str = v
	case "uid", "gid":
		id, err := resolve(kind, v)
		if err != nil {
			return selector{}, fmt.Errorf("%q: %w", s, err)
		}
		sel.id = id
	case "cn", "dns", "uri":
		id, err := ParseClientID(s)
		if err != nil {
			return selector{}, err
		}
		sel.kind, sel.str = "id", id
	case "token":
		if err := checkTokenName(v); err != nil {
			return selector{}, fmt.Errorf("%q: %w", s, err)
		}
		sel.kind, sel.str = "id", s
	default:
		return selector{}, fmt.Errorf("%q: unknown kind %q (use *, role, transport, uid, gid, cn, dns, uri or token)", s, kind)
	}
	return sel, nil
}

func (s *selector) matches(c *Caller) bool {
	switch s.kind {
	case "*":
		return true
	case "role":
		return c.Role == s.role
	case "transport":
		return c.Transport == s.str
	case "uid":
		return c.Transport == "unix" && c.UID == s.id
	case "gid":
		return c.Transport == "unix" && (c.GID == s.id || slices.Contains(c.Groups, s.id))
	case "id":
		return slices.Contains(c.Identities, s.str)
	}
	return false
}

// checkExePattern accepts absolute, clean paths with path.Match globs in
// any element, and "/**" as the last element for any depth below.
func checkExePattern(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q is not an absolute path (executables are matched after PATH lookup, as absolute paths)", p)
	}
	base := strings.TrimSuffix(p, "/**")
	if base == "" {
		base = "/"
	}
	if path.Clean(base) != base {
		return fmt.Errorf("%q is not a clean path (write %s)", p, path.Clean(base))
	}
	if strings.Contains(base, "**") {
		return fmt.Errorf("%q: ** is only allowed as the last element (/dir/**)", p)
	}
	if _, err := path.Match(base, ""); err != nil {
		return fmt.Errorf("%q: %w", p, err)
	}
	return nil
}

// matchExe reports whether the absolute path exe matches pattern.
func matchExe(pattern, exe string) bool {
	base, deep := strings.CutSuffix(pattern, "/**")
	if !deep {
		ok, _ := path.Match(pattern, exe)
		return ok
	}
	// The first elements of exe must match base, and at least one more
	// must follow.
	n := strings.Count(base, "/")
	if base == "" {
		n = 0
	}
	parts := strings.SplitAfterN(exe, "/", n+2)
	if len(parts) < n+2 {
		return false
	}
	head := strings.TrimSuffix(strings.Join(parts[:n+1], ""), "/")
	if base == "" {
		return head == "" && parts[n+1] != ""
	}
	ok, _ := path.Match(base, head)
	return ok && parts[n+1] != ""
}

// trusted callers may set the variables of the default deny list: root,
// and procd's own user on the Unix socket (nothing crosses a privilege
// boundary when a user starts a process as itself).
func (p *Policy) trusted(c *Caller) bool {
	return c.Root || (p != nil && c.Transport == "unix" && c.UID == p.daemonUID)
}

// Rules reports how many rules the policy has; 0 is the default policy.
func (p *Policy) Rules() int {
	if p == nil {
		return 0
	}
	return len(p.rules)
}

// RestrictsExecutables reports whether some rule limits executables, so
// the manager must run the resolved path it checked.
func (p *Policy) RestrictsExecutables() bool {
	if p == nil {
		return false
	}
	for _, r := range p.rules {
		if r.executables != nil {
			return true
		}
	}
	return false
}

// CheckStart decides a start. It returns nil or a *Denied. A nil Caller
// (an in-process caller) is not checked.
func (p *Policy) CheckStart(s *Start) error {
	c := s.Caller
	if c == nil {
		return nil
	}
	var r *rule
	if p != nil && len(p.rules) > 0 {
		for i := range p.rules {
			if slices.ContainsFunc(p.rules[i].match, func(sel selector) bool { return sel.matches(c) }) {
				r = &p.rules[i]
				break
			}
		}
		if r == nil {
			return &Denied{Rule: "the command policy", Value: "starting a process for " + describe(c),
				Why: "no rule matches this caller (a policy with rules refuses callers none of them match; add a rule whose match names it)"}
		}
	}
	if err := p.checkExecutable(r, s); err != nil {
		return err
	}
	if err := p.checkUser(r, s); err != nil {
		return err
	}
	return p.checkEnv(r, s)
}

func (r *rule) label() string { return fmt.Sprintf("policy rule %q (rules[%d])", r.name, r.index) }

func describe(c *Caller) string {
	d := c.Desc
	if d == "" {
		d = c.Transport + " caller"
	}
	if c.Role != RoleNone {
		d += " (role " + c.Role.String() + ")"
	}
	return d
}

func (p *Policy) checkExecutable(r *rule, s *Start) error {
	if r == nil || r.executables == nil {
		return nil
	}
	for _, pat := range r.executables {
		if matchExe(pat, s.Executable) {
			return nil
		}
	}
	value := "executable " + s.Executable
	if s.Command0 != s.Executable {
		value += fmt.Sprintf(" (resolved from %q)", s.Command0)
	}
	allowed := "none: executables is empty"
	if len(r.executables) > 0 {
		allowed = strings.Join(r.executables, ", ")
	}
	return &Denied{Rule: r.label(), Value: value,
		Why: "it matches none of the rule's executables (" + allowed + "); symbolic links are resolved before matching"}
}

func (p *Policy) checkUser(r *rule, s *Start) error {
	if s.User == "" && s.Group == "" && len(s.Groups) == 0 {
		return nil
	}
	c := s.Caller
	if r == nil || (r.users == nil && s.User != "") || (r.groups == nil && (s.Group != "" || len(s.Groups) > 0)) {
		if c.Root {
			return nil
		}
		rule := "the default command policy"
		if r != nil {
			rule = r.label()
		}
		what := "user " + strconv.Quote(s.User)
		if s.User == "" {
			what = "group " + strconv.Quote(s.Group)
			if s.Group == "" {
				what = "groups " + strings.Join(s.Groups, ",")
			}
		}
		return &Denied{Rule: rule, Value: "running as " + what + " for " + describe(c),
			Why: "only root may run a process as another user or group, unless a policy rule's users and groups allow it"}
	}
	if s.User != "" && !slices.Contains(r.users, s.UID) {
		return &Denied{Rule: r.label(), Value: fmt.Sprintf("running as user %q (uid %d)", s.User, s.UID),
			Why: "it is not among the rule's users (" + listOrNone(r.userNames) + ")"}
	}
	check := func(name string, gid int) error {
		if slices.Contains(r.groups, gid) {
			return nil
		}
		return &Denied{Rule: r.label(), Value: fmt.Sprintf("running with group %q (gid %d)", name, gid),
			Why: "it is not among the rule's groups (" + listOrNone(r.groupNames) + ")"}
	}
	if s.Group != "" {
		if err := check(s.Group, s.GID); err != nil {
			return err
		}
	}
	for i, g := range s.Groups {
		if i < len(s.GIDs) {
			if err := check(g, s.GIDs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

func (p *Policy) checkEnv(r *rule, s *Start) error {
	names := slices.Clone(s.Env)
	slices.Sort(names) // the first refused name is the same every time
	if r != nil && r.env != nil {
		for _, n := range names {
			if !slices.ContainsFunc(r.env, func(pat string) bool { ok, _ := path.Match(pat, n); return ok }) {
				return &Denied{Rule: r.label(), Value: "environment variable " + n,
					Why: "it matches none of the rule's env patterns (" + listOrNone(r.env) + ")"}
			}
		}
		return nil
	}
	if p.trusted(s.Caller) {
		return nil
	}
	for _, n := range names {
		if why, denied := DeniedEnv(n); denied {
			rule := "the default command policy"
			if r != nil {
				rule = r.label() + ", which has no env list, so the default"
			}
			return &Denied{Rule: rule, Value: "environment variable " + n + " from " + describe(s.Caller),
				Why: why + "; only root and procd's own user may set it, unless a policy rule's env list allows it"}
		}
	}
	return nil
}
