package extract

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"

	"github.com/hashr-dev/hashr/internal/sandbox"
	"github.com/hashr-dev/hashr/internal/unpack"
)

// childOpenFiles bounds a child's open files: the source, one spooled
// member, copies of nested archives 64 deep, the pipes of an xz process.
const childOpenFiles = 1024

// fallbackTools are the programs a child may run, when they are on PATH.
var fallbackTools = []string{"xz", "7zz", "wimlib-imagex", "cabextract"}

// libraryDirs hold what the dynamic loader needs to start those programs.
var libraryDirs = []string{"/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/libexec"}

// confine limits this process to what extracting job's source needs and
// returns what was applied, for --verbose. The inherited descriptors are
// closed, the rlimits set, the capabilities dropped and no_new_privs set
// always; Landlock and the seccomp filter as far as the kernel has them.
// Seccomp comes last: it denies calls the steps before make.
func confine(job *childJob) (string, error) {
	fds, err := closeInherited(job)
	if err != nil {
		return "", err
	}
	applied := []string{}
	for _, step := range []func(*childJob) (string, error){setLimits, restrictAccess, dropPrivileges} {
		what, err := step(job)
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
func closeInherited(job *childJob) (string, error) {
	var keep []int
	if job.Shared {
		keep = append(keep, sharedJobFD)
	}
	n, err := sandbox.CloseInherited(keep...)
	if err != nil {
		return "", err
	}
	kept := "stdin, stdout and stderr"
	if job.Shared {
		kept = "stdin, stdout, stderr and the job socket"
	}
	return fmt.Sprintf("inherited file descriptors: %d closed (only %s kept, none passed on to what it runs)", n, kept), nil
}

// dropPrivileges drops every capability, sets no_new_privs and installs
// the seccomp filter; the decoders this child runs inherit all three. A
// kernel without seccomp filters is said so in the report, as a kernel
// without Landlock is.
func dropPrivileges(*childJob) (string, error) {
	caps, err := sandbox.DropCapabilities()
	if err != nil {
		return "", err
	}
	if err := sandbox.SetNoNewPrivs(); err != nil {
		return "", err
	}
	filter, err := sandbox.InstallSeccomp()
	switch {
	case errors.Is(err, sandbox.ErrSeccompUnsupported):
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
func setLimits(job *childJob) (string, error) {
	set := func(what string, res int, soft, hard uint64) error {
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: soft, Max: hard}); err != nil {
			return fmt.Errorf("setting the %s limit: %w", what, err)
		}
		return nil
	}
	cpu := uint64(max(job.CPUSeconds, 1))
	if err := set("CPU time", syscall.RLIMIT_CPU, cpu, cpu+5); err != nil {
		return "", err
	}
	fsize := uint64(max(job.Limits.SourceBytes, job.Limits.MemberBytes, 1))
	if err := set("file size", syscall.RLIMIT_FSIZE, fsize, fsize); err != nil {
		return "", err
	}
	if err := set("open files", syscall.RLIMIT_NOFILE, childOpenFiles, childOpenFiles); err != nil {
		return "", err
	}
	debug.SetMemoryLimit(job.Memory)
	reserved := virtualSize()
	as := uint64(reserved + job.Memory)
	if err := set("address space", syscall.RLIMIT_AS, as, as); err != nil {
		return "", err
	}
	cpuText := fmt.Sprintf("%ds", cpu)
	if job.Shared {
		cpuText = fmt.Sprintf("%ds a source, %ds in all", job.SourceCPUSeconds, cpu)
	}
	return fmt.Sprintf("rlimits: CPU %s, file size %s, %d open files, memory %s (address space %s: the Go runtime's %s plus that)",
		cpuText, unpack.FormatSize(int64(fsize), ""), childOpenFiles, unpack.FormatSize(job.Memory, ""), unpack.FormatSize(int64(as), ""),
		unpack.FormatSize(reserved, "")), nil
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
func restrictAccess(job *childJob) (string, error) {
	abi, err := llsys.LandlockGetABIVersion()
	if err != nil || abi < 1 {
		return "Landlock: not available on this kernel (file system and network NOT restricted; " +
			"check that /sys/kernel/security/lsm lists landlock)", nil
	}
	var local string
	var src struct {
		Local string   `json:"local"`
		Parts []string `json:"parts"` // of a split WIM, read as the source is
	}
	if err := json.Unmarshal(job.Source, &src); err == nil {
		local = src.Local
	}
	var rules []landlock.Rule
	switch st, err := os.Stat(local); {
	case job.Shared: // its sources come as open files: it opens none
	case err == nil && st.IsDir(): // an OCI image layout
		rules = append(rules, landlock.RODirs(local))
	default:
		rules = append(rules, landlock.ROFiles(append([]string{local}, src.Parts...)...))
	}
	var writable []string
	for _, d := range []string{job.Spool, job.Temp} {
		if d != "" {
			writable = append(writable, d)
		}
	}
	rules = append(rules, landlock.RWDirs(writable...).WithRefer())
	var tools []string
	for _, t := range fallbackTools {
		if p, err := exec.LookPath(t); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				p = real
			}
			tools = append(tools, p)
		}
	}
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
	var b strings.Builder
	if job.Shared {
		fmt.Fprintf(&b, "Landlock ABI %d: opens no source (parses up to --sandbox-sources in turn, each handed over as an open file)", abi)
	} else {
		fmt.Fprintf(&b, "Landlock ABI %d: reads only the source (and a split WIM's other parts)", abi)
	}
	if len(tools) > 0 {
		fmt.Fprintf(&b, ", runs only %s (with the libraries in %s)", strings.Join(tools, ", "), strings.Join(libraryDirs, ", "))
	}
	fmt.Fprintf(&b, ", writes only %s", strings.Join(writable, " and "))
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
	return b.String(), nil
}
