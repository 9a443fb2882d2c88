package sandbox

import (
	"fmt"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// CloseInherited closes the file descriptors this process inherited
// beyond stdin, stdout, stderr and keep, and marks keep close-on-exec so
// that no program it runs inherits them in turn. An inherited descriptor
// is one without FD_CLOEXEC: it survived this process's execve, while
// everything the Go runtime opens is close-on-exec. It returns how many
// it closed.
func CloseInherited(keep ...int) (int, error) {
	fds, err := openDescriptors()
	if err != nil {
		return 0, err
	}
	closed := 0
	for _, fd := range fds {
		if fd <= 2 {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue // gone meanwhile, or this process's own
		}
		if slices.Contains(keep, fd) {
			unix.CloseOnExec(fd)
			continue
		}
		if err := unix.Close(fd); err != nil {
			return closed, fmt.Errorf("closing inherited file descriptor %d: %w", fd, err)
		}
		closed++
	}
	return closed, nil
}

// MarkInheritedCloseOnExec marks every descriptor from 3 up close-on-exec,
// so that a program this process starts gets only the descriptors it is
// handed (os/exec's Stdin, Stdout, Stderr and ExtraFiles), not those this
// process's caller left open (a shell's `exec 7>>log`).
func MarkInheritedCloseOnExec() error {
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	// Before Linux 5.11: one by one.
	fds, err := openDescriptors()
	if err != nil {
		return err
	}
	for _, fd := range fds {
		if fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

// openDescriptors lists this process's open file descriptors, from
// /proc/self/fd or, without /proc, by asking each up to the limit.
func openDescriptors() ([]int, error) {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return probeDescriptors()
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("listing /proc/self/fd: %w", err)
	}
	self := int(d.Fd())
	var fds []int
	for _, n := range names {
		if fd, err := strconv.Atoi(n); err == nil && fd != self {
			fds = append(fds, fd)
		}
	}
	return fds, nil
}

func probeDescriptors() ([]int, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return nil, fmt.Errorf("reading the open files limit: %w", err)
	}
	var fds []int
	for fd := 0; uint64(fd) < min(lim.Cur, 1<<16); fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds, nil
}
