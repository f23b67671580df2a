package procattr

import (
	"strconv"
	"strings"
)

// Rlimit is one resource limit (RLIMIT_AS, RLIMIT_NOFILE…) for a child.
// Resource is the platform's RLIMIT_* number.
type Rlimit struct {
	Resource   int
	Soft, Hard uint64
}

// RlimitByName resolves "NOFILE" or "RLIMIT_NOFILE" (any case) to the
// platform's resource number; false for a resource a spec may not limit
// here (every one, off Linux).
func RlimitByName(name string) (int, bool) {
	r, ok := rlimitNames[strings.TrimPrefix(strings.ToUpper(name), "RLIMIT_")]
	return r, ok
}

// RlimitName is the short name of a resource ("NOFILE"), or its number
// when it has none here.
func RlimitName(res int) string {
	for n, r := range rlimitNames {
		if r == res {
			return n
		}
	}
	return strconv.Itoa(res)
}
