package server

import (
	"context"
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

	pb "github.com/procd/procd/proto/procd/v1"
)

// Access says who may call what. On the Unix socket callers are known by
// their kernel-verified credentials (SO_PEERCRED); over TCP by a verified
// client certificate or a bearer token (or, for plaintext on loopback,
// not at all).
type Access struct {
	// ControlUIDs and ControlGIDs may call everything.
	ControlUIDs, ControlGIDs []int
	// ReadUIDs and ReadGIDs may only read: status, list, wait, events,
	// output, stats.
	ReadUIDs, ReadGIDs []int
	// Token, when set, must be presented as "authorization: Bearer TOKEN"
	// by TCP callers.
	Token string
}

// Role is what a caller may do.
type Role int

// Roles.
const (
	RoleNone    Role = iota
	RoleRead         // status, list, wait, events, output, stats
	RoleControl      // everything
)

// readMethods may be called with RoleRead; every other method needs
// RoleControl (a method added later is control until listed here).
var readMethods = map[string]bool{
	pb.ProcessService_GetProcess_FullMethodName:     true,
	pb.ProcessService_ListProcesses_FullMethodName:  true,
	pb.ProcessService_WaitForProcess_FullMethodName: true,
	pb.ProcessService_WatchEvents_FullMethodName:    true,
	pb.ProcessService_ReadOutput_FullMethodName:     true,
	pb.ProcessService_GetStats_FullMethodName:       true,
}

// public methods need no role at all: health checks come from probes and
// say nothing about processes.
func public(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.Health/")
}

func needs(method string) Role {
	switch {
	case readMethods[method], strings.HasPrefix(method, "/grpc.reflection."):
		return RoleRead
	}
	return RoleControl
}

// Caller is who made a call, as far as the transport tells.
type Caller struct {
	Transport string // "unix" or "tcp"
	UID, GID  int    // -1 when unknown (TCP)
	PID       int    // 0 when unknown
	Groups    []int  // supplementary groups (unix)
	Addr      string // remote address (TCP)
	Identity  string // verified client certificate subject (mTLS)
}

// IsRoot reports whether the caller is root on this machine.
func (c *Caller) IsRoot() bool { return c.Transport == "unix" && c.UID == 0 }

func (c *Caller) String() string {
	switch {
	case c.Transport == "unix":
		return fmt.Sprintf("uid %d (gid %d, pid %d)", c.UID, c.GID, c.PID)
	case c.Identity != "":
		return fmt.Sprintf("%s at %s", c.Identity, c.Addr)
	}
	return "tcp " + c.Addr
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

// authorizer enforces Access on every call and records the caller.
type authorizer struct {
	access Access
	log    *zap.Logger
}

// authorize identifies the caller and checks it may call method.
func (a *authorizer) authorize(ctx context.Context, method string) (context.Context, error) {
	p, _ := peer.FromContext(ctx)
	c := &Caller{UID: -1, GID: -1}
	var role Role
	if p != nil {
		switch info := p.AuthInfo.(type) {
		case peerCredInfo:
			c.Transport, c.UID, c.GID, c.PID, c.Groups = "unix", info.uid, info.gid, info.pid, info.groups
			role = a.unixRole(c)
		case credentials.TLSInfo:
			c.Transport, c.Addr = "tcp", p.Addr.String()
			if chains := info.State.VerifiedChains; len(chains) > 0 && len(chains[0]) > 0 {
				c.Identity = chains[0][0].Subject.String()
			}
			role = RoleControl // a TLS client that got this far passed the configured checks
		default:
			c.Transport = "tcp"
			if p.Addr != nil {
				c.Addr = p.Addr.String()
			}
			role = RoleControl // plaintext TCP exists only on loopback with --insecure
		}
	}
	ctx = context.WithValue(ctx, callerKey{}, c)
	if public(method) {
		return ctx, nil
	}
	if c.Transport == "tcp" && a.access.Token != "" && !a.tokenOK(ctx) {
		a.log.Warn("refused a call without a valid bearer token", zap.String("method", method), zap.String("peer", c.Addr))
		return ctx, status.Errorf(codes.Unauthenticated,
			"%s needs a bearer token: send the header 'authorization: Bearer <token>' (procctl --token-file)", method)
	}
	if need := needs(method); role < need {
		a.log.Warn("refused a caller", zap.String("method", method), zap.String("caller", c.String()), zap.Int("role", int(role)))
		return ctx, status.Errorf(codes.PermissionDenied, "%s may not call %s: %s", c, method, a.explain(need))
	}
	return ctx, nil
}

func (a *authorizer) unixRole(c *Caller) Role {
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
		return RoleControl
	case in(a.access.ReadUIDs, a.access.ReadGIDs):
		return RoleRead
	}
	return RoleNone
}

func (a *authorizer) tokenOK(ctx context.Context) bool {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		tok, ok := strings.CutPrefix(v, "Bearer ")
		if ok && subtle.ConstantTimeCompare([]byte(tok), []byte(a.access.Token)) == 1 {
			return true
		}
	}
	return false
}

// explain says who is allowed, for the refusal message.
func (a *authorizer) explain(need Role) string {
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
	if need == RoleRead {
		msg += fmt.Sprintf("; read-only access also uid %s or gid %s (--read-uid, --read-gid)", ids(a.access.ReadUIDs), ids(a.access.ReadGIDs))
	}
	return msg
}

func (a *authorizer) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, err := a.authorize(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (a *authorizer) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, err := a.authorize(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return h(srv, &callerStream{ServerStream: ss, ctx: ctx})
}

// callerStream carries the caller in its context.
type callerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *callerStream) Context() context.Context { return s.ctx }
