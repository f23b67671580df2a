//go:build linux

package integration

// Over 500 lines on purpose: SECURITY.md's table and the command policy, with the PKI helpers they share.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	cryptotls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Issue 13, must-show 4: a socket directory another user made first, or
// one anybody can write, makes procd refuse to start, naming the
// directory, its owner and its mode.
func TestSocketDirectoryRefusals(t *testing.T) {
	base, err := os.MkdirTemp("", "pdsd")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	procd := func(dir string) string {
		t.Helper()
		out, err := exec.Command(filepath.Join(binDir, "procd"), "--socket", filepath.Join(dir, "procd.sock")).CombinedOutput()
		if err == nil {
			t.Fatalf("procd served from %s:\n%s", dir, out)
		}
		return string(out)
	}
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o700)
	os.Chmod(open, 0o777)
	if out := procd(open); !strings.Contains(out, "socket directory "+open) || !strings.Contains(out, "mode 0777") ||
		!strings.Contains(out, "owner uid "+strconv.Itoa(os.Geteuid())) {
		t.Fatalf("0777 directory:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(open, "procd.sock.lock")); err == nil {
		t.Fatal("procd created its lock file before refusing")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a directory owned by another user")
	}
	theirs := filepath.Join(base, "theirs")
	os.Mkdir(theirs, 0o700)
	os.Chown(theirs, 65534, 65534)
	if out := procd(theirs); !strings.Contains(out, "socket directory "+theirs) || !strings.Contains(out, "owned by uid 65534") ||
		!strings.Contains(out, "mode 0700") {
		t.Fatalf("another user's directory:\n%s", out)
	}
}

// pki makes certificates for the tests: CAs, and leaves signed by them.
type pki struct {
	t   *testing.T
	dir string
}

type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func (p pki) newKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	return k
}

func (p pki) write(name, typ string, der []byte) string {
	file := filepath.Join(p.dir, name)
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return file
}

// ca makes a CA and writes its certificate as NAME.pem.
func (p pki) ca(name string) ca {
	k := p.newKey()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		p.t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	p.write(name+".pem", "CERTIFICATE", der)
	return ca{c, k}
}

// leaf writes NAME.pem and NAME-key.pem signed by ca, for a server (with
// 127.0.0.1) or a client, with a common name and URI SANs.
func (p pki) leaf(by ca, name string, server bool, cn string, uris ...string) (cert, key string) {
	k := p.newKey()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, []net.IP{net.ParseIP("127.0.0.1")}
	}
	for _, u := range uris {
		pu, err := url.Parse(u)
		if err != nil {
			p.t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, by.cert, &k.PublicKey, by.key)
	if err != nil {
		p.t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(k)
	return p.write(name+".pem", "CERTIFICATE", der), p.write(name+"-key.pem", "EC PRIVATE KEY", kder)
}

// securityTable parses the table between the security-table markers of
// SECURITY.md: transport|credential → role.
func securityTable(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "SECURITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- security-table -->")
	table, _, ok2 := strings.Cut(rest, "<!-- /security-table -->")
	if !ok || !ok2 {
		t.Fatal("SECURITY.md has no <!-- security-table --> … <!-- /security-table --> block")
	}
	rows := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(table), "\n")[2:] { // past the header and its rule
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 3 {
			t.Fatalf("SECURITY.md table row %q: want transport | credential | role", line)
		}
		key := strings.TrimSpace(cells[0]) + " | " + strings.TrimSpace(cells[1])
		if _, dup := rows[key]; dup {
			t.Fatalf("SECURITY.md lists %q twice", key)
		}
		rows[key] = strings.TrimSpace(cells[2])
	}
	return rows
}

// Issue 13, must-shows 1–3: every row of SECURITY.md's table, over real
// listeners of the real procd (the Unix socket as several users through
// setpriv; TCP with TLS, client certificates and tokens; plaintext TCP on
// loopback with tokens), and nothing refused ever runs.
func TestSecurityTable(t *testing.T) {
	// Long on purpose: one case per row of SECURITY.md's table over real listeners; split, the table would be too.
	if os.Getuid() != 0 {
		t.Skip("needs root to act as other users")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	os.Chmod(binDir, 0o755)
	dir := t.TempDir()
	p := pki{t, dir}
	procdCA, otherCA := p.ca("procd-ca"), p.ca("other-ca")
	serverCert, serverKey := p.leaf(procdCA, "server", true, "procd")
	ctlCert, ctlKey := p.leaf(procdCA, "ctl", false, "ctl")
	readCert, readKey := p.leaf(procdCA, "reader", false, "reader", "spiffe://cluster.local/ns/fuzz/sa/reader")
	strangerCert, strangerKey := p.leaf(procdCA, "stranger", false, "stranger")
	forgedCert, forgedKey := p.leaf(otherCA, "forged", false, "ctl") // the control CN, from another CA
	tokens := filepath.Join(dir, "tokens")
	os.WriteFile(tokens, []byte("# name role token\nci control ci-0123456789abcdef\nviewer read viewer-0123456789abcdef\n"), 0o600)
	tokenFile := func(name, secret string) string {
		f := filepath.Join(dir, name+".token")
		os.WriteFile(f, []byte(secret+"\n"), 0o600)
		return f
	}
	ciToken, viewerToken, wrongToken := tokenFile("ci", "ci-0123456789abcdef"), tokenFile("viewer", "viewer-0123456789abcdef"), tokenFile("wrong", "wrong-0123456789abcdef")
	const (
		allowUID, allowGID, readUID, readGID, stranger, procdUID = 65501, 65502, 65503, 65504, 65505, 65506
	)
	// A root procd with every kind of listener and mapping.
	main := startDaemon(t, "--socket-mode", "0666", "--allow-uid", strconv.Itoa(allowUID), "--allow-gid", strconv.Itoa(allowGID),
		"--read-uid", strconv.Itoa(readUID), "--read-gid", strconv.Itoa(readGID),
		"--listen", "127.0.0.1:0", "--tls-cert", serverCert, "--tls-key", serverKey, "--client-ca", filepath.Join(dir, "procd-ca.pem"),
		"--control-client", "cn:ctl", "--read-client", "uri:spiffe://cluster.local/ns/fuzz/sa/reader", "--token-file", tokens)
	os.Chmod(main.dir, 0o755)
	tlsAddr := tcpAddr(t, main)
	// Plaintext on loopback, tokens only.
	plain := startDaemon(t, "--listen", "127.0.0.1:0", "--insecure", "--token-file", tokens)
	plainAddr := tcpAddr(t, plain)
	// A procd running as an ordinary user: its own user and root control it.
	own := startAs(t, procdUID)

	// ctl runs procctl against d, as uid (with groups) when uid >= 0.
	type how struct {
		d      *daemon
		uid    int
		groups string
		args   []string // connection flags
	}
	run := func(h how, args ...string) result {
		t.Helper()
		argv := append(append([]string{filepath.Join(binDir, "procctl"), "--socket", h.d.socket, "--rpc-timeout", "20s"}, h.args...), args...)
		if h.uid >= 0 {
			g := "--clear-groups"
			if h.groups != "" {
				g = "--groups=" + h.groups
			}
			argv = append([]string{setpriv, "--reuid=" + strconv.Itoa(h.uid), "--regid=" + strconv.Itoa(h.uid), g}, argv...)
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Run()
		return result{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode()}
	}
	// probe finds the role h gets: it reads (ps), then controls (starts a
	// process named after the row, which must run only for control).
	started := map[*daemon][]string{}
	classify := func(r result) string {
		switch {
		case r.code == 77 && strings.Contains(r.stderr, "may not call"):
			return "none (PERMISSION_DENIED)"
		case r.code == 77 && (strings.Contains(r.stderr, "needs a credential") || strings.Contains(r.stderr, "is not one of procd's")):
			return "none (UNAUTHENTICATED)"
		case r.code == 77 && strings.Contains(r.stderr, "TLS handshake"):
			return "none (TLS handshake refused)"
		}
		return fmt.Sprintf("unexpected result: %v", r)
	}
	probe := func(row string, h how) string {
		t.Helper()
		name := fmt.Sprintf("row-%x", len(started[h.d])+100*len(row))
		r := run(h, "ps")
		if r.code != 0 {
			return classify(r)
		}
		r = run(h, "run", "--name", name, "true")
		if r.code == 0 {
			started[h.d] = append(started[h.d], name)
			return "control"
		}
		if c := classify(r); c != "none (PERMISSION_DENIED)" {
			return "read, then " + c
		}
		return "read"
	}
	tls := func(extra ...string) []string {
		return append([]string{"--addr", tlsAddr, "--tls-ca", filepath.Join(dir, "procd-ca.pem")}, extra...)
	}
	plaintext := func(extra ...string) []string { return append([]string{"--addr", plainAddr}, extra...) }
	refusedAtStart := func(args ...string) func() string {
		return func() string {
			out, err := exec.Command(filepath.Join(binDir, "procd"), append([]string{"--socket", ""}, args...)...).CombinedOutput()
			if err != nil && strings.Contains(string(out), "refusing") {
				return "procd refuses to start"
			}
			return fmt.Sprintf("procd started or failed otherwise: %v\n%s", err, out)
		}
	}
	rows := map[string]func() string{
		"unix | root (uid 0)":       func() string { return probe("root", how{d: own, uid: -1}) },
		"unix | procd's own user":   func() string { return probe("own", how{d: own, uid: procdUID}) },
		"unix | uid in --allow-uid": func() string { return probe("allow-uid", how{d: main, uid: allowUID}) },
		"unix | member of a group in --allow-gid": func() string {
			return probe("allow-gid", how{d: main, uid: stranger, groups: "65000," + strconv.Itoa(allowGID)})
		},
		"unix | uid in --read-uid":               func() string { return probe("read-uid", how{d: main, uid: readUID}) },
		"unix | member of a group in --read-gid": func() string { return probe("read-gid", how{d: main, uid: stranger, groups: strconv.Itoa(readGID)}) },
		"unix | any other user":                  func() string { return probe("stranger", how{d: main, uid: stranger}) },
		"tcp+tls | certificate from --client-ca, mapped by --control-client (cn:)": func() string {
			return probe("ctl-cert", how{d: main, uid: -1, args: tls("--tls-cert", ctlCert, "--tls-key", ctlKey)})
		},
		"tcp+tls | certificate from --client-ca, mapped by --read-client (uri: SPIFFE ID)": func() string {
			return probe("read-cert", how{d: main, uid: -1, args: tls("--tls-cert", readCert, "--tls-key", readKey)})
		},
		"tcp+tls | certificate from --client-ca, not mapped": func() string {
			return probe("stranger-cert", how{d: main, uid: -1, args: tls("--tls-cert", strangerCert, "--tls-key", strangerKey)})
		},
		"tcp+tls | certificate from another CA": func() string {
			// procctl does not offer a certificate procd's CA list does
			// not name; a client that sends it anyway fails the handshake.
			got := probe("forged-cert", how{d: main, uid: -1, args: tls("--tls-cert", forgedCert, "--tls-key", forgedKey)})
			if got != "none (UNAUTHENTICATED)" {
				return got
			}
			if err := forceCert(t, tlsAddr, forgedCert, forgedKey, filepath.Join(dir, "procd-ca.pem")); err == nil ||
				!strings.Contains(err.Error(), "unknown certificate authority") {
				return fmt.Sprintf("a certificate from another CA, sent anyway: %v", err)
			}
			return "none (UNAUTHENTICATED; if sent anyway, TLS handshake refused)"
		},
		"tcp+tls | token with role control": func() string { return probe("tls-ci", how{d: main, uid: -1, args: tls("--token-file", ciToken)}) },
		"tcp+tls | token with role read": func() string {
			return probe("tls-viewer", how{d: main, uid: -1, args: tls("--token-file", viewerToken)})
		},
		"tcp+tls | wrong token":              func() string { return probe("tls-wrong", how{d: main, uid: -1, args: tls("--token-file", wrongToken)}) },
		"tcp+tls | no certificate, no token": func() string { return probe("tls-none", how{d: main, uid: -1, args: tls()}) },
		"tcp loopback --insecure | token with role control": func() string {
			return probe("plain-ci", how{d: plain, uid: -1, args: plaintext("--token-file", ciToken)})
		},
		"tcp loopback --insecure | token with role read": func() string {
			return probe("plain-viewer", how{d: plain, uid: -1, args: plaintext("--token-file", viewerToken)})
		},
		"tcp loopback --insecure | wrong token": func() string {
			return probe("plain-wrong", how{d: plain, uid: -1, args: plaintext("--token-file", wrongToken)})
		},
		"tcp loopback --insecure | no token": func() string { return probe("plain-none", how{d: plain, uid: -1, args: plaintext()}) },
		"any | none": func() string {
			// Health answers without a credential where nothing else does.
			for _, target := range []struct {
				addr string
				tls  bool
			}{{tlsAddr, true}, {plainAddr, false}} {
				if !healthServing(t, target.addr, target.tls, filepath.Join(dir, "procd-ca.pem")) {
					return "no health answer from " + target.addr
				}
			}
			if r := run(how{d: plain, uid: -1, args: plaintext()}, "ps"); r.code == 0 {
				return "more than health checks"
			}
			return "health checks only"
		},
		"tcp+tls | server certificate only, no --client-ca mapping, no token": refusedAtStart(
			"--listen", "127.0.0.1:0", "--tls-cert", serverCert, "--tls-key", serverKey, "--client-ca", filepath.Join(dir, "procd-ca.pem")),
		"tcp | plaintext without --insecure, or off loopback": func() string {
			a := refusedAtStart("--listen", "127.0.0.1:0", "--token-file", tokens)()
			b := refusedAtStart("--listen", "0.0.0.0:0", "--insecure", "--token-file", tokens)()
			if a != b {
				return a + " / " + b
			}
			return a
		},
	}
	table := securityTable(t)
	for key := range table {
		if rows[key] == nil {
			t.Errorf("SECURITY.md row %q has no test here", key)
		}
	}
	for key, probe := range rows {
		want, ok := table[key]
		if !ok {
			t.Errorf("the test covers %q, which SECURITY.md's table does not list", key)
			continue
		}
		if got := probe(); got != want {
			t.Errorf("%s: got %q, SECURITY.md says %q", key, got, want)
		}
	}
	// Nothing ran but what control callers started.
	for _, d := range []*daemon{main, plain, own} {
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(d.mustCtl("ps", "--all")), "\n")[1:] {
			if f := strings.Fields(line); len(f) > 0 && strings.Contains(line, "row-") {
				for _, w := range f {
					if strings.HasPrefix(w, "row-") {
						got = append(got, w)
					}
				}
			}
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(started[d]))
		if !slices.Equal(got, want) {
			t.Errorf("processes started on %s: %v, want only the control callers' %v", d.socket, got, want)
		}
	}
	// The audit log: every refusal and every control call over TCP, with
	// who (never the token) and what.
	logs := main.logs.String()
	for _, want := range []string{`"msg":"refused a caller"`, `"msg":"control call"`, `"credential":"token ci"`, `"credential":"certificate cn:ctl"`,
		`"method":"/procd.v1.ProcessService/Attach"`, `"target":"command \"true\""`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s", want)
		}
	}
	for _, secret := range []string{"ci-0123456789abcdef", "viewer-0123456789abcdef", "wrong-0123456789abcdef"} {
		if strings.Contains(logs, secret) || strings.Contains(plain.logs.String(), secret) {
			t.Errorf("a token appears in the log")
		}
	}
}

// startAs runs procd as uid (its own directory, owned by uid).
func startAs(t *testing.T, uid int) *daemon {
	t.Helper()
	dir, err := os.MkdirTemp("", "pdu")
	if err != nil {
		t.Fatal(err)
	}
	os.Chown(dir, uid, uid)
	d := &daemon{t: t, dir: dir, socket: filepath.Join(dir, "procd.sock"), cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	d.start("--state-dir", filepath.Join(dir, "state"), "--socket-mode", "0666")
	t.Cleanup(func() {
		d.stop()
		os.RemoveAll(dir)
	})
	return d
}

// healthServing asks the health service at addr, with no credential.
func healthServing(t *testing.T, addr string, useTLS bool, caFile string) bool {
	t.Helper()
	creds := insecure.NewCredentials()
	if useTLS {
		c, err := credentials.NewClientTLSFromFile(caFile, "")
		if err != nil {
			t.Fatal(err)
		}
		creds = c
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
}

// forceCert completes a TLS handshake that sends cert whatever CAs procd
// names, then reads: procd's verdict on the certificate arrives there
// (TLS 1.3 checks the client's certificate after the client finishes).
func forceCert(t *testing.T, addr, certFile, keyFile, caFile string) error {
	t.Helper()
	cert, err := cryptotls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pemCA, _ := os.ReadFile(caFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCA)
	conn, err := cryptotls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &cryptotls.Config{
		RootCAs: pool, NextProtos: []string{"h2"},
		GetClientCertificate: func(*cryptotls.CertificateRequestInfo) (*cryptotls.Certificate, error) { return &cert, nil },
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")); err != nil {
		return err
	}
	_, err = conn.Read(make([]byte, 64))
	return err
}

// Issue 13, must-show 5: with a policy that allows only /usr/bin/*, a copy
// of sleep elsewhere is refused with PERMISSION_DENIED naming the rule, in
// StartProcess and in a batch; so is a link in /usr/bin that points
// outside it; and by default a non-root caller may not set LD_PRELOAD.
func TestCommandPolicy(t *testing.T) {
	// Long on purpose: a table of policy cases against one daemon.
	if os.Getuid() != 0 {
		t.Skip("needs root to act as another user and to write /usr/bin")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	os.Chmod(binDir, 0o755)
	const user = 65510
	dir, err := os.MkdirTemp("", "pdpol")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	sleepPath, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	if real, _ := filepath.EvalSymlinks(sleepPath); !strings.HasPrefix(real, "/usr/bin/") {
		t.Skipf("sleep is %s here, not in /usr/bin", real)
	}
	copyOfSleep := filepath.Join(dir, "sleep")
	b, err := os.ReadFile(sleepPath)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(copyOfSleep, b, 0o755)
	// A link in /usr/bin to the copy: created here, removed however the
	// test ends.
	link := filepath.Join("/usr/bin", fmt.Sprintf("procd-test-sleep-%d", os.Getpid()))
	if err := os.Symlink(copyOfSleep, link); err != nil {
		t.Skipf("cannot create a link in /usr/bin: %v", err)
	}
	t.Cleanup(func() { os.Remove(link) })

	cfg := filepath.Join(dir, "procd.toml")
	os.WriteFile(cfg, []byte(`
[[policy.rules]]
name = "system binaries"
match = ["*"]
executables = ["/usr/bin/*"]
`), 0o600)
	d := startDaemon(t, "--config", cfg, "--socket-mode", "0666", "--allow-uid", strconv.Itoa(user))
	os.Chmod(d.dir, 0o755)
	as := func(uid int, args ...string) result {
		cmd := exec.Command(setpriv, append([]string{"--reuid=" + strconv.Itoa(uid), "--regid=" + strconv.Itoa(uid), "--clear-groups",
			filepath.Join(binDir, "procctl"), "--socket", d.socket}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Run()
		return result{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode()}
	}
	rule := `policy rule "system binaries" (rules[0]) refuses executable `
	d.mustCtl("run", "true") // /usr/bin/true: allowed
	if r := d.ctl("start", "--name", "copy", "--", copyOfSleep, "100"); r.code != 77 ||
		!strings.Contains(r.stderr, rule+copyOfSleep+": it matches none of the rule's executables (/usr/bin/*)") {
		t.Fatalf("a copy of sleep outside /usr/bin: %v", r)
	}
	if r := d.ctl("start", "--name", "link", "--", filepath.Base(link), "100"); r.code != 77 ||
		!strings.Contains(r.stderr, rule+copyOfSleep+fmt.Sprintf(" (resolved from %q)", filepath.Base(link))) {
		t.Fatalf("a link in /usr/bin to a program outside it: %v", r)
	}
	if r := as(user, "start", "--name", "user-copy", "--", copyOfSleep, "100"); r.code != 77 || !strings.Contains(r.stderr, rule) {
		t.Fatalf("another user, the copy: %v", r)
	}
	if r := as(user, "run", "true"); r.code != 0 {
		t.Fatalf("another user, /usr/bin/true: %v", r)
	}
	// Batch jobs go through the same check.
	r := d.ctlIn([]byte(`{"command":["`+copyOfSleep+`","100"],"name":"batch-copy"}`+"\n"), "batch", "--jsonl")
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, rule+copyOfSleep) {
		t.Fatalf("a batch job with the copy: %v", r)
	}
	if out := d.mustCtl("ps", "--all"); strings.Contains(out, copyOfSleep) || strings.Contains(out, "copy") || strings.Contains(out, "link") {
		t.Fatalf("a refused start ran:\n%s", out)
	}
	if !strings.Contains(d.logs.String(), `"msg":"command policy in force"`) {
		t.Fatal("no log line for the policy")
	}

	// No policy: the default environment rule.
	def := startDaemon(t, "--socket-mode", "0666", "--allow-uid", strconv.Itoa(user))
	os.Chmod(def.dir, 0o755)
	d = def
	if r := as(user, "start", "-e", "LD_PRELOAD=/tmp/evil.so", "--", "true"); r.code != 77 ||
		!strings.Contains(r.stderr, "the default command policy refuses environment variable LD_PRELOAD from uid "+strconv.Itoa(user)) {
		t.Fatalf("LD_PRELOAD from a non-root caller: %v", r)
	}
	if r := as(user, "run", "-e", "FUZZ_SEED=1", "--", "true"); r.code != 0 {
		t.Fatalf("an ordinary variable from a non-root caller: %v", r)
	}
	if r := def.ctl("run", "-e", "LD_PRELOAD=", "--", "true"); r.code != 0 {
		t.Fatalf("LD_PRELOAD from root: %v", r)
	}
}
