package load

import (
	"fmt"
	"testing"

	"github.com/hashr-dev/hashr/internal/db/dbtest"
)

// A source loaded twice in one stream (scanned again) ends as its last
// load left it, though its two loads are in two batches that hashr-load's
// two committers load at once: the first load is large, so its batch
// takes longer to sort and the second would otherwise reach the database
// first (internal/db's TestBatchesOfOneSourceCommitInStreamOrder makes
// that race certain).
func TestSourceLoadedTwiceEndsAsItsLastLoad(t *testing.T) {
	var stream []testSource
	const rescanned = 3
	for i := range rescanned {
		id := fmt.Sprintf("rescanned%d.deb", i)
		first := testSource{id: id, errors: []string{"member f00001 is truncated"}}
		first.sha256, _, _ = hexSum("source bytes of " + id)
		first.quick, _, _ = hexSum("quick " + id)
		for j := range 5000 {
			first.files = append(first.files, testFile{path: fmt.Sprintf("usr/f%05d", j), content: fmt.Sprintf("%s %d", id, j)})
		}
		again := first
		again.errors, again.files = nil, first.files[:1]
		stream = append(stream, first, again)
	}
	input := ndjson(t, stream)
	_, bs := backends(t)
	for _, b := range bs {
		t.Run(b.name, func(t *testing.T) {
			if status, _, stderr := runLoad(t, input, "--quiet", "--batch", "1", "--db", b.url); status != 0 {
				t.Fatalf("exit %d: %s", status, stderr)
			}
			sources := dbtest.Count(t, b.url, "SELECT count(*) FROM sources WHERE status = 'done'")
			jobs := dbtest.Count(t, b.url, "SELECT count(*) FROM jobs WHERE status = 'done' AND files_extracted = 1")
			if sources != rescanned || jobs != rescanned {
				t.Fatalf("%d sources and %d jobs are done as their last load, want %d:\n%v\n%v", sources, jobs, rescanned,
					dbtest.Dump(t, b.url)["sources"], dbtest.Dump(t, b.url)["jobs"])
			}
		})
	}
}
