package daemon

import (
	"net/http"
	"time"
)

// debugServer returns the http.Server for procd's read-only HTTP endpoints
// (metrics, pprof). They serve cleartext HTTP/1 and answer only GET and
// HEAD: nothing there changes state, and refusing every other method
// (CONNECT above all) keeps a client from steering the server's connection
// handling into the paths of Go's HTTP advisories (vulncheck-accept.txt).
// Header reads are bounded in size and time.
func debugServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           readOnly(h),
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// readOnly passes GET and HEAD to h and answers anything else 405.
func readOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, r.Method+" not allowed: this endpoint is read-only", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}
