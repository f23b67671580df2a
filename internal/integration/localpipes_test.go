//go:build linux

package integration

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	pb "github.com/procd/procd/proto/procd/v1"
)

// Issue 18, must-show 3: over the local socket procctl run -i hands procd
// its own pipes (the process reads procctl's stdin pipe directly, so
// procd's WriteInput is refused, saying whose pipe it is); over TCP it
// stays on the gRPC stream (the session holds procd's stdin pipe, so the
// refusal names the holder). Every byte arrives either way.
func TestRunHandsItsPipesOverLocallyAndStreamsOverTCP(t *testing.T) {
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("local-pipes-0123456789abcdef\n"), 0o600)
	d := startDaemon(t, "--listen", "127.0.0.1:0", "--insecure", "--token-file", token)
	addr := tcpAddr(t, d)
	file, want := randomFile(t, 20<<20)
	grpcc := dialDaemon(t, d)
	for _, via := range []struct {
		name, refusal string
		args          []string
	}{
		{"socket", "a pipe of the client that started it", nil},
		{"tcp", "held by", []string{"--addr", addr, "--token-file", token}},
	} {
		t.Run(via.name, func(t *testing.T) {
			name := "lp-" + via.name
			cmd := d.procctlCmd(append(via.args, "run", "-i", "--name", name, "--timeout", "0", "--",
				"sh", "-c", "cat "+file+"; read x; echo got $x")...)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			var stderr syncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReaderSize(stdout, 64<<10)
			h := sha256.New()
			if _, err := io.CopyN(h, r, 20<<20); err != nil {
				t.Fatalf("reading the file through run -i: %v (stderr %q)", err, stderr.String())
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != want {
				t.Fatalf("run -i over %s delivered different bytes", via.name)
			}
			var ps struct {
				Processes []struct {
					ID string `json:"id"`
				} `json:"processes"`
			}
			json.Unmarshal([]byte(d.mustCtl("--json", "ps", "--name", name)), &ps)
			if len(ps.Processes) != 1 {
				t.Fatalf("ps --name %s: %+v", name, ps)
			}
			_, err := grpcc.WriteInput(context.Background(), &pb.WriteInputRequest{
				Target: &pb.WriteInputRequest_Id{Id: ps.Processes[0].ID}, Data: []byte("intruder\n")})
			if err == nil || !strings.Contains(err.Error(), via.refusal) {
				t.Errorf("WriteInput to a run -i process over %s: %v, want a refusal with %q", via.name, err, via.refusal)
			}
			io.WriteString(stdin, "hello\n")
			stdin.Close()
			rest, _ := io.ReadAll(r)
			if err := cmd.Wait(); err != nil || string(rest) != "got hello\n" {
				t.Fatalf("procctl run -i over %s: %v, then %q (stderr %q)", via.name, err, rest, stderr.String())
			}
		})
	}
}

// procd takes a caller's pipes with the caller's own rights, not root's
// (issue 18's review): a caller that made itself non-dumpable after it
// connected lets no one of its uid take its descriptors, so procd is
// refused and the session runs on the stream; root's CAP_SYS_PTRACE would
// have taken them. The same caller, dumpable, is on the fast path.
func TestLocalPipesAreTakenWithTheCallersRights(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	const uid = "65534"
	d := startDaemon(t, "--socket-mode", "0666", "--allow-uid", uid)
	os.Chmod(d.dir, 0o755)
	os.Chmod(binDir, 0o755)
	for _, c := range []struct{ mode, want string }{
		{"dumpable", "taken\nfrom-the-process\n"},
		{"nondumpable", "refused: take the caller's fd"},
	} {
		out, err := exec.Command(setpriv, "--reuid="+uid, "--regid="+uid, "--clear-groups",
			filepath.Join(binDir, "pipepeer"), d.socket, c.mode).CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), c.want) {
			t.Errorf("pipepeer %s as uid %s: %v, printed %q, want it to start with %q", c.mode, uid, err, out, c.want)
		}
		if c.mode == "nondumpable" && !strings.Contains(string(out), "from-the-process") {
			t.Errorf("the refused session did not fall back to the stream: %q", out)
		}
	}
}

// A caller that clears O_NONBLOCK on its copy of a pipe procd took, then
// never reads, holds back only its own process: procd writes through an
// open file description of its own, so nothing else waits (issue 18's
// review: a shared description let one client block procd's capture loop).
func TestABlockingClientPipeStallsOnlyItsProcess(t *testing.T) {
	d := startDaemon(t)
	peer := exec.Command(filepath.Join(binDir, "pipepeer"), d.socket, "blocking")
	stdout, _ := peer.StdoutPipe()
	if err := peer.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { peer.Process.Kill(); peer.Wait() }()
	r := bufio.NewReader(stdout)
	if line, _ := r.ReadString('\n'); line != "taken\n" {
		t.Fatalf("pipepeer: %q", line)
	}
	if line, _ := r.ReadString('\n'); line != "holding\n" {
		t.Fatalf("pipepeer: %q", line)
	}
	// The held process fills the client's pipe and the window; meanwhile
	// every other process's output and exit still flow.
	for i := range 3 {
		res := d.ctl("--rpc-timeout", "20s", "run", "--", "echo", fmt.Sprint("still-", i))
		if res.code != 0 || res.stdout != fmt.Sprintf("still-%d\n", i) {
			t.Fatalf("procctl run beside a stalled client: %v", res)
		}
	}
}
