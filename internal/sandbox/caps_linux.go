package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"
)

// Capabilities says what DropCapabilities dropped.
type Capabilities struct {
	// Bounding: the bounding set was emptied. It takes CAP_SETPCAP, which
	// a process not run as root seldom has; without it the bounding set
	// stays, but with no_new_privs an execve still gains nothing.
	Bounding bool
}

func (c Capabilities) String() string {
	if c.Bounding {
		return "capabilities: all dropped (effective, permitted, inheritable, ambient and bounding sets empty)"
	}
	return "capabilities: effective, permitted, inheritable and ambient sets empty; bounding set kept " +
		"(emptying it needs CAP_SETPCAP, which this process lacks)"
}

// DropCapabilities empties every capability set of every thread: the
// bounding set first (dropping from it needs CAP_SETPCAP, which goes with
// the effective set), then the ambient set, then effective, permitted and
// inheritable. As root, an execve would otherwise give back all that the
// bounding set holds.
func DropCapabilities() (Capabilities, error) {
	var c Capabilities
	var err error
	if c.Bounding, err = dropBounding(); err != nil {
		return c, err
	}
	if err := allThreadsPrctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL); err != nil && !errors.Is(err, syscall.EINVAL) {
		// EINVAL: a kernel before 4.3 has no ambient set.
		return c, fmt.Errorf("clearing the ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // version 3: two 32-bit halves, all zero
	if _, _, e := psx.Syscall3(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return c, fmt.Errorf("emptying the effective, permitted and inheritable capabilities: %w", e)
	}
	return c, nil
}

// dropBounding drops every capability from the bounding set; false when
// this process may not (no CAP_SETPCAP).
func dropBounding() (bool, error) {
	last := lastCapability()
	for cap := 0; cap <= last; cap++ {
		err := allThreadsPrctl(unix.PR_CAPBSET_DROP, uintptr(cap))
		switch {
		case err == nil:
		case errors.Is(err, syscall.EPERM):
			return false, nil
		case errors.Is(err, syscall.EINVAL) && cap > 0:
			return true, nil // past the kernel's last capability
		default:
			return false, fmt.Errorf("dropping capability %d from the bounding set: %w", cap, err)
		}
	}
	return true, nil
}

// lastCapability is the kernel's highest capability number; a kernel
// newer than x/sys may know more than unix.CAP_LAST_CAP.
func lastCapability() int {
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 0 && n < 256 {
			return n
		}
	}
	return unix.CAP_LAST_CAP + 8 // EINVAL ends the loop at the kernel's last
}

// SetNoNewPrivs sets no_new_privs on every thread: no execve grants
// privileges again (setuid programs, file capabilities), and this process
// may install a seccomp filter without CAP_SYS_ADMIN.
func SetNoNewPrivs() error {
	if err := allThreadsPrctl(unix.PR_SET_NO_NEW_PRIVS, 1); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	return nil
}

// allThreadsPrctl is prctl(option, arg, 0, 0, 0) on every thread.
func allThreadsPrctl(option int, arg uintptr) error {
	if _, _, e := psx.Syscall6(unix.SYS_PRCTL, uintptr(option), arg, 0, 0, 0, 0); e != 0 {
		return e
	}
	return nil
}
