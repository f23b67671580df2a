package daemon

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// The metrics and pprof servers answer GET and HEAD and refuse every
// other method, CONNECT included, over a real connection.
func TestDebugServerIsReadOnly(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := debugServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "metrics\n")
	}))
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	for _, tc := range []struct {
		req  string
		want int
	}{
		{"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200},
		{"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200},
		{"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405},
		{"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405},
		{"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 128<<10) + "\r\n\r\n", 431},
	} {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, tc.req)
		method, _, _ := strings.Cut(tc.req, " ")
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
		c.Close()
		if err != nil {
			t.Fatalf("%.20q: %v", tc.req, err)
		}
		if resp.StatusCode != tc.want {
			t.Errorf("%.20q: status %d, want %d", tc.req, resp.StatusCode, tc.want)
		}
	}
}
