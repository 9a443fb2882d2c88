//go:build unix

package regular

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/regular/regulartest"
)

// Open takes regular files, directories and block devices, and refuses a
// FIFO, a socket and a character device at once, naming what it is.
func TestOpen(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{file, dir} {
		f, info, err := Open(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		f.Close()
		if info.Name() != filepath.Base(p) {
			t.Errorf("%s: info names %s", p, info.Name())
		}
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for p, kind := range map[string]string{fifo: "named pipe", "/dev/null": "character device", sock: "socket"} {
		err, ended := regulartest.Within(5*time.Second, regulartest.OpenForWriting(p), func() error {
			f, _, err := Open(p)
			if err == nil {
				f.Close()
			}
			return err
		})
		if !ended {
			t.Fatalf("%s: Open blocked", p)
		}
		var notFile *NotAFileError
		if !errors.As(err, &notFile) && !strings.Contains(err.Error(), "no such device") {
			t.Errorf("%s: %v, want a NotAFileError", p, err)
		} else if notFile != nil && !strings.Contains(err.Error(), kind) {
			t.Errorf("%s: %q does not say %q", p, err, kind)
		}
	}
}

// OpenFile takes regular files alone: a directory and a FIFO are refused,
// each saying it is not a regular file and what it is instead, and a
// missing file's error names it once.
func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		dir:                           `is not a regular file but a directory`,
		fifo:                          `is not a regular file but a named pipe (FIFO)`,
		filepath.Join(dir, "missing"): `opening "` + filepath.Join(dir, "missing") + `": no such file or directory`,
	} {
		f, _, err := OpenFile(p)
		if err == nil {
			f.Close()
			t.Fatalf("%s: opened", p)
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %q, want %q", p, err, want)
		}
	}
}
