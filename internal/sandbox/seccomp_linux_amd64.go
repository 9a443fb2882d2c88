package sandbox

import "golang.org/x/sys/unix"

// native is the filter of the architecture this program runs on.
var native = &archFilter{
	name: "x86-64", audit: unix.AUDIT_ARCH_X86_64, x32: true,
	clone: unix.SYS_CLONE, clone3: unix.SYS_CLONE3,
	denied: append([]syscallName{
		{"iopl", unix.SYS_IOPL}, {"ioperm", unix.SYS_IOPERM}, {"uselib", unix.SYS_USELIB},
		{"_sysctl", unix.SYS__SYSCTL}, {"create_module", unix.SYS_CREATE_MODULE},
		{"get_kernel_syms", unix.SYS_GET_KERNEL_SYMS}, {"query_module", unix.SYS_QUERY_MODULE},
	}, deniedEverywhere...),
}
