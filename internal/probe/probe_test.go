package probe

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestLineMatcher(t *testing.T) {
	l := NewLineMatcher(regexp.MustCompile(`^listening on \d+$`))
	for _, chunk := range []string{"boot", "ing\nlisten", "ing on x\n"} {
		if l.Feed([]byte(chunk)) {
			t.Fatalf("matched at %q", chunk)
		}
	}
	if !l.Feed([]byte("listening on 80")) {
		t.Fatal("a line still being written did not match")
	}
	// A line longer than MaxLine is matched on its first MaxLine bytes,
	// and the matcher holds no more than that.
	l = NewLineMatcher(regexp.MustCompile(`^ready`))
	if l.Feed([]byte(strings.Repeat("x", 3*MaxLine))) || len(l.partial) != MaxLine {
		t.Fatalf("long line: held %d bytes", len(l.partial))
	}
	if !l.Feed([]byte("\nready\n")) {
		t.Fatal("the line after a long one did not match")
	}
}

func TestCheckAddrAndURL(t *testing.T) {
	for in, want := range map[string]string{"8080": "127.0.0.1:8080", "localhost:1": "localhost:1", "[::1]:9": "[::1]:9", "127.0.0.2:5": "127.0.0.2:5"} {
		if got, err := CheckAddr(in); err != nil || got != want {
			t.Errorf("CheckAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"0", "65536", "example.com:80", "10.1.1.1:22", ":80", "x"} {
		if _, err := CheckAddr(bad); err == nil {
			t.Errorf("CheckAddr(%q) accepted", bad)
		}
	}
	if err := CheckURL("http://127.0.0.1:8000/health"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"http://192.168.1.1/", "file:///etc/passwd", "http:///x", "%"} {
		if err := CheckURL(bad); err == nil {
			t.Errorf("CheckURL(%q) accepted", bad)
		}
	}
}

// Loop: attempts at the interval, each bounded, until one succeeds; the
// context ends it.
func TestLoop(t *testing.T) {
	n := 0
	var reported []int
	res := Loop(context.Background(), time.Millisecond, time.Second, func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("attempt without a deadline")
		}
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	}, func(r Result) { reported = append(reported, r.Attempts) })
	if res.Err != nil || res.Attempts != 3 || len(reported) != 2 {
		t.Fatalf("result %+v, reported %v", res, reported)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res = Loop(ctx, time.Millisecond, time.Second, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, nil)
	if res.Err == nil || res.Attempts != 1 {
		t.Fatalf("cancelled: %+v", res)
	}
}

// An attempt cut short by the end of the loop's context does not replace
// the last complete attempt's error: "connection refused" stays the reason,
// not the "i/o timeout" a dial reports when its context has ended.
func TestLoopKeepsTheLastCompleteAttemptsError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	refused := errors.New("connection refused")
	n := 0
	res := Loop(ctx, time.Millisecond, time.Second, func(actx context.Context) error {
		n++
		if n == 3 {
			cancel() // the startup timeout, mid-attempt
			<-actx.Done()
			return errors.New("i/o timeout")
		}
		return refused
	}, nil)
	if res.Err != refused || res.Attempts != 2 {
		t.Fatalf("Loop ended with %v after %d attempts, want the refusal after 2", res.Err, res.Attempts)
	}
}
