// Command notifier is a test helper: it speaks the sd_notify protocol to
// $NOTIFY_SOCKET like systemd-notify would, so tests need neither systemd
// nor Python.
//
//	notifier -delay 3s -ready -status TEXT -interval 200ms -count 25
//
// stays silent for delay (a slow start-up), sends READY=1 and STATUS=TEXT
// once, then WATCHDOG=1 count times, one per interval, prints "stopped" and
// sleeps until killed.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	ready := flag.Bool("ready", false, "send READY=1 first")
	status := flag.String("status", "", "send STATUS=TEXT first")
	interval := flag.Duration("interval", 200*time.Millisecond, "time between WATCHDOG=1 pings")
	count := flag.Int("count", 10, "number of pings")
	delay := flag.Duration("delay", 0, "silence before anything is sent")
	flag.Parse()
	time.Sleep(*delay)
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		fmt.Fprintln(os.Stderr, "notifier: NOTIFY_SOCKET is not set")
		os.Exit(2)
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "notifier:", err)
		os.Exit(2)
	}
	if *ready {
		conn.Write([]byte("READY=1"))
	}
	if *status != "" {
		conn.Write([]byte("STATUS=" + *status))
	}
	for range *count {
		conn.Write([]byte("WATCHDOG=1"))
		time.Sleep(*interval)
	}
	fmt.Println("stopped")
	time.Sleep(time.Hour)
}
