package policy

import "strings"

// The default deny list: environment variables that change what a program
// loads or runs rather than what it does. A caller less privileged than the
// process it starts (procd usually runs as root) could use them to run code
// of its choosing inside it. SECURITY.md says why each group is here.
const (
	whyLoader = "dynamic loader variables (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT…) load code of the caller's choosing into the program"
	whyBashFn = "exported bash functions replace the commands a bash script runs"
	// glibc's own list of variables it drops for setuid programs
	// (UNSECURE_ENVVARS), less TMPDIR and TZDIR: those choose where files
	// go and which time-zone data is read, which a caller can do with
	// arguments as well, and harnesses set TMPDIR routinely.
	whyGlibc  = "glibc ignores it in setuid programs: it makes the C library load code or data of the caller's choosing"
	whyShell  = "a shell runs code from it before the script (BASH_ENV, ENV), traces with a command of the caller's choosing (SHELLOPTS or BASHOPTS with PS4), or splits words differently (IFS)"
	whyInterp = "an interpreter loads modules or runs code from it before the program"
)

// deniedPrefixes: every variable starting with one of these.
var deniedPrefixes = [...]struct{ prefix, why string }{
	{"LD_", whyLoader},
	{"BASH_FUNC_", whyBashFn},
}

// deniedNames: these exact names. Read-only.
var deniedNames = map[string]string{
	"GCONV_PATH": whyGlibc, "GETCONF_DIR": whyGlibc, "GLIBC_TUNABLES": whyGlibc, "HOSTALIASES": whyGlibc,
	"LOCALDOMAIN": whyGlibc, "LOCPATH": whyGlibc, "MALLOC_TRACE": whyGlibc, "NIS_PATH": whyGlibc,
	"NLSPATH": whyGlibc, "RESOLV_HOST_CONF": whyGlibc, "RES_OPTIONS": whyGlibc,

	"BASH_ENV": whyShell, "ENV": whyShell, "SHELLOPTS": whyShell, "BASHOPTS": whyShell, "PS4": whyShell, "IFS": whyShell,

	"PYTHONPATH": whyInterp, "PYTHONHOME": whyInterp, "PYTHONSTARTUP": whyInterp, "PYTHONINSPECT": whyInterp,
	"PYTHONUSERBASE": whyInterp, "PERL5LIB": whyInterp, "PERLLIB": whyInterp, "PERL5OPT": whyInterp,
	"PERL5DB": whyInterp, "RUBYLIB": whyInterp, "RUBYOPT": whyInterp, "NODE_OPTIONS": whyInterp,
	"NODE_PATH": whyInterp, "JAVA_TOOL_OPTIONS": whyInterp, "_JAVA_OPTIONS": whyInterp,
	"JDK_JAVA_OPTIONS": whyInterp, "LUA_INIT": whyInterp, "LUA_PATH": whyInterp, "LUA_CPATH": whyInterp,
}

// DeniedEnv reports whether name is on the default deny list, and why. The
// list applies to callers less privileged than procd (see Caller.Trusted)
// when no policy rule lists the variables they may set. procctl uses it too,
// so that it never forwards such a variable from a user's environment.
func DeniedEnv(name string) (why string, denied bool) {
	if why, ok := deniedNames[name]; ok {
		return why, true
	}
	for _, p := range deniedPrefixes {
		if strings.HasPrefix(name, p.prefix) {
			return p.why, true
		}
	}
	return "", false
}

// DeniedEnvNames lists the deny list for documentation: the exact names and
// the prefixes (ending in '*').
func DeniedEnvNames() []string {
	out := make([]string, 0, len(deniedNames)+len(deniedPrefixes))
	for _, p := range deniedPrefixes {
		out = append(out, p.prefix+"*")
	}
	for n := range deniedNames {
		out = append(out, n)
	}
	return out
}
