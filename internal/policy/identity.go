package policy

import (
	"bufio"
	"crypto/x509"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Role is what a caller may do. The zero value is no role at all.
type Role int

// Roles, in increasing power: a caller with a role may do everything the
// roles below it may.
const (
	RoleNone    Role = iota
	RoleRead         // status, list, wait, events, output, stats
	RoleControl      // everything: start, signal, stop, input, remove
)

func (r Role) String() string {
	switch r {
	case RoleRead:
		return "read"
	case RoleControl:
		return "control"
	}
	return "none"
}

// ParseRole reads "control" or "read".
func ParseRole(s string) (Role, error) {
	switch s {
	case "control":
		return RoleControl, nil
	case "read":
		return RoleRead, nil
	}
	return RoleNone, fmt.Errorf("unknown role %q (use control or read)", s)
}

// Client identities name a verified client certificate:
//
//	cn:NAME  its subject common name
//	dns:NAME one of its DNS subject alternative names (compared lower-case)
//	uri:URI  one of its URI subject alternative names (SPIFFE IDs included:
//	         uri:spiffe://cluster.local/ns/fuzz/sa/runner)
//
// ParseClientID checks one and returns it in the form CertIdentities
// produces, so the two can be compared as strings.
func ParseClientID(s string) (string, error) {
	kind, name, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return "", fmt.Errorf("client identity %q: use cn:NAME, dns:NAME or uri:URI", s)
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", fmt.Errorf("client identity %q: contains a control character", s)
	}
	switch kind {
	case "cn":
		return "cn:" + name, nil
	case "dns":
		if strings.ContainsAny(name, " /") {
			return "", fmt.Errorf("client identity %q: not a DNS name", s)
		}
		return "dns:" + strings.ToLower(name), nil
	case "uri":
		u, err := url.Parse(name)
		if err != nil || u.Scheme == "" {
			return "", fmt.Errorf("client identity %q: not an absolute URI (a SPIFFE ID looks like uri:spiffe://DOMAIN/PATH)", s)
		}
		return "uri:" + name, nil
	}
	return "", fmt.Errorf("client identity %q: unknown kind %q (use cn:NAME, dns:NAME or uri:URI)", s, kind)
}

// CertIdentities lists every identity a verified client certificate
// proves, in the forms of ParseClientID.
func CertIdentities(c *x509.Certificate) []string {
	var out []string
	if c.Subject.CommonName != "" {
		out = append(out, "cn:"+c.Subject.CommonName)
	}
	for _, d := range c.DNSNames {
		out = append(out, "dns:"+strings.ToLower(d))
	}
	for _, u := range c.URIs {
		out = append(out, "uri:"+u.String())
	}
	return out
}

// Token is one bearer token and the role it grants. Name identifies it in
// logs, messages and policy rules (token:NAME); Secret is never logged.
type Token struct {
	Name   string
	Role   Role
	Secret string
}

// MinTokenLen is the shortest secret accepted: shorter ones can be guessed.
const MinTokenLen = 16

// LegacyTokenName names the token of a legacy single-token file.
const LegacyTokenName = "default"

// ParseTokens reads a token file: one token a line as
//
//	NAME ROLE TOKEN
//
// with blank lines and lines starting with # ignored. NAME is letters,
// digits, '.', '_' and '-'; ROLE is control or read; TOKEN is at least
// MinTokenLen printable characters without spaces. Names and tokens must
// be unique.
//
// A legacy file (procd before roles: the whole file is one token and
// nothing else) is read as one token named "default" with the control
// role, which is what it granted then; legacy reports it, so the daemon
// can say how to give it a name and a role.
func ParseTokens(r io.Reader, file string) (tokens []Token, legacy bool, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	type line struct {
		n      int
		fields []string
	}
	var lines []line
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		lines = append(lines, line{n, strings.Fields(text)})
	}
	if err := sc.Err(); err != nil {
		return nil, false, fmt.Errorf("%s: %w", file, err)
	}
	if len(lines) == 0 {
		return nil, false, fmt.Errorf("%s: no token in it (write one line NAME ROLE TOKEN, e.g. ci control <32 random characters>)", file)
	}
	if len(lines) == 1 && len(lines[0].fields) == 1 {
		if err := checkSecret(lines[0].fields[0]); err != nil {
			return nil, false, fmt.Errorf("%s:%d: %w", file, lines[0].n, err)
		}
		return []Token{{Name: LegacyTokenName, Role: RoleControl, Secret: lines[0].fields[0]}}, true, nil
	}
	names := map[string]int{}
	secrets := map[string]int{}
	for _, l := range lines {
		if len(l.fields) != 3 {
			return nil, false, fmt.Errorf("%s:%d: want NAME ROLE TOKEN, found %d fields", file, l.n, len(l.fields))
		}
		name, roleText, secret := l.fields[0], l.fields[1], l.fields[2]
		if err := checkTokenName(name); err != nil {
			return nil, false, fmt.Errorf("%s:%d: %w", file, l.n, err)
		}
		role, err := ParseRole(roleText)
		if err != nil {
			return nil, false, fmt.Errorf("%s:%d: token %s: %w", file, l.n, name, err)
		}
		if err := checkSecret(secret); err != nil {
			return nil, false, fmt.Errorf("%s:%d: token %s: %w", file, l.n, name, err)
		}
		if prev, dup := names[name]; dup {
			return nil, false, fmt.Errorf("%s:%d: token name %s is already used on line %d", file, l.n, name, prev)
		}
		if prev, dup := secrets[secret]; dup {
			return nil, false, fmt.Errorf("%s:%d: token %s has the same secret as line %d (each client needs its own)", file, l.n, name, prev)
		}
		names[name], secrets[secret] = l.n, l.n
		tokens = append(tokens, Token{Name: name, Role: role, Secret: secret})
	}
	return tokens, false, nil
}

func checkTokenName(name string) error {
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("token name %q: use letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}

// checkSecret never puts the secret in its message.
func checkSecret(s string) error {
	if len(s) < MinTokenLen {
		return fmt.Errorf("the token is %d characters; at least %d are needed (e.g. openssl rand -hex 32)", len(s), MinTokenLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return fmt.Errorf("the token has a character that is not printable ASCII at position %d", i+1)
		}
	}
	return nil
}
