// Package cgroup contains process trees in Linux control groups and bounds
// them. It finds the layout from /proc/self/mountinfo and /proc/self/cgroup
// rather than assuming one, and supports both:
//
//   - pure cgroup v2 (one hierarchy at /sys/fs/cgroup, controllers enabled
//     per subtree), what current distributions run;
//   - hybrid: a controller-less cgroup2 (usually /sys/fs/cgroup/unified)
//     beside cgroup v1 hierarchies (memory, pids, cpu), as on RHEL 8,
//     Ubuntu 20.04 and the machines procd is built on.
//
// Containment (tracking every descendant, setsid escapees included, and
// cgroup.kill) always uses cgroup2. Limits use v2 controllers where they are
// available, else v1 hierarchies. The package is only files: every path is
// under a root that tests point at a fake tree.
//
// Each procd owns one directory in every hierarchy it uses, locked for as
// long as it (or its guardian) lives; Setup removes the directories of
// procds that are provably gone beside its own (owner.go says how it
// proves it).
package cgroup

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Layout is where the cgroup hierarchies are mounted and where the calling
// process sits in each.
type Layout struct {
	// V2Mount is the cgroup2 mount point ("" if none) and V2Self the
	// process's cgroup relative to it ("/" for the root).
	V2Mount, V2Self string
	// V1 maps a v1 controller (memory, pids, cpu) to its hierarchy.
	V1 map[string]V1Hierarchy
}

// V1Hierarchy is one cgroup v1 hierarchy holding a controller.
type V1Hierarchy struct {
	Mount string // e.g. /sys/fs/cgroup/memory
	Self  string // the process's cgroup in it, e.g. /user.slice
}

// Hybrid reports whether v1 controllers sit beside the cgroup2 hierarchy.
func (l *Layout) Hybrid() bool { return len(l.V1) > 0 }

// v1Controllers are the v1 controllers procd uses for limits.
var v1Controllers = []string{"memory", "pids", "cpu"}

// Discover reads mountinfo and the process's /proc/self/cgroup.
func Discover(mountinfo, self io.Reader) (Layout, error) {
	l := Layout{V1: map[string]V1Hierarchy{}}
	v1Mounts := map[string]string{} // controller → mount point
	sc := bufio.NewScanner(mountinfo)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		f := strings.Fields(sc.Text())
		sep := -1
		for i, x := range f {
			if x == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || len(f) < sep+3 {
			continue
		}
		mount, fstype, super := unescape(f[4]), f[sep+1], f[sep+3]
		switch fstype {
		case "cgroup2":
			if l.V2Mount == "" {
				l.V2Mount = mount
			}
		case "cgroup":
			for _, opt := range strings.Split(super, ",") {
				for _, c := range v1Controllers {
					if opt == c {
						if _, seen := v1Mounts[c]; !seen {
							v1Mounts[c] = mount
						}
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return l, fmt.Errorf("read mountinfo: %w", err)
	}
	sc = bufio.NewScanner(self)
	for sc.Scan() {
		// hierarchy-id:controller-list:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			l.V2Self = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if mount, ok := v1Mounts[c]; ok {
				l.V1[c] = V1Hierarchy{Mount: mount, Self: parts[2]}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return l, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	if l.V2Mount != "" && l.V2Self == "" {
		l.V2Self = "/"
	}
	return l, nil
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// v2Path is the absolute path of the process's own v2 cgroup.
func (l *Layout) v2Path() string { return filepath.Join(l.V2Mount, l.V2Self) }
