//go:build !unix

package regular

import "os"

// openNonblocking looks at path before opening it where O_NONBLOCK does
// not exist: a FIFO swapped in between the two can still block.
func openNonblocking(path string) (*os.File, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !readable(info.Mode()) {
		return nil, &NotAFileError{Path: path, Mode: info.Mode()}
	}
	return os.Open(path)
}
