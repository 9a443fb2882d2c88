//go:build unix

package fetch

import (
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/regular/regulartest"
	"github.com/hashr-dev/hashr/pkg/records"
)

// A FIFO given as a source is an error record at once, with or without
// --copy always: opening it must not wait for a writer that never comes.
func TestFIFOSourceFailsAtOnce(t *testing.T) {
	fifo := regulartest.NewFIFO(t)
	unblock := regulartest.OpenForWriting(fifo)
	for _, mode := range []string{"always", "auto"} {
		work := t.TempDir()
		r := fetchWithin(t, 5*time.Second, unblock, sourceLine(t, records.Source{ID: "f", URI: fifo}), "--work", work, "--copy", mode)
		e := one[*records.Error](t, r)
		if r.status != 3 || !strings.Contains(e.Message, fifo) || !strings.Contains(e.Message, "named pipe") {
			t.Errorf("--copy %s: status %d, record %+v", mode, r.status, e)
		}
		if names := dirNames(t, work); len(names) != 0 {
			t.Errorf("--copy %s: work holds %v", mode, names)
		}
	}
	// A character device is refused as well, before any read.
	r := fetchWithin(t, 5*time.Second, nil, sourceLine(t, records.Source{ID: "z", URI: "/dev/zero"}), "--work", t.TempDir(), "--copy", "always")
	if e := one[*records.Error](t, r); !strings.Contains(e.Message, "character device") {
		t.Errorf("/dev/zero: record %+v", e)
	}
}
