package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const closeHelperEnv = "HASHR_SANDBOX_TEST_CLOSE_INHERITED"

func TestMain(m *testing.M) {
	if os.Getenv(closeHelperEnv) == "1" {
		closeInheritedHelper()
		return
	}
	os.Exit(m.Run())
}

// closeInheritedHelper closes what it inherited but fd 3, then says
// which of 3 and 4 are still open and whether 3 is close-on-exec.
func closeInheritedHelper() {
	n, err := CloseInherited(3)
	if err != nil {
		os.Stdout.WriteString("error: " + err.Error())
		os.Exit(1)
	}
	var out []string
	out = append(out, "closed="+strconv.Itoa(n))
	for _, fd := range []int{3, 4} {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		switch {
		case err != nil:
			out = append(out, strconv.Itoa(fd)+"=closed")
		case flags&unix.FD_CLOEXEC != 0:
			out = append(out, strconv.Itoa(fd)+"=cloexec")
		default:
			out = append(out, strconv.Itoa(fd)+"=open")
		}
	}
	os.Stdout.WriteString(strings.Join(out, " "))
	os.Exit(0)
}

// A process closes what it inherited beyond what it keeps, and passes on
// none of it.
func TestCloseInherited(t *testing.T) {
	dir := t.TempDir()
	var files []*os.File
	for _, name := range []string{"kept", "leaked"} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), closeHelperEnv+"=1")
	cmd.ExtraFiles = files // fds 3 and 4, not close-on-exec
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// What this test binary inherited itself (from go test) is closed too.
	closed, states, _ := strings.Cut(string(out), " ")
	if n, _ := strconv.Atoi(strings.TrimPrefix(closed, "closed=")); n < 1 || states != "3=cloexec 4=closed" {
		t.Errorf("got %q, want at least 1 closed, 3 kept close-on-exec, 4 closed", out)
	}
}

// The parent's side: after MarkInheritedCloseOnExec, a descriptor left
// open without close-on-exec no longer reaches a program it runs.
func TestMarkInheritedCloseOnExec(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const fd = 91
	if err := unix.Dup3(int(f.Fd()), fd, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := MarkInheritedCloseOnExec(); err != nil {
		t.Fatal(err)
	}
	flags, err := unix.FcntlInt(fd, unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("fd %d: flags %#x, %v: not close-on-exec", fd, flags, err)
	}
}
