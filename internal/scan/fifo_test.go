package scan

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mkfifo makes a FIFO at path; nothing ever writes to it, so an open(2)
// of it without O_NONBLOCK blocks for good.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
}

// scanWithin runs hashr-scan and fails the test when it has not ended
// within limit; unblock then lets the run end, so that the test ends.
func scanWithin(t *testing.T, limit time.Duration, unblock func(), args ...string) result {
	t.Helper()
	done := make(chan result, 1)
	go func() { done <- scan(t, args...) }()
	select {
	case res := <-done:
		return res
	case <-time.After(limit):
		unblock()
		res := <-done
		t.Fatalf("hashr-scan still ran after %s (status %d once unblocked)\n%s", limit, res.code, res.stderr)
		return res
	}
}

// openForWriting unblocks a run blocked opening the FIFOs.
func openForWriting(fifos ...string) func() {
	return func() {
		for _, f := range fifos {
			if w, err := os.OpenFile(f, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
		}
	}
}

// A FIFO found while walking is never opened: one named like a source, a
// layout's oci-layout, a repository's export.csv. hashr-scan ends at once,
// and skips each as a special file (as it does any FIFO, socket or
// device), or, for export.csv, says it cannot read it.
func TestFIFOsAreNotOpened(t *testing.T) {
	for _, c := range []struct {
		name  string
		plant func(t *testing.T, repo string) string // returns the FIFO
		say   string                                 // on stderr
	}{
		{"named like a source", func(t *testing.T, repo string) string {
			p := filepath.Join(repo, "x.deb")
			mkfifo(t, p)
			return p
		}, "skipping %s: not a regular file"},
		{"a layout's oci-layout", func(t *testing.T, repo string) string {
			layout := filepath.Join(repo, "img")
			os.Mkdir(layout, 0o755)
			os.WriteFile(filepath.Join(layout, "index.json"), []byte(`{"schemaVersion":2,"manifests":[]}`), 0o644)
			p := filepath.Join(layout, "oci-layout")
			mkfifo(t, p)
			return p
		}, "skipping %s: not a regular file"},
		{"a repository's export.csv", func(t *testing.T, repo string) string {
			p := filepath.Join(repo, exportFile)
			mkfifo(t, p)
			return p
		}, "%s is a named pipe (FIFO), not a file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			repo := t.TempDir()
			writeSource(t, filepath.Join(repo, "z.tar"), 1024)
			fifo := c.plant(t, repo)
			res := scanWithin(t, 10*time.Second, openForWriting(fifo), "--verbose", repo)
			if len(res.sources) != 1 || !strings.HasSuffix(res.sources[0].URI, "z.tar") {
				t.Errorf("sources %+v, want z.tar alone", res.sources)
			}
			if want := strings.ReplaceAll(c.say, "%s", fifo); !strings.Contains(res.stderr, want) {
				t.Errorf("stderr does not say %q:\n%s", want, res.stderr)
			}
		})
	}
}
