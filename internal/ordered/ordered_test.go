package ordered

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestMapKeepsInputOrder(t *testing.T) {
	var got []int
	var running, most atomic.Int64
	err := Map(context.Background(), 4, slices.Values(makeRange(500)), func(i int) int {
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		running.Add(-1)
		return i * 2
	}, func(r int) error { got = append(got, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if r != i*2 {
			t.Fatalf("result %d is %d: order not kept", i, r)
		}
	}
	if len(got) != 500 {
		t.Fatalf("%d results", len(got))
	}
	if most.Load() < 2 || most.Load() > 4 {
		t.Fatalf("at most %d items ran at once, want between 2 and 4", most.Load())
	}
}

func TestMapStopsAtEmitError(t *testing.T) {
	stop := errors.New("stdout closed")
	n := 0
	err := Map(context.Background(), 2, slices.Values(makeRange(100)), func(i int) int { return i },
		func(int) error {
			n++
			if n == 10 {
				return stop
			}
			return nil
		})
	if !errors.Is(err, stop) || n != 10 {
		t.Fatalf("err %v after %d emits", err, n)
	}
}

func TestMapStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	forever := func(yield func(int) bool) {
		for i := 0; ; i++ {
			if !yield(i) {
				return
			}
		}
	}
	n := 0
	err := Map(ctx, 2, forever, func(i int) int { return i }, func(int) error {
		if n++; n == 50 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}

// Cancelled, Map returns only after the work already begun has: its caller
// removes what that work writes once Map returns (hashr-extract's temporary
// directory, which a worker still writing into it left behind).
func TestMapWaitsForWorkUnderWayWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started, release := make(chan struct{}), make(chan struct{})
	var returned atomic.Bool
	work := func(i int) int {
		if i == 0 {
			close(started)
			<-ctx.Done()
			<-release // still writing after the cancellation
			returned.Store(true)
		}
		return i
	}
	go func() {
		<-started
		cancel()
		time.Sleep(50 * time.Millisecond) // Map, if it does not wait, returns in this time
		close(release)
	}()
	err := Map(ctx, 2, slices.Values(makeRange(4)), work, func(int) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if !returned.Load() {
		t.Fatal("Map returned while work was still under way")
	}
}

func makeRange(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// When in itself stops because the caller cancelled, Map still says so.
func TestMapReportsCancellationSeenByInput(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	in := func(yield func(int) bool) {
		yield(1)
		cancel()
	}
	err := Map(ctx, 2, in, func(i int) int { return i }, func(int) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// One slow item at the head does not hold the others up beyond ahead: the
// workers go on with the items behind it, and the output keeps the order.
func TestMapAheadGoesPastASlowItem(t *testing.T) {
	const ahead = 100
	var started atomic.Int64
	release := make(chan struct{})
	var got []int
	err := MapAhead(context.Background(), 4, ahead, slices.Values(makeRange(500)), func(i int) int {
		n := started.Add(1)
		if i == 0 {
			select { // until 60 items behind it have started
			case <-release:
			case <-time.After(10 * time.Second):
				t.Error("no more than a few items started behind a slow one")
			}
		}
		if n == 61 {
			close(release)
		}
		return i
	}, func(r int) error {
		if r == 0 && started.Load() > ahead+2 {
			t.Errorf("%d items started before the first was emitted, want at most about %d", started.Load(), ahead)
		}
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, makeRange(500)) {
		t.Fatalf("results out of order or missing: %d of 500", len(got))
	}
}
