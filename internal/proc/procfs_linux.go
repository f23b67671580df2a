package proc

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// Ancestry returns pid's parent and process group from /proc; ok is false
// when the process is gone.
func Ancestry(pid int) (ppid, pgrp int, ok bool) {
	st, ok := readStat(pid)
	return st.ppid, st.pgrp, ok
}

// Age returns how long ago pid started, to the clock tick (10 ms), from
// /proc; ok is false when the process is gone.
func Age(pid int) (time.Duration, bool) {
	st, ok := readStat(pid)
	if !ok || st.start == 0 {
		return 0, false
	}
	now := bootTicks()
	if now < st.start {
		return 0, true
	}
	return time.Duration(now-st.start) * (time.Second / userHZ), true
}

// TreeCPUTicks returns the CPU time, in clock ticks, used by pid and every
// live descendant, including what each has collected from children it
// waited for. It only ever grows while the tree runs, which is all the cpu
// activity source needs.
func TreeCPUTicks(pid int) (int64, bool) {
	var total int64
	found := false
	queue := []int{pid}
	for len(queue) > 0 && len(queue) < 100000 {
		p := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		ticks, ok := cpuTicks(p)
		if !ok {
			continue
		}
		found = true
		total += ticks
		queue = append(queue, childrenOf(p, false)...)
	}
	return total, found
}

// cpuTicks sums utime, stime, cutime and cstime (fields 14-17 of stat).
func cpuTicks(pid int) (int64, bool) {
	var buf [1024]byte
	n := readFull("/proc/"+strconv.Itoa(pid)+"/stat", buf[:])
	i := bytes.LastIndexByte(buf[:n], ')')
	if i < 0 || i+2 >= n {
		return 0, false
	}
	f := bytes.Fields(buf[i+2 : n])
	// f[0] is field 3 (state); utime is field 14, so f[11]..f[14].
	if len(f) < 15 {
		return 0, false
	}
	var sum int64
	for _, s := range f[11:15] {
		v, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, false
		}
		sum += v
	}
	return sum, true
}

// SelfRSS is the calling process's resident set size in bytes, from
// /proc/self/statm; 0 when it cannot be read.
func SelfRSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}
