package lookup

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/db"
)

// The gate lets no more hashing and lookups run at once than Go runs
// goroutines, whatever the number of workers asking; a nil gate holds
// nothing back.
func TestCPUGateRunsAtMostGOMAXPROCSAtOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	for _, tc := range []struct {
		gate cpuGate
		want int32
	}{{newCPUGate(), 3}, {nil, 12}} {
		var running, most atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 12 {
			wg.Go(func() {
				<-start
				tc.gate.run(func() {
					n := running.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(20 * time.Millisecond)
					running.Add(-1)
				})
			})
		}
		close(start)
		wg.Wait()
		if got := most.Load(); tc.gate != nil && got != tc.want || tc.gate == nil && got < 4 {
			t.Errorf("gate of %d places: %d ran at once, want %d", cap(tc.gate), got, tc.want)
		}
	}
}

// Only SQLite, read through one connection, is looked up one batch at a
// time (and shares the gate with the hashing).
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

// Files hashed and looked up in SQLite share a gate, unless there are more
// hashing workers than CPUs (for slow reads) or nothing is hashed.
func TestGateFor(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	sqlite := db.Location{Driver: db.SQLite}
	for _, tc := range []struct {
		o    options
		want bool
	}{
		{options{loc: sqlite, paths: []string{"."}, workers: procs}, true},
		{options{loc: sqlite, paths: []string{"."}, workers: procs + 1}, false},
		{options{loc: sqlite, workers: procs}, false},
		{options{loc: db.Location{Driver: db.Postgres}, paths: []string{"."}, workers: procs}, false},
	} {
		if got := gateFor(&tc.o); (got != nil) != tc.want || got != nil && cap(got) != procs {
			t.Errorf("%+v: gate of %d places (nil: %t), want one: %t", tc.o, cap(got), got == nil, tc.want)
		}
	}
}
