package extract

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/sandbox"
)

// decoderProbeEnv makes this test binary, run as a decoder ("xz") by a
// sandboxed child, print what forbiddenCalls gives and then wait to be
// inspected and killed.
const decoderProbeEnv = "HASHR_EXTRACT_TEST_DECODER_PROBE"

func init() {
	if os.Getenv(decoderProbeEnv) == "1" {
		os.Stdout.WriteString(forbiddenCalls() + "\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
}

// forbiddenCalls tries system calls a parser never needs, which the
// sandbox's seccomp filter denies, and says how each ended, as
// "CALL=RESULT,…" (RESULT: ok or the errno's name).
func forbiddenCalls() string {
	var res []string
	say := func(name string, err error) {
		result := "ok"
		if e, ok := err.(syscall.Errno); ok {
			result = unix.ErrnoName(e)
		} else if err != nil {
			result = "error"
		}
		res = append(res, name+"="+result)
	}
	// KEYCTL_GET_KEYRING_ID of KEY_SPEC_SESSION_KEYRING (-3).
	_, _, e := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(0xfffffffd), 0)
	say("keyctl", errnoErr(e))
	for _, s := range []struct {
		name           string
		domain, typ, p int
	}{
		{"socket(AF_NETLINK)", unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE},
		{"socket(AF_UNIX)", unix.AF_UNIX, unix.SOCK_STREAM, 0},
		{"socket(AF_INET)", unix.AF_INET, unix.SOCK_STREAM, 0},
	} {
		fd, err := unix.Socket(s.domain, s.typ|unix.SOCK_CLOEXEC, s.p)
		if err == nil {
			unix.Close(fd)
		}
		say(s.name, err)
	}
	// On a thread of its own, which ends with the goroutine (never
	// unlocked), should the call succeed.
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		done <- unix.Unshare(unix.CLONE_NEWUTS)
	}()
	say("unshare(CLONE_NEWUTS)", <-done)
	return strings.Join(res, ",")
}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// holdInChild is the "hold" fault: in the sandboxed child, it tries the
// forbidden calls, runs "xz" (this test binary, found first on PATH) which
// tries them too, and says both processes' ids and results; then it waits
// for the test to kill that decoder once it has read both processes'
// /proc files.
func holdInChild(p *cli.Program) {
	cmd := exec.Command("xz")
	cmd.Env = append(os.Environ(), decoderProbeEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		p.Warnf("fault: hold: starting xz: %v", err)
		return
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	p.Warnf("fault: hold child=%d decoder=%d child-calls=%s decoder-calls=%s", os.Getpid(), cmd.Process.Pid, forbiddenCalls(), strings.TrimSpace(line))
	cmd.Wait()
}

// heldProcesses is what the "hold" fault said.
type heldProcesses struct {
	child, decoder           int
	childCalls, decoderCalls map[string]string
}

func parseHold(line string) (*heldProcesses, error) {
	var h heldProcesses
	_, rest, _ := strings.Cut(line, "fault: hold ")
	var cc, dc string
	if _, err := fmt.Sscanf(rest, "child=%d decoder=%d child-calls=%s decoder-calls=%s", &h.child, &h.decoder, &cc, &dc); err != nil {
		return nil, fmt.Errorf("%q: %v", line, err)
	}
	h.childCalls, h.decoderCalls = parseCalls(cc), parseCalls(dc)
	if len(h.decoderCalls) == 0 {
		return nil, fmt.Errorf("the decoder said nothing: %q", line)
	}
	return &h, nil
}

func parseCalls(s string) map[string]string {
	m := map[string]string{}
	for kv := range strings.SplitSeq(s, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// procStatus is the fields of /proc/PID/task/TID/status the sandbox
// sets, for each thread of pid.
func procStatus(t *testing.T, pid int) map[string]map[string]string {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]map[string]string{}
	for _, task := range tasks {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			continue // the thread ended
		}
		fields := map[string]string{}
		for line := range strings.SplitSeq(string(data), "\n") {
			k, v, _ := strings.Cut(line, ":")
			switch k {
			case "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp":
				fields[k] = strings.TrimSpace(v)
			}
		}
		all[task.Name()] = fields
	}
	return all
}

// openFDs maps pid's descriptors from 3 up to what they are.
func openFDs(t *testing.T, pid int) map[int]string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fds := map[int]string{}
	for _, e := range ents {
		fd, _ := strconv.Atoi(e.Name())
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && fd > 2 {
			fds[fd] = target
		}
	}
	return fds
}

// extractHolding runs hashr-extract on one source whose child holds (the
// "hold" fault), calls inspect while the child and its decoder wait, and
// returns the run's output.
func extractHolding(t *testing.T, input string, inspect func(*heldProcesses), args ...string) *runOutput {
	t.Helper()
	pr, pw := io.Pipe()
	var stdout bytes.Buffer
	status := make(chan int)
	go func() {
		st := Main(args, strings.NewReader(input), &stdout, pw)
		pw.Close()
		status <- st
	}()
	var stderr strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		stderr.WriteString(line + "\n")
		if !strings.Contains(line, "fault: hold") {
			continue
		}
		h, err := parseHold(line)
		if err != nil {
			t.Error(err)
			continue
		}
		inspect(h)
		syscall.Kill(h.decoder, syscall.SIGKILL)
	}
	o := &runOutput{status: <-status, stderr: stderr.String()}
	if !strings.Contains(o.stderr, "fault: hold child=") {
		t.Fatalf("the child never held:\n%s", o.stderr)
	}
	return o
}

// A sandboxed child, and a decoder it runs, hold no capability, have
// no_new_privs and the seccomp filter, are denied what parsing never
// needs, and hold no descriptor this process's caller left open.
func TestSandboxDropsPrivileges(t *testing.T) {
	bin := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(exe, filepath.Join(bin, "xz")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(filepath.ListSeparator)+os.Getenv("PATH"))
	t.Setenv(faultEnv, "hold@victim.zip")

	// A descriptor left open the way `exec 7>>log` leaves one: writable,
	// not close-on-exec.
	marker := filepath.Join(t.TempDir(), "caller.log")
	f, err := os.Create(marker)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const leaked = 77
	if err := unix.Dup3(int(f.Fd()), leaked, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(leaked)

	root := os.Geteuid() == 0
	for _, mode := range [][]string{{"--hash", "sha256"}, {"--hash", "sha256", "--sandbox-sources", "1"}} {
		t.Run(strings.Join(mode, " "), func(t *testing.T) {
			unix.FcntlInt(leaked, unix.F_SETFD, 0) // as the caller left it, for each run
			shared := len(mode) == 2
			o := extractHolding(t, sourceAs(fixture(t, "tree.zip"), "victim.zip"), func(h *heldProcesses) {
				for who, pid := range map[string]int{"child": h.child, "decoder": h.decoder} {
					checkDropped(t, who, procStatus(t, pid), root)
					checkNoInheritedFDs(t, who, openFDs(t, pid), marker, who == "child" && shared)
				}
				for who, calls := range map[string]map[string]string{"child": h.childCalls, "decoder": h.decoderCalls} {
					for call, got := range calls {
						if got != "EPERM" {
							t.Errorf("%s: %s: %s, want EPERM", who, call, got)
						}
					}
				}
			}, append(mode, "--verbose")...)
			if o.status != 0 {
				t.Fatalf("status %d:\n%s", o.status, o.stderr)
			}
			for _, want := range []string{"capabilities: ", "no_new_privs", "seccomp: ", "system calls denied", "inherited file descriptors: "} {
				if !strings.Contains(o.stderr, want) {
					t.Errorf("--verbose does not say %q:\n%s", want, o.stderr)
				}
			}
			if root && !strings.Contains(o.stderr, "capabilities: all dropped") {
				t.Errorf("--verbose does not say every capability was dropped:\n%s", o.stderr)
			}
		})
	}
}

// checkDropped checks every thread's capabilities, no_new_privs and
// seccomp mode; the bounding set is empty only where it could be emptied
// (root: CAP_SETPCAP).
func checkDropped(t *testing.T, who string, tasks map[string]map[string]string, root bool) {
	t.Helper()
	if len(tasks) == 0 {
		t.Errorf("%s: no threads", who)
	}
	const none = "0000000000000000"
	want := map[string]string{"CapEff": none, "CapPrm": none, "CapInh": none, "CapAmb": none, "NoNewPrivs": "1", "Seccomp": "2"}
	if root {
		want["CapBnd"] = none
	}
	bad := map[string]int{} // "field value" → threads
	for _, st := range tasks {
		for k, v := range want {
			if st[k] != v {
				bad[fmt.Sprintf("%s %q, want %q", k, st[k], v)]++
			}
		}
	}
	for what, n := range bad {
		t.Errorf("%s: %s (%d of %d threads)", who, what, n, len(tasks))
	}
}

// checkNoInheritedFDs checks that a process holds neither the caller's
// descriptor nor, but for a shared child's own, a socket.
func checkNoInheritedFDs(t *testing.T, who string, fds map[int]string, marker string, sharedChild bool) {
	t.Helper()
	for fd, target := range fds {
		switch {
		case target == marker:
			t.Errorf("%s holds the caller's descriptor as %d (%s)", who, fd, target)
		case strings.HasPrefix(target, "socket:") && !(sharedChild && fd == sandbox.SharedJobFD):
			t.Errorf("%s holds a socket as %d (%s)", who, fd, target)
		}
	}
}

// HASHR_NO_SANDBOX is said even with --quiet, once.
func TestNoSandboxQuietStillWarns(t *testing.T) {
	t.Setenv("HASHR_NO_SANDBOX", "1")
	o := extract(t, sourceLine(fixture(t, "tree.zip"))+sourceLine(fixture(t, "tree.tar")), "--hash", "sha256", "--quiet")
	if o.status != 0 {
		t.Fatal(describe(o))
	}
	if n := strings.Count(o.stderr, "warning: --no-sandbox (HASHR_NO_SANDBOX=1)"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, o.stderr)
	}
}
