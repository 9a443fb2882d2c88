package db

import (
	"context"
	"sync"
)

// Turns numbers the batches of one stream, in the order the stream formed
// them, for the Loaders that load them at once (hashr-load's committers).
// A source can be in two of them: the same bytes loaded twice in one
// stream (scanned again after a failed run, or under another name). Its
// status, job and provenance are its last load's, so the later batch must
// commit after the earlier one, even when it reaches the database first.
// Its zero value is ready to use; Next is called by one goroutine at a
// time.
type Turns struct {
	mu   sync.Mutex
	last *Turn
}

// Next is the turn of the batch formed next.
func (t *Turns) Next() *Turn {
	t.mu.Lock()
	defer t.mu.Unlock()
	turn := &Turn{taken: make(chan struct{})}
	if t.last != nil {
		turn.after = t.last.taken
	}
	t.last = turn
	return turn
}

// A Turn is one batch's place in its stream (Turns). A nil Turn is a
// batch that keeps no order with any other.
type Turn struct {
	after <-chan struct{} // the batch before's taken; nil for the first
	taken chan struct{}   // closed once this batch has taken its place
	once  sync.Once
}

// waitingForTurn, when set (by tests), runs when a batch finds that the
// batch before has not taken its place yet, and waits.
var waitingForTurn func(ctx context.Context)

// wait waits until the batch before has taken its place, or gave it up.
func (t *Turn) wait(ctx context.Context) error {
	if t == nil || t.after == nil {
		return nil
	}
	select {
	case <-t.after:
		return nil
	default:
	}
	if waitingForTurn != nil {
		waitingForTurn(ctx)
	}
	select {
	case <-t.after:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pass lets the next batch take its place: this one has taken its own, or
// will not be loaded. Passing twice, or a nil Turn, does nothing.
func (t *Turn) Pass() {
	if t != nil {
		t.once.Do(func() { close(t.taken) })
	}
}

// An OrderedLoader is a Loader several of which may load one stream's
// batches at once (PostgreSQL's): LoadInTurn loads a batch as Load does,
// and commits it after the batches of earlier turns that have one of its
// sources. It passes the turn however it ends.
type OrderedLoader interface {
	Loader
	LoadInTurn(ctx context.Context, turn *Turn, sources []*Source) (Stats, error)
}
