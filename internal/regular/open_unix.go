//go:build unix

package regular

import (
	"os"
	"syscall"
)

// openNonblocking opens path with O_NONBLOCK, so a FIFO or a device opens
// at once (or fails), and Open can look at it before anything reads. A
// regular file, a directory or a block device reads the same with the
// flag set: it only changes how pipes, sockets and terminals wait.
func openNonblocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
