package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// Confinement is what a sandbox child may do: the files it reads, the
// directories it writes, and its rlimits.
type Confinement struct {
	// Shared: the child parses several sources in turn, each handed over
	// as an open file on the socket at KeepFD; it opens no source.
	Shared bool
	KeepFD int
	// ReadFiles are the files it reads (a source and a split WIM's other
	// parts); ReadDir, instead, a directory (an OCI layout).
	ReadFiles []string
	ReadDir   string
	// Write are the directories it writes (its spool and temporary
	// directories).
	Write []string
	// CPUSeconds bounds its CPU time (a shared child's whole life);
	// SourceCPUSeconds, in a shared child, each source's.
	CPUSeconds, SourceCPUSeconds int64
	FileSize                     int64 // bytes of any file it writes
	Memory                       int64 // bytes
}

// childOpenFiles bounds a child's open files: the source, one spooled
// member, copies of nested archives 64 deep, the pipes of an xz process.
const childOpenFiles = 1024

// fallbackTools are the programs a child may run, when they are on PATH.
var fallbackTools = []string{"xz", "7zz", "wimlib-imagex", "cabextract"}

// libraryDirs hold what the dynamic loader needs to start those programs.
var libraryDirs = []string{"/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/libexec"}

// Confine limits this process to c and returns what was applied, for
// --verbose. The inherited descriptors are
// closed, the rlimits set, the capabilities dropped and no_new_privs set
// always; Landlock and the seccomp filter as far as the kernel has them.
// Seccomp comes last: it denies calls the steps before make.
func Confine(c *Confinement) (string, error) {
	fds, err := closeInherited(c)
	if err != nil {
		return "", err
	}
	applied := []string{}
	for _, step := range []func(*Confinement) (string, error){setLimits, restrictAccess, dropPrivileges} {
		what, err := step(c)
		if err != nil {
			return "", err
		}
		applied = append(applied, what)
	}
	return strings.Join(append(applied, fds), "; "), nil
}

// closeInherited closes what this child inherited beyond its streams and,
// in a shared child, its socket: a descriptor its parent's caller left
// open (`exec 7>>log`) would otherwise be this child's to write.
func closeInherited(c *Confinement) (string, error) {
	var keep []int
	if c.Shared {
		keep = append(keep, c.KeepFD)
	}
	n, err := CloseInherited(keep...)
	if err != nil {
		return "", err
	}
	kept := "stdin, stdout and stderr"
	if c.Shared {
		kept = "stdin, stdout, stderr and the job socket"
	}
	return fmt.Sprintf("inherited file descriptors: %d closed (only %s kept, none passed on to what it runs)", n, kept), nil
}

// dropPrivileges drops every capability, sets no_new_privs and installs
// the seccomp filter; the decoders this child runs inherit all three. A
// kernel without seccomp filters is said so in the report, as a kernel
// without Landlock is.
func dropPrivileges(*Confinement) (string, error) {
	caps, err := DropCapabilities()
	if err != nil {
		return "", err
	}
	if err := SetNoNewPrivs(); err != nil {
		return "", err
	}
	filter, err := InstallSeccomp()
	switch {
	case errors.Is(err, ErrSeccompUnsupported):
		return fmt.Sprintf("%s; no_new_privs; seccomp NOT applied (%v)", caps, err), nil
	case err != nil:
		return "", err
	}
	return fmt.Sprintf("%s; no_new_privs; %s", caps, filter), nil
}

// setLimits sets the rlimits: CPU seconds (a soft limit, then SIGKILL 5s
// later), the size of any file written (the source limit: no member can
// be larger), open files, and memory: Go's soft limit at --sandbox-memory,
// so the collector works harder before failing, and the address space at
// what the runtime has already reserved plus that much.
func setLimits(c *Confinement) (string, error) {
	set := func(what string, res int, soft, hard uint64) error {
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: soft, Max: hard}); err != nil {
			return fmt.Errorf("setting the %s limit: %w", what, err)
		}
		return nil
	}
	cpu := uint64(max(c.CPUSeconds, 1))
	if err := set("CPU time", syscall.RLIMIT_CPU, cpu, cpu+5); err != nil {
		return "", err
	}
	fsize := uint64(max(c.FileSize, 1))
	if err := set("file size", syscall.RLIMIT_FSIZE, fsize, fsize); err != nil {
		return "", err
	}
	if err := set("open files", syscall.RLIMIT_NOFILE, childOpenFiles, childOpenFiles); err != nil {
		return "", err
	}
	debug.SetMemoryLimit(c.Memory)
	reserved := virtualSize()
	as := uint64(reserved + c.Memory)
	if err := set("address space", syscall.RLIMIT_AS, as, as); err != nil {
		return "", err
	}
	cpuText := fmt.Sprintf("%ds", cpu)
	if c.Shared {
		cpuText = fmt.Sprintf("%ds a source, %ds in all", c.SourceCPUSeconds, cpu)
	}
	return fmt.Sprintf("rlimits: CPU %s, file size %s, %d open files, memory %s (address space %s: the Go runtime's %s plus that)",
		cpuText, cli.FormatSize(int64(fsize)), childOpenFiles, cli.FormatSize(c.Memory), cli.FormatSize(int64(as)),
		cli.FormatSize(reserved)), nil
}

// virtualSize is this process's address space in bytes, from
// /proc/self/status (the runtime reserves much it never touches).
func virtualSize() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 2 << 30
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmSize:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 2 << 30
}

// restrictAccess applies Landlock: read the source, read and run the
// fallback tools (and the libraries they load), read and write the spool
// directory and the temporary directory; no TCP bind or connect; no
// signals or abstract sockets to processes outside. Best effort: an older
// kernel enforces what its ABI has, and the report says what that is.
func restrictAccess(c *Confinement) (string, error) {
	abi, err := llsys.LandlockGetABIVersion()
	if err != nil || abi < 1 {
		return "Landlock: not available on this kernel (file system and network NOT restricted; " +
			"check that /sys/kernel/security/lsm lists landlock)", nil
	}
	var rules []landlock.Rule
	switch {
	case c.Shared: // its sources come as open files: it opens none
	case c.ReadDir != "": // an OCI image layout
		rules = append(rules, landlock.RODirs(c.ReadDir))
	default:
		rules = append(rules, landlock.ROFiles(c.ReadFiles...))
	}
	rules = append(rules, landlock.RWDirs(c.Write...).WithRefer())
	tools := fallbackToolPaths()
	if len(tools) > 0 {
		rules = append(rules, landlock.ROFiles(tools...),
			landlock.RODirs(libraryDirs...).IgnoreIfMissing(),
			landlock.ROFiles("/etc/ld.so.cache").IgnoreIfMissing())
	}
	// os/exec gives a program /dev/null for the streams it is not handed.
	rules = append(rules, landlock.RWFiles("/dev/null").IgnoreIfMissing())
	if err := landlock.V11.BestEffort().Restrict(rules...); err != nil {
		return "", fmt.Errorf("applying Landlock: %w", err)
	}
	return describeAccess(c, abi, tools), nil
}

// fallbackToolPaths are the paths of the fallback tools on PATH, links
// resolved.
func fallbackToolPaths() []string {
	var tools []string
	for _, t := range fallbackTools {
		if p, err := exec.LookPath(t); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				p = real
			}
			tools = append(tools, p)
		}
	}
	return tools
}

// describeAccess says, for --verbose, what Landlock of that ABI enforces.
func describeAccess(c *Confinement, abi int, tools []string) string {
	var b strings.Builder
	if c.Shared {
		fmt.Fprintf(&b, "Landlock ABI %d: opens no source (parses up to --sandbox-sources in turn, each handed over as an open file)", abi)
	} else {
		fmt.Fprintf(&b, "Landlock ABI %d: reads only the source (and a split WIM's other parts)", abi)
	}
	if len(tools) > 0 {
		fmt.Fprintf(&b, ", runs only %s (with the libraries in %s)", strings.Join(tools, ", "), strings.Join(libraryDirs, ", "))
	}
	fmt.Fprintf(&b, ", writes only %s", strings.Join(c.Write, " and "))
	switch {
	case abi >= 10:
		b.WriteString("; network: TCP and UDP bind/connect denied")
	case abi >= 4:
		b.WriteString("; network: TCP bind/connect denied, UDP and other sockets not by Landlock (ABI 10 does; the seccomp filter denies every socket)")
	default:
		b.WriteString("; network not restricted by Landlock (needs ABI 4; the seccomp filter denies every socket)")
	}
	if abi >= 6 {
		b.WriteString("; no signals or abstract UNIX sockets to processes outside")
	}
	return b.String()
}
