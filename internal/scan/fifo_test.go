package scan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/regular/regulartest"
)

// scanWithin runs hashr-scan and fails the test when it has not ended
// within limit; unblock then lets the run end, so that the test ends.
func scanWithin(t *testing.T, limit time.Duration, unblock func(), args ...string) result {
	t.Helper()
	res, ended := regulartest.Within(limit, unblock, func() result { return scan(t, args...) })
	if !ended {
		t.Fatalf("hashr-scan still ran after %s (status %d once unblocked)\n%s", limit, res.code, res.stderr)
	}
	return res
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
			regulartest.Mkfifo(t, p)
			return p
		}, "skipping %s: not a regular file"},
		{"a layout's oci-layout", func(t *testing.T, repo string) string {
			layout := filepath.Join(repo, "img")
			os.Mkdir(layout, 0o755)
			os.WriteFile(filepath.Join(layout, "index.json"), []byte(`{"schemaVersion":2,"manifests":[]}`), 0o644)
			p := filepath.Join(layout, "oci-layout")
			regulartest.Mkfifo(t, p)
			return p
		}, "skipping %s: not a regular file"},
		{"a repository's export.csv", func(t *testing.T, repo string) string {
			p := filepath.Join(repo, exportFile)
			regulartest.Mkfifo(t, p)
			return p
		}, "%s is a named pipe (FIFO), not a file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			repo := t.TempDir()
			writeSource(t, filepath.Join(repo, "z.tar"), 1024)
			fifo := c.plant(t, repo)
			res := scanWithin(t, 10*time.Second, regulartest.OpenForWriting(fifo), "--verbose", repo)
			if len(res.sources) != 1 || !strings.HasSuffix(res.sources[0].URI, "z.tar") {
				t.Errorf("sources %+v, want z.tar alone", res.sources)
			}
			if want := strings.ReplaceAll(c.say, "%s", fifo); !strings.Contains(res.stderr, want) {
				t.Errorf("stderr does not say %q:\n%s", want, res.stderr)
			}
		})
	}
}
