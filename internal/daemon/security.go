package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/config"
	"github.com/procd/procd/internal/server"
)

// access builds who may call what from the configuration: by default
// procd's own user and root control it; nobody else may even read.
func access(cfg *config.Config, log *zap.Logger) (server.Access, error) {
	var a server.Access
	var err error
	if a.ControlUIDs, err = ids(cfg.AllowUIDs, lookupUser); err != nil {
		return a, fmt.Errorf("--allow-uid: %w", err)
	}
	if len(cfg.AllowUIDs) == 0 {
		a.ControlUIDs = []int{os.Getuid()}
	}
	if !slices.Contains(a.ControlUIDs, 0) {
		a.ControlUIDs = append(a.ControlUIDs, 0)
	}
	if a.ControlGIDs, err = ids(cfg.AllowGIDs, lookupGroup); err != nil {
		return a, fmt.Errorf("--allow-gid: %w", err)
	}
	if a.ReadUIDs, err = ids(cfg.ReadUIDs, lookupUser); err != nil {
		return a, fmt.Errorf("--read-uid: %w", err)
	}
	if a.ReadGIDs, err = ids(cfg.ReadGIDs, lookupGroup); err != nil {
		return a, fmt.Errorf("--read-gid: %w", err)
	}
	if cfg.TokenFile != "" {
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return a, fmt.Errorf("--token-file: %w", err)
		}
		a.Token = strings.TrimSpace(string(b))
		if len(a.Token) < 16 {
			return a, fmt.Errorf("--token-file %s: the token must be at least 16 characters", cfg.TokenFile)
		}
		if fi, err := os.Stat(cfg.TokenFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			log.Warn("the token file is readable by other users; chmod 600 it", zap.String("file", cfg.TokenFile))
		}
	}
	return a, nil
}

func ids(names []string, lookup func(string) (int, error)) ([]int, error) {
	var out []int
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if id, err := strconv.Atoi(n); err == nil {
			out = append(out, id)
			continue
		}
		id, err := lookup(n)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

func lookupUser(name string) (int, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, fmt.Errorf("unknown user %q", name)
	}
	return strconv.Atoi(u.Uid)
}

func lookupGroup(name string) (int, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, fmt.Errorf("unknown group %q", name)
	}
	return strconv.Atoi(g.Gid)
}

// tlsConfig loads --tls-cert/--tls-key and, with --client-ca, requires
// client certificates signed by it.
func tlsConfig(cfg *config.Config) (*tls.Config, error) {
	if cfg.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	t := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.ClientCA != "" {
		pem, err := os.ReadFile(cfg.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("--client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--client-ca %s: no PEM certificate in it", cfg.ClientCA)
		}
		t.ClientCAs, t.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return t, nil
}

// checkTCP applies the rule for --listen: off loopback, TLS or a token is
// required; plaintext only on loopback, and only with --insecure.
func checkTCP(cfg *config.Config) error {
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", cfg.Listen, err)
	}
	loopback := host == "localhost"
	if ip := net.ParseIP(host); ip != nil {
		loopback = ip.IsLoopback()
	}
	secured := cfg.TLSCert != "" || cfg.TokenFile != ""
	switch {
	case !loopback && !secured:
		return fmt.Errorf("refusing to listen on %s without TLS or a token: anyone who reaches it could run commands as procd's user. "+
			"Add --tls-cert and --tls-key (and --client-ca to require client certificates) or --token-file; "+
			"plaintext is only allowed on a loopback address with --insecure", cfg.Listen)
	case loopback && !secured && !cfg.Insecure:
		return fmt.Errorf("--listen %s: plaintext TCP needs --insecure (anyone on this host could connect and run commands as procd's user), "+
			"or secure it with --tls-cert/--tls-key or --token-file", cfg.Listen)
	}
	return nil
}

// socketGID resolves --socket-group; -1 when it is not set.
func socketGID(cfg *config.Config) (int, error) {
	if cfg.SocketGroup == "" {
		return -1, nil
	}
	gid, err := ids([]string{cfg.SocketGroup}, lookupGroup)
	if err != nil {
		return -1, fmt.Errorf("--socket-group: %w", err)
	}
	return gid[0], nil
}

// socketPermissions applies --socket-mode and --socket-group to the socket
// (its directory was prepared by listenUnix).
func socketPermissions(cfg *config.Config, gid int) error {
	mode, _ := strconv.ParseUint(cfg.SocketMode, 8, 32)
	if err := os.Chmod(cfg.Socket, os.FileMode(mode)); err != nil {
		return fmt.Errorf("--socket-mode: %w", err)
	}
	if gid < 0 {
		return nil
	}
	if err := os.Lchown(cfg.Socket, -1, gid); err != nil {
		return fmt.Errorf("--socket-group: %w", err)
	}
	return nil
}
