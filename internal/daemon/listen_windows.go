package daemon

import (
	"fmt"
	"net"
)

// listenUnix on Windows: AF_UNIX sockets exist, but there is no flock or
// umask; the socket is created with the directory's ACLs.
func listenUnix(path string) (net.Listener, func(), error) {
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return l, func() {}, nil
}
