// Package version reports procd's version: the value stamped at link time
// (-ldflags "-X github.com/procd/procd/internal/version.version=v1.2.3"), or
// else what the Go toolchain recorded about the build.
package version

import "runtime/debug"

// version is set at link time; empty means "ask the build info".
var version string

// String returns the version, e.g. "v0.1.0", "devel (abc1234)" or "devel".
func String() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 7 {
			return "devel (" + s.Value[:7] + ")"
		}
	}
	return "devel"
}
