package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/procd/procd/internal/policy"
	pb "github.com/procd/procd/proto/procd/v1"
)

// Access says who may call what. On the Unix socket callers are known by
// their kernel-verified credentials (SO_PEERCRED, SO_PEERGROUPS); over TCP
// by a client certificate verified against procd's client CA, or by a
// bearer token. A TCP caller that proves nothing gets no role, whatever
// the listener: there is no anonymous access.
type Access struct {
	// ControlUIDs and ControlGIDs may call everything over the socket.
	ControlUIDs, ControlGIDs []int
	// ReadUIDs and ReadGIDs may only read: status, list, wait, events,
	// output, stats.
	ReadUIDs, ReadGIDs []int
	// Clients maps verified client-certificate identities (cn:NAME,
	// dns:NAME, uri:URI as policy.ParseClientID writes them) to roles.
	Clients map[string]policy.Role
	// Tokens are the bearer tokens TCP callers may send as
	// "authorization: Bearer TOKEN", each with its role.
	Tokens []policy.Token
}

// readMethods may be called with the read role; every other method needs
// control (a method added later is control until listed here).
var readMethods = map[string]bool{
	pb.ProcessService_GetProcess_FullMethodName:     true,
	pb.ProcessService_ListProcesses_FullMethodName:  true,
	pb.ProcessService_WaitForProcess_FullMethodName: true,
	pb.ProcessService_WatchEvents_FullMethodName:    true,
	pb.ProcessService_ReadOutput_FullMethodName:     true,
	pb.ProcessService_GetStats_FullMethodName:       true,
}

// public methods need no role and no credential: health checks come from
// probes and say nothing about processes.
func public(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.Health/")
}

// needs is the role a method requires.
func needs(method string) policy.Role {
	switch {
	case readMethods[method], strings.HasPrefix(method, "/grpc.reflection."):
		return policy.RoleRead
	}
	return policy.RoleControl
}

// Caller is who made a call, as far as the transport proved it.
type Caller struct {
	Transport string // "unix" or "tcp"
	UID, GID  int    // kernel-verified on the socket; -1 over TCP
	PID       int    // 0 when unknown
	Groups    []int  // supplementary groups (unix)
	Addr      string // remote address (TCP)
	// Identities are the verified client certificate's names (cn:…,
	// dns:…, uri:…), TCP only.
	Identities []string
	Token      string // the name of the bearer token presented, TCP only
	Role       policy.Role
}

// IsRoot reports whether the caller is root on this machine.
func (c *Caller) IsRoot() bool { return c.Transport == "unix" && c.UID == 0 }

// String says who the caller is, for messages, logs and a process's
// "started by": never a secret.
func (c *Caller) String() string {
	if c.Transport == "unix" {
		return fmt.Sprintf("uid %d (gid %d, pid %d)", c.UID, c.GID, c.PID)
	}
	if len(c.Identities) == 0 && c.Token == "" {
		return "anonymous client at " + c.Addr
	}
	return c.Credential() + " at " + c.Addr
}

// Credential names what the caller proved: "uid 1000", "certificate
// cn:runner", "token ci", or "no credential".
func (c *Caller) Credential() string {
	if c.Transport == "unix" {
		return "uid " + strconv.Itoa(c.UID)
	}
	var parts []string
	if len(c.Identities) > 0 {
		parts = append(parts, "certificate "+strings.Join(c.Identities, " "))
	}
	if c.Token != "" {
		parts = append(parts, "token "+c.Token)
	}
	if len(parts) == 0 {
		return "no credential"
	}
	return strings.Join(parts, " and ")
}

type callerKey struct{}

// CallerFrom returns the caller of the call ctx belongs to.
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

// peerCredInfo is the AuthInfo of a Unix-socket connection.
type peerCredInfo struct {
	credentials.CommonAuthInfo
	uid, gid, pid int
	groups        []int
	// conn is the connection, for the local fast path (takeLocalPipes),
	// which asks the kernel for the peer's pidfd.
	conn *net.UnixConn
}

func (peerCredInfo) AuthType() string { return "peercred" }

// transportCreds identifies Unix-socket callers by SO_PEERCRED and runs
// TLS on TCP connections when configured (plaintext otherwise).
type transportCreds struct {
	tls credentials.TransportCredentials // nil: plaintext TCP
}

func (t *transportCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if uc, ok := conn.(*net.UnixConn); ok {
		info, err := peerCred(uc)
		if err != nil {
			return nil, nil, fmt.Errorf("read peer credentials: %w", err)
		}
		info.conn = uc
		return conn, info, nil
	}
	if t.tls != nil {
		return t.tls.ServerHandshake(conn)
	}
	return conn, insecureInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}, nil
}

type insecureInfo struct{ credentials.CommonAuthInfo }

func (insecureInfo) AuthType() string { return "insecure" }

func (t *transportCreds) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, fmt.Errorf("procd's transport credentials are server-side only")
}

func (t *transportCreds) Info() credentials.ProtocolInfo {
	if t.tls != nil {
		return t.tls.Info()
	}
	return credentials.ProtocolInfo{SecurityProtocol: "procd"}
}

func (t *transportCreds) Clone() credentials.TransportCredentials {
	c := *t
	if t.tls != nil {
		c.tls = t.tls.Clone()
	}
	return &c
}

func (t *transportCreds) OverrideServerName(string) error { return nil }

// authorizer is the one place that decides, for the socket and TCP alike,
// what a caller may call; it records the caller in the call's context and
// writes the audit log: every refusal, and every control call over TCP.
type authorizer struct {
	access Access
	tokens []tokenHash
	log    *zap.Logger
}

// tokenHash keeps a token's SHA-256, so comparisons take the same time
// whatever the lengths.
type tokenHash struct {
	policy.Token
	sum [sha256.Size]byte
}

func newAuthorizer(a Access, log *zap.Logger) *authorizer {
	z := &authorizer{access: a, log: log}
	for _, t := range a.Tokens {
		z.tokens = append(z.tokens, tokenHash{Token: t, sum: sha256.Sum256([]byte(t.Secret))})
	}
	return z
}

// authorize identifies the caller and checks it may call method. req is
// the request when the interceptor has it (unary calls), for the audit
// log. A refusal is logged here.
func (a *authorizer) authorize(ctx context.Context, method string, req any) (context.Context, *Caller, error) {
	c := &Caller{UID: -1, GID: -1}
	p, _ := peer.FromContext(ctx)
	var tlsInfo *credentials.TLSInfo
	if p != nil {
		if p.Addr != nil {
			c.Addr = p.Addr.String()
		}
		switch info := p.AuthInfo.(type) {
		case peerCredInfo:
			c.Transport, c.UID, c.GID, c.PID, c.Groups = "unix", info.uid, info.gid, info.pid, info.groups
			c.Role = a.unixRole(c)
		case credentials.TLSInfo:
			c.Transport, tlsInfo = "tcp", &info
		default:
			c.Transport = "tcp"
		}
	}
	ctx = context.WithValue(ctx, callerKey{}, c)
	if public(method) {
		return ctx, c, nil
	}
	if c.Transport != "unix" {
		if err := a.tcpRole(ctx, c, p, tlsInfo, method); err != nil {
			a.refused(c, method, req, err)
			return ctx, c, err
		}
	}
	if need := needs(method); c.Role < need {
		err := status.Errorf(codes.PermissionDenied, "%s may not call %s: %s", c, method, a.explain(c, need))
		a.refused(c, method, req, err)
		return ctx, c, err
	}
	return ctx, c, nil
}

// tcpRole establishes a TCP caller's role from its certificate and its
// token. It fails with UNAUTHENTICATED when the caller proved nothing or
// presented a token that is not valid here.
func (a *authorizer) tcpRole(ctx context.Context, c *Caller, p *peer.Peer, tlsInfo *credentials.TLSInfo, method string) error {
	if tlsInfo != nil {
		if chains := tlsInfo.State.VerifiedChains; len(chains) > 0 && len(chains[0]) > 0 {
			c.Identities = policy.CertIdentities(chains[0][0])
			for _, id := range c.Identities {
				c.Role = max(c.Role, a.access.Clients[id])
			}
		}
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if auth := md.Get("authorization"); len(auth) > 0 {
		if tlsInfo == nil && !loopback(p) {
			return status.Errorf(codes.Unauthenticated, "%s: a bearer token over plaintext TCP is accepted only from loopback; use TLS", method)
		}
		tok := a.token(auth)
		if tok == nil {
			return status.Errorf(codes.Unauthenticated,
				"%s: the bearer token is not one of procd's (--token-file); send 'authorization: Bearer <token>' with a token from that file", method)
		}
		c.Token = tok.Name
		c.Role = max(c.Role, tok.Role)
	}
	if len(c.Identities) == 0 && c.Token == "" {
		return status.Errorf(codes.Unauthenticated, "%s needs a credential, and the %s presented none: %s", method, c, a.howToAuthenticate(tlsInfo != nil))
	}
	return nil
}

func (a *authorizer) howToAuthenticate(tls bool) string {
	var ways []string
	if tls && len(a.access.Clients) > 0 {
		ways = append(ways, "a client certificate signed by procd's --client-ca (procctl --tls-cert and --tls-key)")
	}
	if len(a.access.Tokens) > 0 {
		ways = append(ways, "a bearer token from procd's --token-file (procctl --token-file)")
	}
	if len(ways) == 0 {
		return "this listener accepts no credential at all"
	}
	return "send " + strings.Join(ways, " or ")
}

// token finds the token an authorization header carries, comparing every
// token in constant time.
func (a *authorizer) token(headers []string) *policy.Token {
	var found *policy.Token
	for _, v := range headers {
		secret, ok := strings.CutPrefix(v, "Bearer ")
		if !ok {
			continue
		}
		sum := sha256.Sum256([]byte(secret))
		for i := range a.tokens {
			if subtle.ConstantTimeCompare(sum[:], a.tokens[i].sum[:]) == 1 && found == nil {
				found = &a.tokens[i].Token
			}
		}
	}
	return found
}

// loopback reports whether the peer's address is a loopback address.
func loopback(p *peer.Peer) bool {
	if p == nil || p.Addr == nil {
		return false
	}
	if tcp, ok := p.Addr.(*net.TCPAddr); ok {
		return tcp.IP.IsLoopback()
	}
	host, _, err := net.SplitHostPort(p.Addr.String())
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

func (a *authorizer) unixRole(c *Caller) policy.Role {
	in := func(uids, gids []int) bool {
		if slices.Contains(uids, c.UID) || slices.Contains(gids, c.GID) {
			return true
		}
		for _, g := range c.Groups {
			if slices.Contains(gids, g) {
				return true
			}
		}
		return false
	}
	switch {
	case in(a.access.ControlUIDs, a.access.ControlGIDs):
		return policy.RoleControl
	case in(a.access.ReadUIDs, a.access.ReadGIDs):
		return policy.RoleRead
	}
	return policy.RoleNone
}

// explain says why the caller lacks the role, and who has it.
func (a *authorizer) explain(c *Caller, need policy.Role) string {
	if c.Transport != "unix" {
		if c.Role == policy.RoleNone {
			return c.Credential() + " is mapped to no role (procd maps certificates with --control-client and --read-client, and gives each token its role in --token-file)"
		}
		return fmt.Sprintf("%s has the %s role, and this call needs %s", c.Credential(), c.Role, need)
	}
	ids := func(xs []int) string {
		if len(xs) == 0 {
			return "none"
		}
		s := make([]string, len(xs))
		for i, x := range xs {
			s[i] = strconv.Itoa(x)
		}
		return strings.Join(s, ",")
	}
	msg := fmt.Sprintf("control needs uid %s or gid %s (--allow-uid, --allow-gid)", ids(a.access.ControlUIDs), ids(a.access.ControlGIDs))
	if need == policy.RoleRead {
		msg += fmt.Sprintf("; read-only access also uid %s or gid %s (--read-uid, --read-gid)", ids(a.access.ReadUIDs), ids(a.access.ReadGIDs))
	}
	return msg
}

// refused writes the audit line for a refused call.
func (a *authorizer) refused(c *Caller, method string, req any, err error) {
	a.log.Warn("refused a caller", append(a.auditFields(c, method, req), zap.String("code", status.Code(err).String()))...)
}

// audited is a control call over TCP: every one is logged, with what it
// named and how it ended.
func (a *authorizer) audited(c *Caller, method string) bool {
	return c.Transport == "tcp" && !public(method) && needs(method) == policy.RoleControl
}

func (a *authorizer) auditFields(c *Caller, method string, req any) []zap.Field {
	f := []zap.Field{
		zap.String("method", method),
		zap.String("transport", c.Transport),
		zap.String("caller", c.String()),
		zap.String("credential", c.Credential()),
		zap.String("role", c.Role.String()),
	}
	if t := auditTarget(req); t != "" {
		f = append(f, zap.String("target", t))
	}
	return f
}

// auditTarget says which process or command a request names, for the audit log.
func auditTarget(req any) string {
	if req == nil {
		return ""
	}
	if r, ok := req.(*pb.AttachRequest); ok && r.GetStart() != nil {
		req = r.GetStart() // a session names its process, or its command
	}
	if r, ok := req.(interface{ GetSpec() *pb.ProcessSpec }); ok && r.GetSpec() != nil {
		return "command " + commandLine(r.GetSpec().GetCommand())
	}
	if r, ok := req.(*pb.RunBatchRequest); ok {
		return fmt.Sprintf("batch of %d jobs", len(r.GetJobs()))
	}
	var parts []string
	if r, ok := req.(interface{ GetId() string }); ok && r.GetId() != "" {
		parts = append(parts, "process "+r.GetId())
	}
	if r, ok := req.(interface{ GetPid() int32 }); ok && r.GetPid() != 0 {
		parts = append(parts, "pid "+strconv.Itoa(int(r.GetPid())))
	}
	if r, ok := req.(interface{ GetSelector() *pb.Selector }); ok && r.GetSelector() != nil {
		parts = append(parts, "selector "+strings.TrimSpace(r.GetSelector().String()))
	}
	return strings.Join(parts, ", ")
}

// commandLine quotes a command for a log line, bounded in length.
func commandLine(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Quote(a))
		if b.Len() > 200 {
			return b.String()[:200] + "…"
		}
	}
	return b.String()
}

func (a *authorizer) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, c, err := a.authorize(ctx, info.FullMethod, req)
	if err != nil {
		return nil, err
	}
	resp, err := h(ctx, req)
	if a.audited(c, info.FullMethod) {
		f := append(a.auditFields(c, info.FullMethod, req), zap.String("code", status.Code(err).String()))
		if r, ok := resp.(interface{ GetProcess() *pb.Process }); ok && r.GetProcess() != nil {
			f = append(f, zap.String("process-id", r.GetProcess().GetId()))
		}
		a.log.Info("control call", f...)
	}
	return resp, err
}

func (a *authorizer) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, c, err := a.authorize(ss.Context(), info.FullMethod, nil)
	if err != nil {
		return err
	}
	s := &callerStream{ServerStream: ss, ctx: ctx}
	if a.audited(c, info.FullMethod) {
		// The request comes with the first message: log then, not at the
		// end of what may be a long stream.
		s.first = func(m any) { a.log.Info("control call", a.auditFields(c, info.FullMethod, m)...) }
	}
	return h(srv, s)
}

// callerStream carries the caller in its context.
type callerStream struct {
	grpc.ServerStream
	ctx   context.Context
	first func(m any) // called with the first message received, then dropped
}

func (s *callerStream) Context() context.Context { return s.ctx }

func (s *callerStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil && s.first != nil {
		s.first(m)
		s.first = nil
	}
	return err
}
