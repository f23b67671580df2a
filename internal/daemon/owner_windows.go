package daemon

import (
	"io/fs"
	"strconv"
)

// fileOwner is -1 on Windows: ACLs, not an owner uid, decide access.
func fileOwner(fs.FileInfo) int { return -1 }

func describeUID(uid int) string { return "uid " + strconv.Itoa(uid) }
