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
	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/policy"
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
		if a.Tokens, err = readTokens(cfg.TokenFile, log); err != nil {
			return a, err
		}
	}
	a.Clients = map[string]policy.Role{}
	for _, m := range []struct {
		ids  []string
		role policy.Role
	}{{cfg.ControlClients, policy.RoleControl}, {cfg.ReadClients, policy.RoleRead}} {
		for _, id := range m.ids {
			p, err := policy.ParseClientID(strings.TrimSpace(id))
			if err != nil {
				return a, err // Validate reported it with the flag's name
			}
			a.Clients[p] = m.role
		}
	}
	return a, nil
}

// readTokens reads --token-file. It refuses a file others may read or
// write, or that belongs to a user other than procd's or root: whoever can
// read it can act as every client in it, and whoever can write it can add
// a token of their own.
func readTokens(file string, log *zap.Logger) ([]policy.Token, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("--token-file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("--token-file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("--token-file %s: mode %04o lets other users read or change the tokens; run chmod 600 %s", file, perm, file)
	}
	if uid := fileOwner(fi); uid >= 0 && uid != os.Geteuid() && uid != 0 {
		return nil, fmt.Errorf("--token-file %s is owned by %s, not by procd's user or root: its owner could add a token of their own", file, describeUID(uid))
	}
	tokens, legacy, err := policy.ParseTokens(f, file)
	if err != nil {
		return nil, fmt.Errorf("--token-file: %w", err)
	}
	if legacy {
		log.Warn("the token file holds one bare token (the format before roles): it gets the control role under the name \"default\"; "+
			"write it as a line NAME ROLE TOKEN to name it and choose its role", zap.String("file", file))
	}
	return tokens, nil
}

// startCheck is the manager's StartCheck for a command policy: it turns
// the manager's plain caller data into the policy's terms.
func startCheck(pol *policy.Policy) func(*manager.StartCheck) error {
	return func(r *manager.StartCheck) error {
		c := r.Caller
		role, _ := policy.ParseRole(c.Role) // "" or unknown: no role
		return pol.CheckStart(&policy.Start{
			Caller: &policy.Caller{Transport: c.Transport, UID: c.UID, GID: c.GID, Groups: c.Groups, Root: c.Root,
				Role: role, Identities: c.Identities, Desc: c.Desc},
			Command0: r.Command0, Executable: r.Executable, Env: r.Env,
			User: r.User, UID: r.UID, Group: r.Group, GID: r.GID, Groups: r.Groups, GIDs: r.GIDs,
		})
	}
}

// CommandPolicy compiles the config file's command policy, resolving the
// user and group names it mentions; with none, the default policy.
func CommandPolicy(cfg *config.Config) (*policy.Policy, error) {
	return policy.Compile(cfg.Policy, os.Geteuid(), policy.Lookup{User: lookupUser, Group: lookupGroup})
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
		// A certificate that is presented must verify (the handshake fails
		// otherwise); one that is not may be replaced by a token, and a
		// call with neither is refused UNAUTHENTICATED by the server, with
		// a message, rather than by a bare handshake failure.
		t.ClientCAs, t.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return t, nil
}

// checkTCP applies the rule for a TCP listener (--listen, or one passed by
// the service manager): every client must be able to prove who it is, so a
// listener where nothing would authenticate a client is refused, loopback
// or not (every local user can reach a local port). A server certificate
// alone authenticates procd to its clients, never a client to procd.
// Tokens need TLS, or a loopback address and --insecure.
func checkTCP(addr string, cfg *config.Config, acc *server.Access) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", addr, err)
	}
	loopback := host == "localhost"
	if ip := net.ParseIP(host); ip != nil {
		loopback = ip.IsLoopback()
	}
	certs := cfg.ClientCA != "" && len(acc.Clients) > 0
	switch {
	case !certs && len(acc.Tokens) == 0:
		what := "no client credential is configured"
		if cfg.ClientCA != "" {
			what = "--client-ca is set but maps no certificate to a role"
		} else if cfg.TLSCert != "" {
			what = "--tls-cert only proves procd to its clients, not its clients to procd"
		}
		return fmt.Errorf("refusing to serve TCP on %s: %s, so its clients would be anonymous. "+
			"Verify client certificates with --client-ca FILE and map them with --control-client ID / --read-client ID "+
			"(cn:NAME, dns:NAME, uri:URI), or give bearer tokens with --token-file FILE (lines NAME ROLE TOKEN)", addr, what)
	case cfg.TLSCert == "" && !loopback:
		return fmt.Errorf("refusing plaintext TCP on %s: bearer tokens would cross the network in clear; add --tls-cert and --tls-key "+
			"(plaintext is only for a loopback address, with --insecure)", addr)
	case cfg.TLSCert == "" && !cfg.Insecure:
		return fmt.Errorf("refusing plaintext TCP on %s without --insecure: bearer tokens would travel in clear (even on loopback, every local user can connect); "+
			"add --insecure, or --tls-cert and --tls-key", addr)
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
