package serve

import (
	"context"
	"fmt"

	"github.com/hashr-dev/hashr/internal/db"
)

// admission bounds the lookups hashr-serve has at the database at once,
// and admits the waiting ones in the order they came. Under more
// clients than the database's machine has cores, queries sent all at
// once share its cores and each is preempted mid-query, so every one is
// slow; queries admitted a few at a time run through, and the rest wait
// their turn in line. database/sql's own wait for a free connection
// serves its waiters in no fixed order (capping the connections made the
// p99 worse: bench/README.md), a channel's blocked senders are served
// first in, first out.
type admission struct {
	slots chan struct{} // nil: no bound
}

// newAdmission admits at most n lookups at once; n ≤ 0 admits all.
func newAdmission(n int) *admission {
	if n <= 0 {
		return &admission{}
	}
	return &admission{slots: make(chan struct{}, n)}
}

// enter waits for a slot, in turn, or for ctx to end.
func (a *admission) enter(ctx context.Context) error {
	if a.slots == nil {
		return nil
	}
	select {
	case a.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for a turn at the database: %w", ctx.Err())
	}
}

// leave gives the slot back.
func (a *admission) leave() {
	if a.slots != nil {
		<-a.slots
	}
}

// lookup is db.ServeLookup, admitted.
func (s *Server) lookup(ctx context.Context, column string, keys [][]byte) ([]*db.ServedSample, error) {
	if err := s.admit.enter(ctx); err != nil {
		return nil, err
	}
	defer s.admit.leave()
	return s.reader.ServeLookup(ctx, column, keys)
}
