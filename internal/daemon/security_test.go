//go:build linux

package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/procd/procd/internal/config"
	"github.com/procd/procd/internal/policy"
	"github.com/procd/procd/internal/server"
)

func TestReadTokens(t *testing.T) {
	dir := t.TempDir()
	log := zaptest.NewLogger(t)
	file := filepath.Join(dir, "tokens")
	os.WriteFile(file, []byte("ci control 0123456789abcdef0123\n"), 0o644)
	if _, err := readTokens(file, log); err == nil || !strings.Contains(err.Error(), "mode 0644 lets other users read or change the tokens") {
		t.Fatalf("a token file others can read: %v", err)
	}
	os.Chmod(file, 0o600)
	toks, err := readTokens(file, log)
	if err != nil || len(toks) != 1 || toks[0].Name != "ci" || toks[0].Role != policy.RoleControl {
		t.Fatalf("tokens %v, %v", toks, err)
	}
	if os.Geteuid() == 0 {
		os.Chown(file, 65534, 65534)
		if _, err := readTokens(file, log); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Fatalf("a token file another user owns: %v", err)
		}
	}
}

// The start-up rule for TCP listeners: no listener admits an anonymous
// client.
func TestCheckTCP(t *testing.T) {
	tok := &server.Access{Tokens: []policy.Token{{Name: "ci", Role: policy.RoleControl, Secret: "0123456789abcdef"}}}
	certs := &server.Access{Clients: map[string]policy.Role{"cn:ci": policy.RoleControl}}
	none := &server.Access{}
	for _, tc := range []struct {
		addr string
		cfg  config.Config
		acc  *server.Access
		want string // "" : allowed
	}{
		{"0.0.0.0:1", config.Config{TLSCert: "c"}, none, "--tls-cert only proves procd to its clients"},
		{"127.0.0.1:1", config.Config{Insecure: true}, none, "no client credential is configured"},
		{"0.0.0.0:1", config.Config{TLSCert: "c", ClientCA: "ca"}, none, "--client-ca is set but maps no certificate"},
		{"0.0.0.0:1", config.Config{TLSCert: "c", ClientCA: "ca"}, certs, ""},
		{"0.0.0.0:1", config.Config{TLSCert: "c"}, tok, ""},
		{"0.0.0.0:1", config.Config{Insecure: true}, tok, "refusing plaintext TCP on 0.0.0.0:1: bearer tokens would cross the network"},
		{"127.0.0.1:1", config.Config{}, tok, "without --insecure"},
		{"localhost:1", config.Config{Insecure: true}, tok, ""},
		{"[::1]:1", config.Config{Insecure: true}, tok, ""},
	} {
		err := checkTCP(tc.addr, &tc.cfg, tc.acc)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s %+v: %v, want %q", tc.addr, tc.cfg, err, tc.want)
		}
	}
}
