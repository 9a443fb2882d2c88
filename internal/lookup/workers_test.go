package lookup

import (
	"testing"

	"github.com/hashr-dev/hashr/internal/db"
)

// Only SQLite, read through one connection, is looked up one batch at a
// time.
func TestLookupWorkers(t *testing.T) {
	for _, tc := range []struct {
		o    options
		want int
	}{
		{options{loc: db.Location{Driver: db.SQLite}}, 1},
		{options{loc: db.Location{Driver: db.Postgres}}, lookupWorkers},
		{options{loc: db.Location{Driver: db.SQLite}, bloom: "set.bloom"}, lookupWorkers},
	} {
		if got := lookupWorkersFor(&tc.o); got != tc.want {
			t.Errorf("%s, bloom %q: %d lookup workers, want %d", tc.o.loc.Driver, tc.o.bloom, got, tc.want)
		}
	}
}
