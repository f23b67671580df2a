//go:build linux

package integration

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/procd/procd/internal/testutil"
)

// logField finds the first JSON log line with msg and returns field.
func logField(t *testing.T, d *daemon, msg, field string) any {
	t.Helper()
	var v any
	testutil.WaitFor(t, "log line "+msg, func() bool {
		for _, line := range strings.Split(d.logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
				v = m[field]
				return true
			}
		}
		return false
	})
	return v
}

// Issue 7, must-show 1: a uid that is not allowed gets PERMISSION_DENIED
// and starts nothing; a read-only uid can list but not start.
func TestPeerCredentials(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to act as other users")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	d := startDaemon(t, "--socket-mode", "0666", "--read-uid", "65533", "--read-gid", "65531")
	os.Chmod(d.dir, 0o755)
	os.Chmod(binDir, 0o755)
	asGroups := func(uid, groups string, args ...string) result {
		g := "--clear-groups"
		if groups != "" {
			g = "--groups=" + groups
		}
		cmd := exec.Command(setpriv, append([]string{"--reuid=" + uid, "--regid=" + uid, g,
			filepath.Join(binDir, "procctl"), "--socket", d.socket}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Run()
		return result{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode()}
	}
	as := func(uid string, args ...string) result { return asGroups(uid, "", args...) }
	if r := as("65534", "ps"); r.code != 77 || !strings.Contains(r.stderr, "uid 65534") || !strings.Contains(r.stderr, "may not call") {
		t.Fatalf("stranger: %v", r)
	}
	if r := as("65534", "start", "true"); r.code != 77 {
		t.Fatalf("stranger start: %v", r)
	}
	if r := as("65533", "ps"); r.code != 0 {
		t.Fatalf("read-only ps: %v", r)
	}
	if r := as("65533", "start", "true"); r.code != 77 || !strings.Contains(r.stderr, "StartProcess") {
		t.Fatalf("read-only start: %v", r)
	}
	// Supplementary groups come from SO_PEERGROUPS: a member of the read
	// group (not its primary group) may read, and only read.
	if r := asGroups("65534", "65530,65531", "ps"); r.code != 0 {
		t.Fatalf("member of the read group, ps: %v", r)
	}
	if r := asGroups("65534", "65530,65531", "start", "true"); r.code != 77 {
		t.Fatalf("member of the read group, start: %v", r)
	}
	if out := d.mustCtl("ps", "--all"); strings.Contains(out, "true") {
		t.Fatalf("a refused caller started something:\n%s", out)
	}
	if !strings.Contains(d.logs.String(), "refused a caller") {
		t.Fatal("no log line for the refusals")
	}
	// The caller is recorded on what it starts.
	id := strings.TrimSpace(d.mustCtl("start", "-q", "true"))
	if c := d.statusJSON(id)["caller"]; !strings.HasPrefix(c.(string), "uid 0 ") {
		t.Fatalf("caller %v", c)
	}
	// Running as another user is for root callers only: root may.
	id = strings.TrimSpace(d.mustCtl("start", "-q", "--user", "65534", "--", "id", "-u"))
	d.mustCtl("wait", id)
	if out := d.mustCtl("logs", id); strings.TrimSpace(out) != "65534" {
		t.Fatalf("run as 65534: %q", out)
	}
}

// certs writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, all PEM, into dir.
func certs(t *testing.T, dir string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) {
		os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
	}
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "procd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	write("ca.pem", "CERTIFICATE", caDER)
	for _, c := range []struct {
		name  string
		usage x509.ExtKeyUsage
	}{{"server", x509.ExtKeyUsageServerAuth}, {"client", x509.ExtKeyUsageClientAuth}} {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "procd test " + c.name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{c.usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(k)
		write(c.name+".pem", "CERTIFICATE", der)
		write(c.name+"-key.pem", "EC PRIVATE KEY", kder)
	}
}

// tcpAddr is the TCP address the daemon listens on, from its start log.
func tcpAddr(t *testing.T, d *daemon) string {
	for _, a := range logField(t, d, "procd started", "listen").([]any) {
		if s := a.(string); strings.HasPrefix(s, "127.0.0.1:") {
			return s
		}
	}
	t.Fatal("no TCP listener in the start log")
	return ""
}

// Issue 7, must-show 2, with issue 13's rules: no TCP listener admits an
// anonymous client, TLS or not, loopback or not.
func TestTCPNeedsTLSOrTokenAndMTLS(t *testing.T) {
	out, err := exec.Command(filepath.Join(binDir, "procd"), "--socket", "", "--listen", "0.0.0.0:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refusing to serve TCP on 0.0.0.0:0") || !strings.Contains(string(out), "--client-ca") ||
		!strings.Contains(string(out), "--token-file") {
		t.Fatalf("plaintext off loopback: %v\n%s", err, out)
	}
	dir := t.TempDir()
	certs(t, dir)
	pemf := func(n string) string { return filepath.Join(dir, n) }

	// A server certificate alone authenticates nobody: refused at start.
	out, err = exec.Command(filepath.Join(binDir, "procd"), "--socket", "", "--listen", "127.0.0.1:0",
		"--tls-cert", pemf("server.pem"), "--tls-key", pemf("server-key.pem")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--tls-cert only proves procd to its clients") {
		t.Fatalf("TLS without a client credential: %v\n%s", err, out)
	}

	m := startDaemon(t, "--listen", "127.0.0.1:0", "--tls-cert", pemf("server.pem"), "--tls-key", pemf("server-key.pem"),
		"--client-ca", pemf("ca.pem"), "--control-client", "cn:procd test client")
	addr := tcpAddr(t, m)
	if r := m.ctl("--addr", addr, "--tls-ca", pemf("ca.pem"), "ps"); r.code != 77 || !strings.Contains(r.stderr, "needs a credential") {
		t.Fatalf("mTLS: a client without a certificate: %v", r)
	}
	if r := m.ctl("--addr", addr, "--tls-ca", pemf("ca.pem"), "--tls-cert", pemf("client.pem"), "--tls-key", pemf("client-key.pem"), "run", "true"); r.code != 0 {
		t.Fatalf("mTLS with a client certificate: %v", r)
	}

	token := pemf("token")
	os.WriteFile(token, []byte("0123456789abcdef-secret\n"), 0o600)
	out, err = exec.Command(filepath.Join(binDir, "procd"), "--socket", "", "--listen", "127.0.0.1:0", "--token-file", token).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refusing plaintext TCP on 127.0.0.1:0 without --insecure") {
		t.Fatalf("plaintext tokens without --insecure: %v\n%s", err, out)
	}
	tk := startDaemon(t, "--listen", "127.0.0.1:0", "--insecure", "--token-file", token)
	addr = tcpAddr(t, tk)
	if r := tk.ctl("--addr", addr, "ps"); r.code != 77 || !strings.Contains(r.stderr, "bearer token") {
		t.Fatalf("no token: %v", r)
	}
	if r := tk.ctl("--addr", addr, "--token-file", token, "run", "true"); r.code != 0 {
		t.Fatalf("with the token: %v", r)
	}
	if strings.Contains(tk.logs.String(), "0123456789abcdef-secret") {
		t.Fatal("the token appears in the log")
	}
}

// Issue 7, must-show 3.
func TestConfigDefaultAndCheck(t *testing.T) {
	procd := filepath.Join(binDir, "procd")
	def, err := exec.Command(procd, "config", "default").Output()
	if err != nil || !strings.Contains(string(def), "process-timeout = \"30s\"") {
		t.Fatalf("config default: %v\n%s", err, def)
	}
	check := exec.Command(procd, "config", "check", "/dev/stdin")
	check.Stdin = bytes.NewReader(def)
	if out, err := check.CombinedOutput(); err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("config default | config check: %v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("log-level: debug\nring-size: 1MiB\nprocess-timout: 5s\n"), 0o600)
	out, err := exec.Command(procd, "config", "check", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `bad.yaml:3: unknown key "process-timout"`) {
		t.Fatalf("unknown key: %v\n%s", err, out)
	}
	// And the daemon takes a file, with the command line winning.
	good := filepath.Join(t.TempDir(), "procd.toml")
	os.WriteFile(good, []byte("ring-size = \"64KiB\"\ngrace = \"9s\"\n"), 0o600)
	d := startDaemon(t, "--config", good, "--grace", "3s")
	var st struct {
		Output struct {
			RingBytes string `json:"ringBytes"`
		} `json:"output"`
	}
	json.Unmarshal([]byte(d.mustCtl("--json", "stats")), &st)
	if st.Output.RingBytes != "65536" {
		t.Fatalf("ring from the file: %q", st.Output.RingBytes)
	}
}

// Issue 7, must-show 4: the units verify; READY=1 and STOPPING=1 reach a
// fake NOTIFY_SOCKET; a socket passed by the service manager is served.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (Debian package systemd)")
	}
	dir := t.TempDir()
	for _, u := range []string{"procd.service", "procd.socket"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "systemd", u))
		if err != nil {
			t.Fatal(err)
		}
		// The unit names /usr/local/bin/procd; verify checks it exists.
		b = bytes.ReplaceAll(b, []byte("/usr/local/bin/procd"), []byte(filepath.Join(binDir, "procd")))
		os.WriteFile(filepath.Join(dir, u), b, 0o644)
	}
	out, err := exec.Command(analyze, "verify", filepath.Join(dir, "procd.socket"), filepath.Join(dir, "procd.service")).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestSystemdNotifyAndSocketActivation(t *testing.T) {
	dir, _ := os.MkdirTemp("", "pdsd")
	defer os.RemoveAll(dir)
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "notify"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	sock := filepath.Join(dir, "activated.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false) // the socket outlives this copy, as systemd's does
	lf, _ := l.(*net.UnixListener).File()
	l.Close()
	// systemd sets LISTEN_PID between fork and exec; a shell's exec keeps
	// its pid, so it can do the same here.
	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" --socket "$1"`,
		filepath.Join(binDir, "procd"), filepath.Join(dir, "unused.sock"))
	cmd.ExtraFiles = []*os.File{lf}
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+filepath.Join(dir, "notify"), "WATCHDOG_USEC=200000")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	read := func() string {
		notify.SetReadDeadline(time.Now().Add(15 * time.Second))
		buf := make([]byte, 4096)
		n, err := notify.Read(buf)
		if err != nil {
			t.Fatalf("no sd_notify message: %v\n%s", err, logs.String())
		}
		return string(buf[:n])
	}
	if msg := read(); !strings.HasPrefix(msg, "READY=1\nSTATUS=serving on") {
		t.Fatalf("first message %q", msg)
	}
	if msg := read(); msg != "WATCHDOG=1" {
		t.Fatalf("second message %q, want a watchdog ping", msg)
	}
	d := &daemon{t: t, socket: sock}
	d.mustCtl("run", "true") // served on the passed socket
	if _, err := os.Stat(filepath.Join(dir, "unused.sock")); err == nil {
		t.Fatal("procd created its own socket although one was passed")
	}
	cmd.Process.Signal(os.Interrupt)
	for {
		msg := read()
		if msg == "WATCHDOG=1" {
			continue
		}
		if !strings.HasPrefix(msg, "STOPPING=1") {
			t.Fatalf("message at shutdown %q", msg)
		}
		break
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("procd exit: %v\n%s", err, logs.String())
	}
}

// Issue 7, must-show 5.
func TestMetricsArePromtoolClean(t *testing.T) {
	d := startDaemon(t, "--metrics-addr", "127.0.0.1:0")
	d.mustCtl("run", "true")
	d.ctl("run", "--timeout", "0.2", "--extra-buffer", "0.1", "sleep", "10")
	addr := logField(t, d, "serving metrics", "addr").(string)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body := new(bytes.Buffer)
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`procd_process_exits_total{reason="HUNG"} 1`, `procd_process_starts_total 2`,
		"procd_watchdog_kill_latency_seconds_count", `grpc_server_handled_total{grpc_code="OK"`} {
		if !strings.Contains(body.String(), want) {
			t.Fatalf("metrics lack %q", want)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus)")
	}
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = body
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
