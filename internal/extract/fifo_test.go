package extract

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/pkg/records"
)

// A named pipe given as a source is an error record at once; open(2) of a
// FIFO with no writer used to block hashr-extract forever.
func TestFIFOSourceFailsAtOnce(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "f")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan *runOutput, 1)
	go func() { done <- extract(t, sourceLine(fifo), "--hash", "sha256") }()
	select {
	case o := <-done:
		if o.status != 3 || !strings.Contains(o.stderr, "is not a regular file but a named pipe (FIFO)") {
			t.Fatalf("status %d, stderr:\n%s", o.status, o.stderr)
		}
		failed := false
		for _, r := range o.records {
			if e, ok := r.(*records.Error); ok && strings.Contains(e.Message, "named pipe") {
				failed = true
			}
		}
		if !failed {
			t.Fatalf("no error record for the FIFO:\n%s", strings.Join(o.lines, "\n"))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("hashr-extract blocks on a FIFO source")
	}
}
