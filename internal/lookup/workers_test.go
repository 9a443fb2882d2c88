package lookup

import (
	"runtime"
	"testing"

	"github.com/hashr-dev/hashr/internal/db"
)

// SQLite, whose lookups are CPU work in this process, is looked up one
// batch per CPU at a time (up to lookupWorkers).
func TestLookupWorkers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for _, tc := range []struct {
		o    options
		want int
	}{
		{options{loc: db.Location{Driver: db.SQLite}}, 2},
		{options{loc: db.Location{Driver: db.Postgres}}, lookupWorkers},
		{options{loc: db.Location{Driver: db.SQLite}, bloom: "set.bloom"}, lookupWorkers},
	} {
		if got := lookupWorkersFor(&tc.o); got != tc.want {
			t.Errorf("%s, bloom %q: %d lookup workers, want %d", tc.o.loc.Driver, tc.o.bloom, got, tc.want)
		}
	}
}

// On one CPU, or on more CPUs than lookupWorkers, SQLite gets as many
// lookups at once as there are CPUs, up to lookupWorkers.
func TestSQLiteLookupWorkersFollowTheCPUs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for cpus, want := range map[int]int{1: 1, 3: 3, 16: lookupWorkers} {
		runtime.GOMAXPROCS(cpus)
		if got := lookupWorkersFor(&options{loc: db.Location{Driver: db.SQLite}}); got != want {
			t.Errorf("%d CPUs: %d lookup workers, want %d", cpus, got, want)
		}
	}
}

// Files are hashed as hashr-hash hashes them, two per CPU: with one per
// CPU the CPUs idled a tenth of a run beside the lookups.
func TestHashWorkersAsHashrHash(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	o := options{dbURL: "sqlite:set.db", batch: 1000, paths: []string{"."}}
	if err := o.validate("sha256"); err != nil {
		t.Fatal(err)
	}
	if o.workers != 6 {
		t.Errorf("--workers 0 on 3 CPUs: %d files hashed at once, want 6", o.workers)
	}
}
