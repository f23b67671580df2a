package client

import (
	"context"
	"fmt"
	"net"
	"slices"
	"time"
)

// DialAll dials one daemon per address with o's credentials, for a
// fan-out. With resolve, each address's host is looked up and every
// address it resolves to is a daemon of its own (a Kubernetes headless
// Service resolves to every node's procd); their certificates are verified
// against the name, not the address. An address given twice is refused:
// it would count one daemon twice. The connections ping their daemon after
// FanoutKeepalive without traffic, so that a daemon whose machine vanished
// is dropped rather than waited for.
func DialAll(ctx context.Context, o Options, addrs []string, resolve bool) ([]*Conn, error) {
	var targets []Options
	seen := map[string]string{}
	for _, addr := range addrs {
		ends := []Options{{Addr: addr}}
		if resolve {
			var err error
			if ends, err = resolveAll(ctx, addr); err != nil {
				return nil, err
			}
		}
		for _, e := range ends {
			if prev, dup := seen[e.Addr]; dup {
				return nil, fmt.Errorf("--addr %s: daemon %s is already in the list (from %s)", addr, e.Addr, prev)
			}
			seen[e.Addr] = addr
			t := o
			t.Addr, t.ServerName, t.Keepalive = e.Addr, e.ServerName, FanoutKeepalive
			targets = append(targets, t)
		}
	}
	conns := make([]*Conn, 0, len(targets))
	for _, t := range targets {
		c, err := Dial(t)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		conns = append(conns, c)
	}
	return conns, nil
}

// FanoutKeepalive is how long a fan-out's connection stays silent before it
// pings its daemon, and how long it waits for the answer.
const FanoutKeepalive = 30 * time.Second

// resolveAll returns one address per IP that addr's host resolves to, in
// a stable order.
func resolveAll(ctx context.Context, addr string) ([]Options, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %s: %w", addr, err)
	}
	if net.ParseIP(host) != nil {
		return []Options{{Addr: addr}}, nil
	}
	ips, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("--addr %s: resolving %s: %w", addr, host, err)
	}
	slices.Sort(ips)
	ips = slices.Compact(ips)
	out := make([]Options, 0, len(ips))
	for _, ip := range ips {
		out = append(out, Options{Addr: net.JoinHostPort(ip, port), ServerName: host})
	}
	return out, nil
}
