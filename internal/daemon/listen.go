package daemon

import (
	"fmt"
	"net"
)

// listenTCP serves plaintext gRPC on a loopback address; anything else
// needs TLS, which this build does not offer yet.
func listenTCP(addr string, insecure bool) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %w", addr, err)
	}
	loopback := host == "localhost"
	if ip := net.ParseIP(host); ip != nil {
		loopback = ip.IsLoopback()
	}
	if !loopback {
		return nil, fmt.Errorf("--listen %s: plaintext TCP is only allowed on a loopback address (127.0.0.1, ::1, localhost); TLS is not available in this version", addr)
	}
	if !insecure {
		return nil, fmt.Errorf("--listen %s: plaintext TCP needs --insecure (anyone on this host can connect and run commands as the daemon's user)", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return l, nil
}
