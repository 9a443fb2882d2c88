package sandbox

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// run is the kernel's classic BPF, as much of it as the filter uses, on
// one call: its number, architecture and first argument.
func run(t *testing.T, prog []unix.SockFilter, nr, arch uint32, arg0 uint64) uint32 {
	t.Helper()
	data := make([]byte, 64) // struct seccomp_data
	binary.LittleEndian.PutUint32(data[offsetNr:], nr)
	binary.LittleEndian.PutUint32(data[offsetArch:], arch)
	binary.LittleEndian.PutUint64(data[offsetArg0:], arg0)
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			var taken bool
			switch in.Code &^ (unix.BPF_JMP | unix.BPF_K) {
			case unix.BPF_JEQ:
				taken = acc == in.K
			case unix.BPF_JGE:
				taken = acc >= in.K
			case unix.BPF_JSET:
				taken = acc&in.K != 0
			}
			if taken {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %d: unknown code %#x", pc, in.Code)
		}
	}
	t.Fatal("the filter ran off its end")
	return 0
}

const (
	allow  = unix.SECCOMP_RET_ALLOW
	eperm  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	enosys = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	kill   = unix.SECCOMP_RET_KILL_PROCESS
)

func TestSeccompFilterDecisions(t *testing.T) {
	if native == nil {
		t.Skip("no filter for this architecture")
	}
	prog, err := native.program()
	if err != nil {
		t.Fatal(err)
	}
	thread := uint64(unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM)
	cases := []struct {
		name     string
		nr, arch uint32
		arg0     uint64
		want     uint32
	}{
		{"read", unix.SYS_READ, native.audit, 0, allow},
		{"execve", unix.SYS_EXECVE, native.audit, 0, allow},
		{"landlock_restrict_self", unix.SYS_LANDLOCK_RESTRICT_SELF, native.audit, 0, allow},
		{"clone of a thread", unix.SYS_CLONE, native.audit, thread, allow},
		{"clone of a process (os/exec)", unix.SYS_CLONE, native.audit, unix.CLONE_VFORK | unix.CLONE_VM | unix.CLONE_PIDFD | uint64(unix.SIGCHLD), allow},
		{"clone CLONE_NEWUSER", unix.SYS_CLONE, native.audit, unix.CLONE_NEWUSER | uint64(unix.SIGCHLD), eperm},
		{"clone CLONE_NEWNET high bits set", unix.SYS_CLONE, native.audit, 1<<40 | unix.CLONE_NEWNET, eperm},
		{"clone3", unix.SYS_CLONE3, native.audit, 0, enosys},
		{"mount", unix.SYS_MOUNT, native.audit, 0, eperm},
		{"socket AF_UNIX", unix.SYS_SOCKET, native.audit, unix.AF_UNIX, eperm},
		{"keyctl", unix.SYS_KEYCTL, native.audit, 0, eperm},
		{"a foreign architecture's read", unix.SYS_READ, foreignArch(), 0, kill},
	}
	if native.x32 {
		cases = append(cases, struct {
			name     string
			nr, arch uint32
			arg0     uint64
			want     uint32
		}{"x32 read", x32SyscallBit | unix.SYS_READ, native.audit, 0, eperm})
	}
	for _, s := range native.denied {
		if got := run(t, prog, s.nr, native.audit, 0); got != eperm {
			t.Errorf("%s (%d): %#x, want EPERM", s.name, s.nr, got)
		}
	}
	for _, c := range cases {
		if got := run(t, prog, c.nr, c.arch, c.arg0); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, got, c.want)
		}
	}
}

func foreignArch() uint32 {
	if native.audit == unix.AUDIT_ARCH_X86_64 {
		return unix.AUDIT_ARCH_I386
	}
	return unix.AUDIT_ARCH_ARM
}

// No system call is denied twice, nor one the filter treats apart.
func TestSeccompDeniedUnique(t *testing.T) {
	if native == nil {
		t.Skip("no filter for this architecture")
	}
	seen := map[uint32]string{native.clone: "clone", native.clone3: "clone3"}
	for _, s := range native.denied {
		if prev, ok := seen[s.nr]; ok {
			t.Errorf("%s has the number of %s (%d)", s.name, prev, s.nr)
		}
		seen[s.nr] = s.name
	}
}
