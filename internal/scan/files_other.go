//go:build !unix

package scan

import (
	"io/fs"
	"path/filepath"
)

// fileKey identifies a directory however it is reached: without inode
// numbers, by its path with every link resolved.
type fileKey struct{ path string }

func keyOf(path string, _ fs.FileInfo) (fileKey, bool) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fileKey{}, false
	}
	abs, err := filepath.Abs(real)
	return fileKey{abs}, err == nil
}
