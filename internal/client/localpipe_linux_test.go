package client

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func pipeSize(t *testing.T, f *os.File) int {
	t.Helper()
	sc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := sc.Control(func(fd uintptr) { n, err = unix.FcntlInt(fd, unix.F_GETPIPE_SZ, 0) }); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A pipe whose writer filled a read is raised to 1 MiB by a privileged
// caller and every byte arrives in order; a pipe of small writes keeps its
// default size, and so does a busy one for an unprivileged caller.
func TestCopyLocalPipeRaisesABusyPipeOnly(t *testing.T) {
	if !mayRaisePipes() {
		t.Skip("needs CAP_SYS_RESOURCE or CAP_SYS_ADMIN (the unprivileged case is TestAnUnprivilegedCopyKeepsTheDefaultPipe)")
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16)
	for i := range data {
		data[i] += byte(i / 65536) // no two 64 KiB blocks alike
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := w.Write(data[:64<<10]); err != nil { // the first read is full
		t.Fatal(err)
	}
	go func() {
		w.Write(data[64<<10:])
		w.Close()
	}()
	var got bytes.Buffer
	n, err := CopyLocalPipe(&got, r)
	if err != nil || n != int64(len(data)) || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("copied %d bytes of %d (err %v), equal %v", n, len(data), err, bytes.Equal(got.Bytes(), data))
	}
	if sz := pipeSize(t, r); sz != localPipeSize {
		t.Errorf("busy pipe is %d bytes, want %d", sz, localPipeSize)
	}

	qr, qw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer qr.Close()
	go func() {
		for range 10 {
			qw.Write([]byte("a line\n"))
		}
		qw.Close()
	}()
	if n, err := CopyLocalPipe(&bytes.Buffer{}, qr); n != 70 || err != nil {
		t.Fatalf("quiet copy: %d bytes, %v", n, err)
	}
	if sz := pipeSize(t, qr); sz != 64<<10 {
		t.Errorf("quiet pipe is %d bytes, want the default 65536", sz)
	}
}

// Without CAP_SYS_RESOURCE or CAP_SYS_ADMIN a busy pipe keeps its default size: its pages
// would count against the user's allowance for every pipe it makes.
func TestAnUnprivilegedCopyKeepsTheDefaultPipe(t *testing.T) {
	saved := mayRaisePipes
	mayRaisePipes = func() bool { return false }
	defer func() { mayRaisePipes = saved }()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		w.Write(make([]byte, 4<<20))
		w.Close()
	}()
	if n, err := CopyLocalPipe(io.Discard, r); n != 4<<20 || err != nil {
		t.Fatalf("copied %d bytes, %v", n, err)
	}
	if sz := pipeSize(t, r); sz != 64<<10 {
		t.Errorf("an unprivileged busy pipe is %d bytes, want the default 65536", sz)
	}
}

// Something that is not a pipe refuses the raise (EBADF, as a pipe over
// the user's allowance gets EPERM): the copy goes on at the read size it
// had and does not fail; a failing writer's error is returned.
func TestCopyLocalPipeGoesOnWhenTheRaiseIsRefused(t *testing.T) {
	data := bytes.Repeat([]byte{'x'}, 300<<10)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got bytes.Buffer
	if n, err := CopyLocalPipe(&got, f); err != nil || n != int64(len(data)) || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("copied %d of %d, err %v", n, len(data), err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := CopyLocalPipe(failingWriter{}, f); !errors.Is(err, errFull) {
		t.Fatalf("err %v, want the writer's", err)
	}
}

var errFull = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errFull }
