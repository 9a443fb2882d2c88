package serve

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
)

// Admission lets at most its bound in at once, and the waiting in the
// order they came: each waiter is started only once the one before it
// is blocked in line (synctest.Wait), so the order of arrival is known.
func TestAdmissionIsBoundedAndInTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAdmission(2)
		ctx := t.Context()
		for range 2 {
			if err := a.enter(ctx); err != nil {
				t.Fatal(err)
			}
		}
		admitted := make(chan int, 20)
		for i := range 20 {
			go func() {
				if err := a.enter(ctx); err != nil {
					t.Error(err)
					return
				}
				admitted <- i
			}()
			synctest.Wait()
		}
		if len(admitted) != 0 {
			t.Fatalf("%d admitted past a bound of 2 held", len(admitted))
		}
		var order []int
		for range 20 {
			a.leave()
			synctest.Wait()
			if len(admitted) != 1 {
				t.Fatalf("a slot given back admitted %d, want 1", len(admitted))
			}
			order = append(order, <-admitted)
		}
		if want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}; !slices.Equal(order, want) {
			t.Errorf("admitted in the order %v, want that of arrival", order)
		}
	})
}

// A request that ends while it waits (its client left, or its query
// timeout) leaves the line with the context's error, and takes no slot.
func TestAdmissionWaitEndsWithItsRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAdmission(1)
		if err := a.enter(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := a.enter(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("enter with an ended context: %v, want context.Canceled", err)
		}
		a.leave()
		if err := a.enter(t.Context()); err != nil {
			t.Fatalf("the slot given back was not free: %v", err)
		}
	})
}

// No bound (--max-queries 0) admits everyone at once.
func TestAdmissionUnbounded(t *testing.T) {
	a := newAdmission(0)
	for range 100 {
		if err := a.enter(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	a.leave()
}
