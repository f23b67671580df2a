// Command alloc is a test helper: it allocates and touches N MiB (-mib),
// prints "allocated", burns -cpu of CPU time, then sleeps until killed.
package main

import (
	"flag"
	"fmt"
	"time"
)

func main() {
	mib := flag.Int("mib", 100, "MiB to allocate and touch")
	cpu := flag.Duration("cpu", 100*time.Millisecond, "CPU time to burn after allocating")
	flag.Parse()
	var keep [][]byte
	for range *mib {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keep = append(keep, b)
	}
	fmt.Println("allocated")
	for deadline := time.Now().Add(*cpu); time.Now().Before(deadline); {
	}
	time.Sleep(time.Hour)
	_ = keep
}
