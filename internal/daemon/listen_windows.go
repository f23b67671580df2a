package daemon

import (
	"fmt"
	"net"
	"os"

	"go.uber.org/zap"
)

// socketDir is the socket's directory; on Windows its ACLs decide.
type socketDir struct {
	path string
	own  bool
	gid  int
}

// listenUnix on Windows: AF_UNIX sockets exist, but there is no flock or
// umask; the socket is created with the directory's ACLs.
func listenUnix(path string, _ socketDir, _ *zap.Logger) (net.Listener, *os.File, error) {
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return l, nil, nil
}
