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

// Files are hashed by one worker per CPU and one more per batch looked up
// at once: with one per CPU alone the CPUs idled a tenth of a run.
func TestHashWorkersLeaveNoCPUIdle(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	o := options{dbURL: "sqlite:set.db", batch: 1000}
	if err := o.validate("sha256"); err != nil {
		t.Fatal(err)
	}
	if got, want := hashWorkersFor(&o), runtime.NumCPU()+2; got != want {
		t.Errorf("SQLite, 2 lookups at once: %d files hashed at once, want %d (one per CPU and one per lookup)", got, want)
	}
	if o.workers != hashWorkersFor(&o) {
		t.Errorf("--workers 0: %d files hashed at once, want %d", o.workers, hashWorkersFor(&o))
	}
}
