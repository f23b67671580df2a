//go:build linux

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// Issue 19: `procctl completion bash|zsh|fish` prints a script that the
// shell loads; in bash, with the bash-completion package's helpers, it
// completes procctl's verbs by asking procctl itself.
func TestCompletionScripts(t *testing.T) {
	procctl := filepath.Join(binDir, "procctl")
	help, err := exec.Command(procctl, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(help), "completion") {
		t.Fatalf("procctl --help does not list completion: %v\n%s", err, help)
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		out, err := exec.Command(procctl, "completion", sh).Output()
		if err != nil || !bytes.Contains(out, []byte("procctl")) || len(out) < 1000 {
			t.Fatalf("procctl completion %s: %v, %d bytes", sh, err, len(out))
		}
		if _, err := exec.LookPath(sh); err != nil && sh != "bash" {
			t.Logf("%s not installed: its script is not loaded", sh)
			continue
		}
		// Load the script in the shell: a syntax error fails here.
		script := filepath.Join(t.TempDir(), "procctl."+sh)
		os.WriteFile(script, out, 0o644)
		load := map[string][]string{
			"bash": {"bash", "--norc", "-c", `source "$0" && complete -p procctl`, script},
			"zsh":  {"zsh", "-f", "-c", `autoload -U compinit && compinit -u && source "$0" && whence -w _procctl`, script},
			"fish": {"fish", "--no-config", "-c", `source $argv[1]; and complete -c procctl | string match -q '*__procctl*'`, script},
		}[sh]
		if res, err := exec.Command(load[0], load[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s cannot load procctl's completion script: %v\n%s", sh, err, res)
		} else if sh == "bash" && !strings.Contains(string(res), "__start_procctl") {
			t.Fatalf("bash: complete -p procctl says %q", res)
		}
	}

	const helpers = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(helpers); err != nil {
		t.Skipf("%s missing (Debian package bash-completion): verbs not completed through bash", helpers)
	}
	// What bash does on "procctl st<TAB>": the completion function, which
	// runs procctl __complete, fills COMPREPLY.
	script := filepath.Join(t.TempDir(), "procctl.bash")
	out, _ := exec.Command(procctl, "completion", "bash").Output()
	os.WriteFile(script, out, 0o644)
	cmd := exec.Command("bash", "--norc", "-c", `source "$1"; source "$2"
COMP_WORDS=(procctl st); COMP_CWORD=1; COMP_LINE="procctl st"; COMP_POINT=${#COMP_LINE}
__start_procctl procctl st procctl
printf '%s\n' "${COMPREPLY[@]}"`, "bash", helpers, script)
	cmd.Env = append(os.Environ(), "PATH="+binDir+":"+os.Getenv("PATH"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	res, err := cmd.Output()
	got := strings.Fields(string(res))
	sort.Strings(got)
	if want := []string{"start", "stats", "status", "stop"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("bash completion of \"procctl st\": %v %q, want %q\n%s", err, res, want, stderr.String())
	}
	// compopt only works inside a real completion; anything else is an error.
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line != "" && !strings.Contains(line, "compopt: not currently executing completion function") {
			t.Errorf("bash completion: %s", line)
		}
	}
}
