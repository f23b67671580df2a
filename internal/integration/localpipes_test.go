//go:build linux

package integration

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
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
