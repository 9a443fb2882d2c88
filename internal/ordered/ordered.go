// Package ordered runs work on a stream of items with several goroutines
// and hands the results on in the order the items came, which is how
// hashr's stages work in parallel and still keep their output in input
// order (DESIGN.md).
package ordered

import (
	"context"
	"iter"
	"sync"
)

// Map calls work on every item of in using up to workers goroutines, and
// emit on each result in input order, from the caller's goroutine. At most
// about 2*workers items are in flight, so memory stays bounded. Map stops at
// the first error from emit, or when ctx is cancelled, and returns that
// error; results not yet emitted are dropped. It returns only once every
// call of work already begun has returned (so work should watch ctx), and
// none begins after: a caller may remove what work writes (temporary files,
// a spool) as soon as Map returns.
func Map[T, R any](ctx context.Context, workers int, in iter.Seq[T], work func(T) R, emit func(R) error) error {
	return MapAhead(ctx, workers, 2*max(workers, 1), in, work, emit)
}

// MapAhead is Map with up to ahead items taken before the oldest result not
// yet emitted (at least workers): for work whose items vary so much in
// cost that one long item would otherwise leave the other workers idle
// once they have done the few items behind it. Memory grows with ahead by
// an item and a result each.
func MapAhead[T, R any](ctx context.Context, workers, ahead int, in iter.Seq[T], work func(T) R, emit func(R) error) error {
	if workers < 1 {
		workers = 1
	}
	ahead = max(ahead, workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	jobs := make(chan *slot[T, R])
	pending := make(chan *slot[T, R], ahead) // in input order
	var gate workGate
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range jobs {
				if !gate.enter() {
					continue // Map has returned: nobody waits for s
				}
				s.result = work(s.item)
				gate.leave()
				close(s.done)
			}
		}()
	}
	go feed(ctx, in, pending, jobs)
	err := emitInOrder(ctx, pending, emit)
	if err == nil {
		wg.Wait()
		return nil
	}
	// On an error the feeder may be blocked inside in (a read of stdin, say):
	// it and the idle workers see the cancellation and end on their own, and
	// the caller need not wait for that. Work under way is another matter:
	// hashr-extract removes its temporary directory once Map returns, and a
	// worker still writing into it left it behind.
	gate.closeAndWait()
	return err
}

// workGate counts the calls of work under way, and once closed lets no
// more begin.
type workGate struct {
	mu      sync.Mutex
	closed  bool
	running sync.WaitGroup
}

func (g *workGate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.running.Add(1)
	return true
}

func (g *workGate) leave() { g.running.Done() }

// closeAndWait waits for the calls under way to return; none begins after.
func (g *workGate) closeAndWait() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.running.Wait()
}

// slot is one item in flight and, once done is closed, its result.
type slot[T, R any] struct {
	item   T
	result R
	done   chan struct{}
}

// feed takes the items, queueing each in input order (pending) before
// handing it to a worker (jobs), until in ends or ctx is cancelled.
func feed[T, R any](ctx context.Context, in iter.Seq[T], pending, jobs chan<- *slot[T, R]) {
	defer close(pending)
	defer close(jobs)
	for item := range in {
		s := &slot[T, R]{item: item, done: make(chan struct{})}
		select {
		case pending <- s:
		case <-ctx.Done():
			return
		}
		select {
		case jobs <- s:
		case <-ctx.Done():
			return
		}
	}
}

// emitInOrder emits each result as it is done, in input order, until the
// first error or a cancellation.
func emitInOrder[T, R any](ctx context.Context, pending <-chan *slot[T, R], emit func(R) error) error {
	var err error
	for s := range pending {
		select {
		case <-s.done:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			err = ctx.Err()
			break
		}
		if err = emit(s.result); err != nil {
			break
		}
	}
	if err == nil && ctx.Err() != nil {
		// in ended early because the caller's ctx was cancelled: that is
		// not a complete run, even if every item taken was emitted.
		err = ctx.Err()
	}
	return err
}
