//go:build unix

package regulartest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Mkfifo makes a FIFO at path, skipping the test where mkfifo(2) fails.
// Nothing ever writes to it, so an open(2) of it without O_NONBLOCK
// blocks for good.
func Mkfifo(t testing.TB, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
}

// OpenForWriting is an unblock for Within: it opens each FIFO for writing,
// which releases a reader stuck opening it.
func OpenForWriting(fifos ...string) func() {
	return func() {
		for _, f := range fifos {
			if w, err := os.OpenFile(f, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
		}
	}
}

// NewFIFO makes a FIFO in a new temporary directory and returns its path,
// skipping the test where mkfifo(2) fails.
func NewFIFO(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	Mkfifo(t, path)
	return path
}
