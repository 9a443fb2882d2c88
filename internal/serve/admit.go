package serve

import (
	"context"
	"fmt"

	"github.com/hashr-dev/hashr/internal/db"
)

// admission is the line bulk lookups wait in: at most its bound at the
// database at once, the waiting ones admitted in the order they came,
// and a lookup of one hash never in it. A bulk of 1,000 keeps a
// PostgreSQL backend busy some 15 ms; under more clients than the
// database's machine has cores, bulks sent all at once share its cores
// and each is preempted mid-query by the others, so every one is slow
// and the slowest very slow. Admitted about as many as the cores, each
// runs through while the rest wait their turn in hashr-serve, and a
// bulk's latency is its place in line (bench/README.md: the tail
// narrowed from 1.7–1.8 times the median to 1.3–1.4). A single lookup
// costs a hundredth of a bulk: made to wait behind bulks, its p99 went
// from 4.1 to 5.1 ms, so singles go straight to the database.
// database/sql's own wait for a free connection serves its waiters in
// no fixed order (capping the connections made the p99 worse); a
// channel's blocked senders are served first in, first out.
type admission struct {
	slots chan struct{} // nil: no bound (a test's server)
}

// newAdmission admits at most n bulks at once; n ≤ 0 admits all (tests).
func newAdmission(n int) *admission {
	if n <= 0 {
		return &admission{}
	}
	return &admission{slots: make(chan struct{}, n)}
}

// enter admits a lookup of keys hashes: one at once, a bulk when a slot
// is free and those before it in line have theirs, or neither if ctx
// ends first. The lookup calls leave when done.
func (a *admission) enter(ctx context.Context, keys int) (leave func(), err error) {
	if a.slots == nil || keys <= 1 {
		return func() {}, nil
	}
	select {
	case a.slots <- struct{}{}:
		return a.leave, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting in line for one of the database's %d bulk slots (--max-bulks): %w", cap(a.slots), ctx.Err())
	}
}

// leave gives a bulk's slot back.
func (a *admission) leave() { <-a.slots }

// lookup is db.ServeLookup, admitted.
func (s *Server) lookup(ctx context.Context, column string, keys [][]byte) ([]*db.ServedSample, error) {
	leave, err := s.admit.enter(ctx, len(keys))
	if err != nil {
		return nil, err
	}
	defer leave()
	return s.reader.ServeLookup(ctx, column, keys)
}
