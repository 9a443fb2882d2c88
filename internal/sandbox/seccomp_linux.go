package sandbox

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// archFilter is what the filter knows of one architecture.
type archFilter struct {
	name  string
	audit uint32 // AUDIT_ARCH_*: seccomp_data.arch of its system calls
	// x32: the x32 ABI's calls, numbered from __X32_SYSCALL_BIT, share
	// x86-64's audit arch and must be refused by number.
	x32    bool
	clone  uint32 // clone: allowed unless its flags create a namespace
	clone3 uint32 // clone3: ENOSYS, as its flags sit in memory a filter cannot read
	// denied are refused with EPERM, whatever their arguments: what a
	// parser and the decoders it runs never need.
	denied []syscallName
}

type syscallName struct {
	name string
	nr   uint32
}

// deniedEverywhere are the system calls denied on every architecture.
// socket is among them: a parser needs none (a shared child's socket
// comes from its parent), and an AF_UNIX one could reach a daemon's
// socket (docker.sock), which Landlock does not cover.
var deniedEverywhere = []syscallName{
	// file systems and mounts
	{"mount", unix.SYS_MOUNT}, {"umount2", unix.SYS_UMOUNT2}, {"pivot_root", unix.SYS_PIVOT_ROOT},
	{"chroot", unix.SYS_CHROOT}, {"fsopen", unix.SYS_FSOPEN}, {"fsconfig", unix.SYS_FSCONFIG},
	{"fsmount", unix.SYS_FSMOUNT}, {"fspick", unix.SYS_FSPICK}, {"move_mount", unix.SYS_MOVE_MOUNT},
	{"open_tree", unix.SYS_OPEN_TREE}, {"mount_setattr", unix.SYS_MOUNT_SETATTR},
	{"open_by_handle_at", unix.SYS_OPEN_BY_HANDLE_AT}, {"name_to_handle_at", unix.SYS_NAME_TO_HANDLE_AT},
	{"swapon", unix.SYS_SWAPON}, {"swapoff", unix.SYS_SWAPOFF}, {"quotactl", unix.SYS_QUOTACTL},
	{"quotactl_fd", unix.SYS_QUOTACTL_FD}, {"acct", unix.SYS_ACCT}, {"fanotify_init", unix.SYS_FANOTIFY_INIT},
	{"lookup_dcookie", unix.SYS_LOOKUP_DCOOKIE}, {"nfsservctl", unix.SYS_NFSSERVCTL},
	// other processes
	{"ptrace", unix.SYS_PTRACE}, {"process_vm_readv", unix.SYS_PROCESS_VM_READV},
	{"process_vm_writev", unix.SYS_PROCESS_VM_WRITEV}, {"process_madvise", unix.SYS_PROCESS_MADVISE},
	{"pidfd_getfd", unix.SYS_PIDFD_GETFD}, {"kcmp", unix.SYS_KCMP},
	// namespaces
	{"unshare", unix.SYS_UNSHARE}, {"setns", unix.SYS_SETNS},
	// the kernel
	{"init_module", unix.SYS_INIT_MODULE}, {"finit_module", unix.SYS_FINIT_MODULE},
	{"delete_module", unix.SYS_DELETE_MODULE}, {"kexec_load", unix.SYS_KEXEC_LOAD},
	{"kexec_file_load", unix.SYS_KEXEC_FILE_LOAD}, {"reboot", unix.SYS_REBOOT},
	{"bpf", unix.SYS_BPF}, {"perf_event_open", unix.SYS_PERF_EVENT_OPEN}, {"userfaultfd", unix.SYS_USERFAULTFD},
	{"io_uring_setup", unix.SYS_IO_URING_SETUP}, {"io_uring_enter", unix.SYS_IO_URING_ENTER},
	{"io_uring_register", unix.SYS_IO_URING_REGISTER}, {"syslog", unix.SYS_SYSLOG},
	{"keyctl", unix.SYS_KEYCTL}, {"add_key", unix.SYS_ADD_KEY}, {"request_key", unix.SYS_REQUEST_KEY},
	// the machine's clock and names
	{"settimeofday", unix.SYS_SETTIMEOFDAY}, {"clock_settime", unix.SYS_CLOCK_SETTIME},
	{"clock_adjtime", unix.SYS_CLOCK_ADJTIME}, {"adjtimex", unix.SYS_ADJTIMEX},
	{"sethostname", unix.SYS_SETHOSTNAME}, {"setdomainname", unix.SYS_SETDOMAINNAME}, {"vhangup", unix.SYS_VHANGUP},
	// the network
	{"socket", unix.SYS_SOCKET},
}

// cloneNamespaceFlags are clone's flags that create namespaces
// (CLONE_NEWTIME, 0x80, is left out: in clone's flags those bits are the
// exit signal, and it can only be asked of clone3 and unshare).
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS |
	unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// x32SyscallBit marks the calls of the x32 ABI on x86-64.
const x32SyscallBit = 0x40000000

// Offsets in struct seccomp_data.
const (
	offsetNr   = 0
	offsetArch = 4
	offsetArg0 = 16 // the low 32 bits on a little-endian machine
)

// Seccomp says what InstallSeccomp installed.
type Seccomp struct {
	Arch   string
	Denied int // system calls denied whatever their arguments
}

func (s Seccomp) String() string {
	return fmt.Sprintf("seccomp: %d system calls denied with EPERM (mounts, ptrace, modules, keyrings, bpf, "+
		"namespaces, sockets, the clock…), clone creating namespaces denied, clone3 ENOSYS, "+
		"system calls of other architectures than %s refused", s.Denied, s.Arch)
}

// ErrSeccompUnsupported: no filter for this machine's architecture, or a
// kernel without seccomp filters.
var ErrSeccompUnsupported = errors.New("seccomp filters are not supported here")

// InstallSeccomp installs the filter on every thread (TSYNC). The caller
// must have set no_new_privs first.
func InstallSeccomp() (Seccomp, error) {
	if native == nil {
		return Seccomp{}, fmt.Errorf("%w: no filter for this architecture", ErrSeccompUnsupported)
	}
	prog, err := native.program()
	if err != nil {
		return Seccomp{}, err
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	tid, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC,
		uintptr(unsafe.Pointer(&fprog)))
	switch {
	case e == syscall.ENOSYS || e == syscall.EINVAL:
		return Seccomp{}, fmt.Errorf("%w: installing the seccomp filter: %w (a kernel built without CONFIG_SECCOMP_FILTER?)", ErrSeccompUnsupported, e)
	case e != 0:
		return Seccomp{}, fmt.Errorf("installing the seccomp filter: %w", e)
	case tid != 0:
		return Seccomp{}, fmt.Errorf("installing the seccomp filter: thread %d could not take it", tid)
	}
	return Seccomp{Arch: native.name, Denied: len(native.denied)}, nil
}

// program is the filter as classic BPF: the architecture, then the call.
func (a *archFilter) program() ([]unix.SockFilter, error) {
	var b bpfAssembler
	b.load(offsetArch)
	b.jumpIf(unix.BPF_JEQ, a.audit, "", "foreign")
	b.load(offsetNr)
	if a.x32 {
		b.jumpIf(unix.BPF_JGE, x32SyscallBit, "eperm", "")
	}
	b.jumpIf(unix.BPF_JEQ, a.clone, "clone", "")
	b.jumpIf(unix.BPF_JEQ, a.clone3, "enosys", "")
	for _, s := range a.denied {
		b.jumpIf(unix.BPF_JEQ, s.nr, "eperm", "")
	}
	b.ret(unix.SECCOMP_RET_ALLOW)
	b.label("clone")
	b.load(offsetArg0)
	b.jumpIf(unix.BPF_JSET, cloneNamespaceFlags, "eperm", "")
	b.ret(unix.SECCOMP_RET_ALLOW)
	b.label("eperm")
	b.ret(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	b.label("enosys")
	b.ret(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	b.label("foreign")
	b.ret(unix.SECCOMP_RET_KILL_PROCESS)
	return b.assemble()
}

// bpfAssembler writes a classic BPF program with forward jumps to labels.
type bpfAssembler struct {
	prog   []unix.SockFilter
	labels map[string]int
	jumps  []bpfJump
}

// bpfJump is a conditional jump whose targets are labels ("": the next
// instruction).
type bpfJump struct {
	at     int
	jt, jf string
}

func (b *bpfAssembler) load(offset uint32) {
	b.prog = append(b.prog, unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: offset})
}

func (b *bpfAssembler) ret(k uint32) {
	b.prog = append(b.prog, unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k})
}

func (b *bpfAssembler) jumpIf(op uint16, k uint32, jt, jf string) {
	b.jumps = append(b.jumps, bpfJump{len(b.prog), jt, jf})
	b.prog = append(b.prog, unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k})
}

func (b *bpfAssembler) label(name string) {
	if b.labels == nil {
		b.labels = map[string]int{}
	}
	b.labels[name] = len(b.prog)
}

// assemble resolves the jumps: classic BPF jumps only forward, at most
// 255 instructions.
func (b *bpfAssembler) assemble() ([]unix.SockFilter, error) {
	offset := func(from int, label string) (uint8, error) {
		if label == "" {
			return 0, nil
		}
		to, ok := b.labels[label]
		if d := to - from - 1; !ok || d < 0 || d > 255 {
			return 0, fmt.Errorf("seccomp filter: jump from %d to %q (%d) out of reach", from, label, to)
		}
		return uint8(to - from - 1), nil
	}
	var err error
	for _, j := range b.jumps {
		if b.prog[j.at].Jt, err = offset(j.at, j.jt); err != nil {
			return nil, err
		}
		if b.prog[j.at].Jf, err = offset(j.at, j.jf); err != nil {
			return nil, err
		}
	}
	return b.prog, nil
}
