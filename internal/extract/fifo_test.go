package extract

import (
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/regular/regulartest"
	"github.com/hashr-dev/hashr/pkg/records"
)

// A named pipe given as a source is an error record at once; open(2) of a
// FIFO with no writer used to block hashr-extract forever.
func TestFIFOSourceFailsAtOnce(t *testing.T) {
	fifo := regulartest.NewFIFO(t)
	o, ended := regulartest.Within(20*time.Second, regulartest.OpenForWriting(fifo), func() *runOutput {
		return extract(t, sourceLine(fifo), "--hash", "sha256")
	})
	if !ended {
		t.Fatal("hashr-extract blocks on a FIFO source")
	}
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
}
