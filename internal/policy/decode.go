package policy

import (
	"fmt"
	"sort"
	"strconv"
)

// Config is the policy section of procd's config file, as written:
//
//	[[policy.rules]]
//	name = "fuzz runners"
//	match = ["uri:spiffe://cluster.local/ns/fuzz/sa/runner", "token:ci"]
//	executables = ["/usr/bin/*", "/opt/fuzz/bin/**"]
//	users = ["fuzz"]
//	groups = ["fuzz"]
//	env = ["ASAN_OPTIONS", "FUZZ_*"]
//
// Rules are tried in order and the first whose match names the caller
// applies; a caller no rule matches may start nothing. A field left out
// keeps the default for it (any executable; user and groups for root only;
// the default environment deny list); a field given as [] allows nothing.
type Config struct {
	Rules []RuleConfig
}

// RuleConfig is one rule as written. A nil list was left out.
type RuleConfig struct {
	Name        string
	Match       []string
	Executables *[]string
	Users       *[]string
	Groups      *[]string
	Env         *[]string
}

// Decode reads the policy section as the TOML or YAML decoder produced it
// (maps, lists, strings, numbers), strictly: an unknown key or a value of
// the wrong type is an error naming where it is.
func Decode(v any) (*Config, error) {
	top, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("policy: want a table with rules, found %s", typeName(v))
	}
	c := &Config{}
	for _, k := range sortedKeys(top) {
		if k != "rules" {
			return nil, fmt.Errorf("policy: unknown key %q (the policy has only rules)", k)
		}
		list, ok := top[k].([]any)
		if !ok {
			return nil, fmt.Errorf("policy.rules: want a list of rules ([[policy.rules]] in TOML), found %s", typeName(top[k]))
		}
		for i, e := range list {
			r, err := decodeRule(e, fmt.Sprintf("policy.rules[%d]", i))
			if err != nil {
				return nil, err
			}
			c.Rules = append(c.Rules, r)
		}
	}
	return c, nil
}

func decodeRule(v any, where string) (RuleConfig, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return RuleConfig{}, fmt.Errorf("%s: want a table, found %s", where, typeName(v))
	}
	var r RuleConfig
	for _, k := range sortedKeys(m) {
		at := where + "." + k
		switch k {
		case "name":
			s, ok := m[k].(string)
			if !ok {
				return r, fmt.Errorf("%s: want a string, found %s", at, typeName(m[k]))
			}
			r.Name = s
		case "match":
			l, err := stringList(m[k], at)
			if err != nil {
				return r, err
			}
			r.Match = l
		case "executables", "users", "groups", "env":
			l, err := stringList(m[k], at)
			if err != nil {
				return r, err
			}
			switch k {
			case "executables":
				r.Executables = &l
			case "users":
				r.Users = &l
			case "groups":
				r.Groups = &l
			case "env":
				r.Env = &l
			}
		default:
			return r, fmt.Errorf("%s: unknown key %q (a rule has name, match, executables, users, groups and env)", where, k)
		}
	}
	return r, nil
}

// stringList accepts a list of strings (numbers too, for ids); never nil.
func stringList(v any, at string) ([]string, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a list, found %s", at, typeName(v))
	}
	out := make([]string, 0, len(l))
	for i, e := range l {
		switch x := e.(type) {
		case string:
			out = append(out, x)
		case int64:
			out = append(out, strconv.FormatInt(x, 10))
		case int:
			out = append(out, strconv.Itoa(x))
		case uint64:
			out = append(out, strconv.FormatUint(x, 10))
		default:
			return nil, fmt.Errorf("%s[%d]: want a string, found %s", at, i, typeName(e))
		}
	}
	return out, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case map[string]any:
		return "a table"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, uint64:
		return "a number"
	case float64:
		return "a number with a fraction"
	}
	return fmt.Sprintf("a %T", v)
}
