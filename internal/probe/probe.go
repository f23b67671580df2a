// Package probe checks whether a starting server can be used: a TCP port
// that accepts a connection, an HTTP GET that answers 2xx, or an output line
// that matches a regular expression. Each check is one bounded attempt; Loop
// repeats attempts at an interval until one succeeds or its context ends.
//
// The package knows nothing of processes: the manager decides what to probe
// and when, runs exec probes itself (they are processes, started under its
// command policy), and turns success into readiness.
package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Attempt is one bounded check; nil means ready.
type Attempt func(ctx context.Context) error

// Result is how a Loop ended.
type Result struct {
	Attempts int
	Err      error // the last attempt's failure; nil when ready
}

// Loop runs attempt until one succeeds, each bounded by timeout and started
// interval after the previous one began (or at once, if it took longer). It
// returns when an attempt succeeds or ctx ends; report, if set, is told of
// each failed attempt. Loop starts no goroutine.
func Loop(ctx context.Context, interval, timeout time.Duration, attempt Attempt, report func(Result)) Result {
	var res Result
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			if res.Err == nil {
				res.Err = ctx.Err()
			}
			return res
		case <-timer.C:
		}
		began := time.Now()
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := attempt(actx)
		cancel()
		if err != nil && ctx.Err() != nil && res.Attempts > 0 {
			// Cut short by the end of ctx (a dial then says "i/o
			// timeout"): the last complete attempt says why it failed.
			return res
		}
		res.Attempts++
		res.Err = err
		if err == nil || ctx.Err() != nil {
			return res
		}
		if report != nil {
			report(res)
		}
		timer.Reset(max(interval-time.Since(began), 0))
	}
}

// CheckAddr validates a TCP probe address: host:port with a loopback host
// ("localhost" or a loopback IP), or a bare port, which means 127.0.0.1.
// It returns the address to dial. Probes stay on this machine: a readiness
// probe must not turn the daemon into a client of other hosts.
func CheckAddr(addr string) (string, error) {
	if _, err := parsePort(addr); err == nil {
		return net.JoinHostPort("127.0.0.1", addr), nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port or a port: %v", addr, err)
	}
	if _, err := parsePort(port); err != nil {
		return "", fmt.Errorf("%q: %v", addr, err)
	}
	if !loopbackHost(host) {
		return "", fmt.Errorf("%q: host %q is not loopback (probes reach this machine only: use 127.0.0.1, ::1 or localhost)", addr, host)
	}
	return addr, nil
}

func parsePort(s string) (int, error) {
	var p int
	if _, err := fmt.Sscanf(s, "%d", &p); err != nil || fmt.Sprint(p) != s || p < 1 || p > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return p, nil
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// TCP returns an attempt that connects to addr (as returned by CheckAddr)
// and closes the connection at once.
func TCP(addr string) Attempt {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// CheckURL validates an HTTP probe URL: http or https, with a loopback
// host (see CheckAddr).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	if !loopbackHost(u.Hostname()) {
		return fmt.Errorf("%q: host %q is not loopback (probes reach this machine only: use 127.0.0.1, [::1] or localhost)", raw, u.Hostname())
	}
	return nil
}

// HTTP probes URLs with GET. Use NewHTTP; it is safe for concurrent use.
type HTTP struct{ client *http.Client }

// NewHTTP returns an HTTP prober. It uses no proxy, keeps no idle
// connection, does not follow redirects (a 3xx is not ready) and accepts any
// server certificate: the server probed is a local one procd started, often
// with a self-signed certificate, and nothing secret is sent.
func NewHTTP() *HTTP {
	tr := &http.Transport{
		Proxy:             nil,
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
	}
	return &HTTP{client: &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Attempt returns an attempt that GETs rawURL (checked by CheckURL) and
// succeeds on a 2xx status.
func (h *HTTP) Attempt(rawURL string) Attempt {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "procd-readiness-probe")
		resp, err := h.client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("GET %s: %s", rawURL, resp.Status)
		}
		return nil
	}
}

// MaxLine bounds the bytes of one line a LineMatcher holds: a longer line is
// matched on its first MaxLine bytes.
const MaxLine = 64 << 10

// LineMatcher finds the first output line that matches a regular
// expression in bytes fed in chunks. It is not safe for concurrent use:
// give each stream its own.
type LineMatcher struct {
	re      *regexp.Regexp
	partial []byte // the current line so far, at most MaxLine bytes
}

// NewLineMatcher returns a matcher for re.
func NewLineMatcher(re *regexp.Regexp) *LineMatcher { return &LineMatcher{re: re} }

// Feed takes the next bytes of the stream and reports whether a line in
// them matches. The line still being written is tried too, as it grows: a
// server may print "listening" without a newline and wait.
func (l *LineMatcher) Feed(p []byte) bool {
	for {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := MaxLine - len(l.partial); room > 0 {
			l.partial = append(l.partial, chunk[:min(room, len(chunk))]...)
		}
		if i < 0 {
			return len(l.partial) > 0 && l.re.Match(l.partial)
		}
		if l.re.Match(l.partial) {
			return true
		}
		l.partial = l.partial[:0]
		p = p[i+1:]
	}
}
