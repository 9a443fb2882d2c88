//go:build unix

package load

import (
	"os"
	"syscall"
)

// lockFile takes f's exclusive flock without waiting; wait is for the
// run's own lock, on a file no one else can know yet.
func lockFile(f *os.File, wait bool) error {
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	return syscall.Flock(int(f.Fd()), how)
}
