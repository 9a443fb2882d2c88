package sandbox

import "golang.org/x/sys/unix"

// native is the filter of the architecture this program runs on.
var native = &archFilter{
	name: "arm64", audit: unix.AUDIT_ARCH_AARCH64,
	clone: unix.SYS_CLONE, clone3: unix.SYS_CLONE3,
	denied: deniedEverywhere,
}
