//go:build unix

package daemon

import (
	"fmt"
	"io/fs"
	"os/user"
	"strconv"
	"syscall"
)

// fileOwner is a file's owner uid, -1 where the system does not say.
func fileOwner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// describeUID is "uid 1000 (alice)", or "uid 1000" without a passwd entry.
func describeUID(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("uid %d (%s)", uid, u.Username)
	}
	return fmt.Sprintf("uid %d", uid)
}
