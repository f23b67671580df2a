package config

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/procd/procd/internal/policy"
)

// A config file holds the daemon's settings under the names of its flags
// (ring-size, process-timeout…), in TOML or YAML. It is read strictly: a
// key that is not a flag is an error naming the key and its line. Values
// go through the flags' own parsers, so they take the same forms (1.5s or
// 30, 64KiB, lists).

// LoadFile applies a config file to the flags not in skip (the ones the
// command line set), and returns its command policy (the one section that
// is not a flag: [[policy.rules]], see policy.Config), nil when it has
// none. format is "toml" or "yaml"; "" guesses from the content's first
// key line.
func LoadFile(fs *pflag.FlagSet, r io.Reader, name, format string, skip map[string]bool) (*policy.Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	var pol *policy.Config
	if format == "" {
		format = guessFormat(name, data)
	}
	values := map[string]any{}
	switch format {
	case "toml":
		if err := toml.Unmarshal(data, &values); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	case "yaml":
		if err := yaml.Unmarshal(data, &values); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	default:
		return nil, fmt.Errorf("%s: unknown config format %q (use toml or yaml)", name, format)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if key == "policy" {
			if pol, err = policy.Decode(values[key]); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, lineOf(data, key), err)
			}
			continue
		}
		f := fs.Lookup(key)
		if f == nil || key == "config" || key == "help" || key == "version" {
			return nil, fmt.Errorf("%s:%d: unknown key %q (run procd config default for the keys)", name, lineOf(data, key), key)
		}
		if skip[key] {
			continue
		}
		v, err := flagValue(values[key])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %v", name, lineOf(data, key), key, err)
		}
		if err := fs.Set(key, v); err != nil {
			return nil, fmt.Errorf("%s:%d: %s = %q: %v", name, lineOf(data, key), key, v, err)
		}
	}
	return pol, nil
}

// guessFormat picks YAML when a file's first key line is "key:" and TOML
// otherwise (the extension wins when there is one).
func guessFormat(name string, data []byte) string {
	switch {
	case strings.HasSuffix(name, ".toml"):
		return "toml"
	case strings.HasSuffix(name, ".yaml"), strings.HasSuffix(name, ".yml"):
		return "yaml"
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || line == "---" {
			continue
		}
		if i := strings.IndexAny(line, ":="); i >= 0 && line[i] == ':' {
			return "yaml"
		}
		return "toml"
	}
	return "toml"
}

// flagValue renders a decoded value as flag text.
func flagValue(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int:
		return strconv.Itoa(x), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := flagValue(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	case time.Time:
		return "", fmt.Errorf("a date is not a setting")
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("unsupported value of type %T (settings are flat: key = value)", v)
}

// lineOf finds the line where key is set (1 when not found).
func lineOf(data []byte, key string) int {
	// key = …, key: …, or a TOML table header [key…] / [[key…]].
	re := regexp.MustCompile(`^\s*(\[+\s*"?` + regexp.QuoteMeta(key) + `"?\s*[.\]]|"?` + regexp.QuoteMeta(key) + `"?\s*[:=])`)
	for i, line := range strings.Split(string(data), "\n") {
		if re.MatchString(line) {
			return i + 1
		}
	}
	return 1
}

// WriteDefault writes every flag of fs with its default value and usage as
// a commented TOML config file.
func WriteDefault(w io.Writer, fs *pflag.FlagSet) error {
	var b strings.Builder
	b.WriteString("# procd configuration (TOML). Every key is a procd flag; flags given on the\n")
	b.WriteString("# command line win over this file, and PROCD_* variables over both defaults\n")
	b.WriteString("# and this file. Durations: 1.5s or bare seconds; sizes: bytes or 64KiB.\n")
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Name == "config" || f.Name == "help" || f.Name == "version" {
			return
		}
		fmt.Fprintf(&b, "\n# %s\n", f.Usage)
		fmt.Fprintf(&b, "%s = %s\n", f.Name, tomlValue(f))
	})
	if err != nil {
		return err
	}
	b.WriteString(policyExample)
	_, err = io.WriteString(w, b.String())
	return err
}

// policyExample ends the default configuration: the command policy, off.
const policyExample = `
# The command policy (off: no rule). Rules are tried in order; the first whose
# match names the caller applies, and a caller no rule matches may start
# nothing. match: *, role:control|read, transport:unix|tcp, uid:USER,
# gid:GROUP, cn:NAME, dns:NAME, uri:URI, token:NAME. A field left out keeps
# its default (any executable; user and groups for root callers only; the
# default environment deny list for callers other than root and procd's own
# user); a field given as [] allows nothing. Executables are matched after
# PATH lookup with symbolic links resolved, and that resolved path is run.
#
# [[policy.rules]]
# name = "local admins"
# match = ["uid:0"]
#
# [[policy.rules]]
# name = "fuzz runners"
# match = ["uri:spiffe://cluster.local/ns/fuzz/sa/runner", "token:ci"]
# executables = ["/usr/bin/*", "/opt/fuzz/bin/**"]
# users = ["fuzz"]
# groups = ["fuzz"]
# env = ["ASAN_OPTIONS", "FUZZ_*"]
`

func tomlValue(f *pflag.Flag) string {
	switch f.Value.Type() {
	case "bool":
		return f.Value.String()
	case "int", "int64", "uint32":
		return f.Value.String()
	case "stringSlice":
		s := strings.Trim(f.Value.String(), "[]")
		if s == "" {
			return "[]"
		}
		var q []string
		for _, e := range strings.Split(s, ",") {
			q = append(q, strconv.Quote(e))
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return strconv.Quote(f.Value.String())
}
