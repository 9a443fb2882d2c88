//go:build unix

package scan

import (
	"io/fs"
	"os"
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

// openFile opens path for reading without blocking: if it was swapped for
// a fifo since the walk saw a regular file there, opening it must not hang.
func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
