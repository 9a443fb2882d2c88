//go:build unix

package scan

import (
	"io/fs"
	"syscall"
)

// fileKey identifies a directory however it is reached: device and inode.
type fileKey struct{ dev, ino uint64 }

func keyOf(_ string, info fs.FileInfo) (fileKey, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, false
	}
	return fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true
}
