//go:build linux

package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/procd/procd/proto/procd/v1"
)

// Issue 6, must-show 1.
func TestRunInteractive(t *testing.T) {
	d := startDaemon(t)
	if r := d.ctlIn([]byte("hello\n"), "run", "-i", "--", "cat"); r.code != 0 || r.stdout != "hello\n" {
		t.Fatalf("echo hello | procctl run -i -- cat: %v", r)
	}
	if r := d.ctlIn([]byte{}, "run", "-i", "--", "sh", "-c", "read x; exit 7"); r.code != 7 {
		t.Fatalf("run -i with empty stdin: %v", r)
	}
}

// Issue 6, must-show 5.
func TestRunTTY(t *testing.T) {
	d := startDaemon(t)
	r := d.ctl("run", "--tty", "--", "sh", "-c", "test -t 1 && echo tty")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "tty" {
		t.Fatalf("run --tty: %v", r)
	}
}

func dialDaemon(t testing.TB, d *daemon) pb.ProcessServiceClient {
	t.Helper()
	cc, err := grpc.NewClient("unix://"+d.socket, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(1<<20), grpc.WithInitialConnWindowSize(4<<20))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewProcessServiceClient(cc)
}

// attachLines is an Attach stream split into stdout lines.
type attachLines struct {
	stream pb.ProcessService_AttachClient
	buf    bytes.Buffer
	exit   *pb.Process
}

func (a *attachLines) line() (string, error) {
	for {
		if i := bytes.IndexByte(a.buf.Bytes(), '\n'); i >= 0 {
			l := string(a.buf.Next(i + 1))
			return l[:len(l)-1], nil
		}
		msg, err := a.stream.Recv()
		if err != nil {
			return "", err
		}
		if o := msg.GetOutput(); o != nil && o.GetStream() == pb.Stream_STREAM_STDOUT {
			a.buf.Write(o.GetData())
		}
		if e := msg.GetExit(); e != nil {
			a.exit = e
			return "", io.EOF
		}
	}
}

// Issue 6, must-show 2: 10,000 request/response round trips with a
// line-based JSON-RPC server through Attach; then stop, and the stream ends
// with the exit record.
func TestAttachJSONRPCRoundTrips(t *testing.T) {
	d := startDaemon(t)
	c := dialDaemon(t, d)
	ctx := context.Background()
	start, err := c.StartProcess(ctx, &pb.StartProcessRequest{Spec: &pb.ProcessSpec{
		Command: []string{filepath.Join(binDir, "echo")}, Stdin: pb.StdinMode_STDIN_MODE_PIPE}})
	if err != nil {
		t.Fatal(err)
	}
	id := start.GetProcess().GetId()
	stream, err := c.Attach(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(&pb.AttachRequest{Kind: &pb.AttachRequest_Start{Start: &pb.AttachStart{Target: &pb.AttachStart_Id{Id: id}, Stdin: true}}})
	a := &attachLines{stream: stream}
	const n = 10000
	t0 := time.Now()
	for i := range n {
		req := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"echo","params":[%d]}`+"\n", i, i)
		if err := stream.Send(&pb.AttachRequest{Kind: &pb.AttachRequest_Stdin{Stdin: []byte(req)}}); err != nil {
			t.Fatal(err)
		}
		got, err := a.line()
		if want := fmt.Sprintf(`{"id":%d,"result":[%d]}`, i, i); err != nil || got != want {
			t.Fatalf("round trip %d: %q, %v; want %q", i, got, err, want)
		}
	}
	el := time.Since(t0)
	t.Logf("%d Attach round trips in %v: %.0f round trips/s", n, el.Round(time.Millisecond), float64(n)/el.Seconds())
	// While the first holds stdin, a second writer is refused, naming it.
	second, _ := c.Attach(ctx)
	second.Send(&pb.AttachRequest{Kind: &pb.AttachRequest_Start{Start: &pb.AttachStart{Target: &pb.AttachStart_Id{Id: id}, Stdin: true}}})
	if _, err := second.Recv(); err == nil || !strings.Contains(err.Error(), "is held by attach #") {
		t.Fatalf("second stdin holder: %v", err)
	}
	d.mustCtl("stop", id)
	if _, err := a.line(); err != io.EOF || a.exit == nil || a.exit.GetExit().GetReason() != pb.ExitReason_EXIT_REASON_STOPPED {
		t.Fatalf("after stop: %v, exit record %v", err, a.exit)
	}
}

// Issue 6, must-show 3: 50 MiB written with a 1 MiB ring and log files is
// read back in full; rotation keeps disk use under the cap.
func TestLogFilesKeepEverything(t *testing.T) {
	d := startDaemon(t, "--ring-size", "1MiB", "--log-file-size", "16MiB", "--log-file-count", "4")
	data := filepath.Join(d.dir, "data")
	exec.Command("sh", "-c", "head -c 52428800 /dev/urandom > "+data).Run()
	want := fileSum(t, data)
	id := strings.TrimSpace(d.mustCtl("start", "-q", "--log-files", "--", "cat", data))
	d.mustCtl("wait", id)
	r := d.ctl("logs", "--stream", "stdout", id)
	if sum := sha256.Sum256([]byte(r.stdout)); hex.EncodeToString(sum[:]) != want || r.stderr != "" || r.code != 0 {
		t.Fatalf("read back %d bytes (want 52428800), exit %d, stderr %q", len(r.stdout), r.code, r.stderr)
	}
	// A second process writes 100 MiB with a 4 × 4 MiB cap: disk use stays
	// under it and the reader is told what was lost.
	d2 := startDaemon(t, "--ring-size", "1MiB", "--log-file-size", "4MiB", "--log-file-count", "4", "--log-files")
	id = strings.TrimSpace(d2.mustCtl("start", "-q", "--", "sh", "-c", "head -c 104857600 /dev/zero"))
	d2.mustCtl("wait", id)
	st := d2.statusJSON(id)
	dir := st["logDir"].(string)
	if du := dirSize(t, dir); du > 4*4<<20 {
		t.Fatalf("log files use %d bytes, over the 16 MiB cap", du)
	}
	r = d2.ctl("logs", "--stream", "stdout", id)
	if len(r.stdout) != 16<<20 || !strings.Contains(r.stderr, "were dropped") || r.code != 0 {
		t.Fatalf("read %d bytes of a capped log, exit %d, stderr %q", len(r.stdout), r.code, r.stderr)
	}
	d2.mustCtl("rm", id)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("log files of a removed record remain: %v", err)
	}
}

// A log file whose disk lags (PROCD_FAULT=slow-log-write:1000, a second
// per 64 KiB: 4 MiB take a minute to write, and the final record waits
// only --pipe-wait for them) is read whole right after wait, nothing
// reported dropped: what its writer still holds is read from memory.
// Before, the reader went from the log's end to the ring's 1 MiB and was
// told the bytes between were dropped, though the log would hold them.
func TestLogsAfterWaitWhileTheLogFileLags(t *testing.T) {
	d := startDaemonEnv(t, []string{"PROCD_FAULT=slow-log-write:1000"}, "--ring-size", "1MiB")
	data := filepath.Join(d.dir, "data")
	exec.Command("sh", "-c", "head -c 4194304 /dev/urandom > "+data).Run()
	want := fileSum(t, data)
	id := strings.TrimSpace(d.mustCtl("start", "-q", "--log-files", "--", "cat", data))
	d.mustCtl("wait", id)
	r := d.ctl("logs", "--stream", "stdout", id)
	if sum := sha256.Sum256([]byte(r.stdout)); hex.EncodeToString(sum[:]) != want || r.stderr != "" || r.code != 0 {
		t.Fatalf("read back %d bytes (want 4194304), exit %d, stderr %q", len(r.stdout), r.code, r.stderr)
	}
	if du := dirSize(t, d.statusJSON(id)["logDir"].(string)); du >= 4<<20 {
		t.Fatalf("the log file had caught up (%d bytes) by the read: it did not lag", du)
	}
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, bufio.NewReader(f))
	return hex.EncodeToString(h.Sum(nil))
}

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}
