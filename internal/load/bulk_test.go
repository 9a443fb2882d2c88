package load

import (
	"context"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/db"
	"github.com/hashr-dev/hashr/internal/db/dbtest"
)

// indexes lists a PostgreSQL database's indexes, name and definition.
func indexes(t *testing.T, url string) []string {
	t.Helper()
	rows, err := dbtest.Open(t, url).QueryContext(context.Background(),
		`SELECT indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// A bulk load into an empty database ends with the same rows and the same
// indexes as a normal load of the same stream, in batches small enough
// that samples recur across transactions; a second --bulk on the loaded
// database loads as usual, with a warning, and changes nothing.
func TestBulkLoadEqualsNormalLoad(t *testing.T) {
	sources := makeSources(7, 60, 30)
	input := ndjson(t, sources)
	pg, _ := backends(t)
	normal, bulk := pg.NewDatabase(t), pg.NewDatabase(t)
	if status, _, stderr := runLoad(t, input, "--db", normal, "--batch", "100"); status != 0 {
		t.Fatalf("normal load: exit %d\n%s", status, stderr)
	}
	status, _, stderr := runLoad(t, input, "--db", bulk, "--batch", "100", "--bulk", "--verbose")
	if status != 0 {
		t.Fatalf("bulk load: exit %d\n%s", status, stderr)
	}
	if !strings.Contains(stderr, "building index samples_md5") || strings.Contains(stderr, "warning") {
		t.Fatalf("bulk load did not say it built the indexes, or warned:\n%s", stderr)
	}
	checkCounts(t, bulk, expect(sources))
	want := dbtest.Dump(t, normal)
	if d := dbtest.Diff(want, dbtest.Dump(t, bulk)); d != "" {
		t.Fatalf("bulk and normal loads differ:\n%s", d)
	}
	if n, b := strings.Join(indexes(t, normal), "\n"), strings.Join(indexes(t, bulk), "\n"); n != b {
		t.Fatalf("indexes after the bulk load:\n%s\nafter the normal load:\n%s", b, n)
	}

	status, _, stderr = runLoad(t, input, "--db", bulk, "--bulk")
	if status != 0 || !strings.Contains(stderr, "warning: --bulk: the database is not empty; loading it as usual") {
		t.Fatalf("second --bulk: exit %d, want 0 and a warning:\n%s", status, stderr)
	}
	if d := dbtest.Diff(want, dbtest.Dump(t, bulk)); d != "" {
		t.Fatalf("a second --bulk changed the database:\n%s", d)
	}
}

// A bulk load that dies leaves its indexes' definitions behind; the next
// hashr-load, bulk or not, builds them before it loads.
func TestInterruptedBulkLoadIndexesBuiltByNextLoad(t *testing.T) {
	sources := makeSources(8, 20, 10)
	input := ndjson(t, sources)
	pg, _ := backends(t)
	normal, bulk := pg.NewDatabase(t), pg.NewDatabase(t)
	if status, _, stderr := runLoad(t, input, "--db", normal); status != 0 {
		t.Fatalf("normal load: exit %d\n%s", status, stderr)
	}
	// A bulk loader that goes away without building its indexes, as a
	// killed hashr-load does.
	loc, err := db.ParseLocation(bulk)
	if err != nil {
		t.Fatal(err)
	}
	store, err := db.Open(context.Background(), loc, db.Options{Bulk: true})
	if err != nil {
		t.Fatal(err)
	}
	if refused := store.(db.BulkLoader).BulkRefused(); refused != "" {
		t.Fatalf("bulk load refused: %s", refused)
	}
	store.Close()
	if n := dbtest.Count(t, bulk, "SELECT count(*) FROM hashr_pending_indexes"); n == 0 {
		t.Fatal("no index left pending by the broken bulk load")
	}
	if status, _, stderr := runLoad(t, input, "--db", bulk); status != 0 {
		t.Fatalf("next load: exit %d\n%s", status, stderr)
	}
	if n, b := strings.Join(indexes(t, normal), "\n"), strings.Join(indexes(t, bulk), "\n"); n != b {
		t.Fatalf("indexes after the next load:\n%s\nafter a normal load:\n%s", b, n)
	}
	if d := dbtest.Diff(dbtest.Dump(t, normal), dbtest.Dump(t, bulk)); d != "" {
		t.Fatalf("databases differ:\n%s", d)
	}
}
