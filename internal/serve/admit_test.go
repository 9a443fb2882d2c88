package serve

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
)

// Bulks get in at most the bound at once, the waiting ones in the order
// they came: each waiter is started only once the one before it is
// blocked in line (synctest.Wait), so the order of arrival is known.
func TestAdmissionIsBoundedAndInTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAdmission(2)
		ctx := t.Context()
		var held []func()
		for range 2 {
			leave, err := a.enter(ctx, 1000)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, leave)
		}
		admitted := make(chan int, 20)
		leaves := make(chan func(), 20)
		for i := range 20 {
			go func() {
				leave, err := a.enter(ctx, 1000)
				if err != nil {
					t.Error(err)
					return
				}
				leaves <- leave
				admitted <- i
			}()
			synctest.Wait()
		}
		if len(admitted) != 0 {
			t.Fatalf("%d bulks admitted past a bound of 2 held", len(admitted))
		}
		var order []int
		for range 20 {
			held[0]()
			held = append(held[1:], nil)
			synctest.Wait()
			if len(admitted) != 1 {
				t.Fatalf("a slot given back admitted %d bulks, want 1", len(admitted))
			}
			order = append(order, <-admitted)
			held[len(held)-1] = <-leaves
		}
		if want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}; !slices.Equal(order, want) {
			t.Errorf("bulks admitted in the order %v, want that of arrival", order)
		}
	})
}

// A single lookup never waits behind bulks: with every slot held and
// bulks in line, lookups of one hash (and of none: a bulk of only
// malformed hashes) get in at once, as many as come, and the bulks in
// line stay there.
func TestAdmissionLetsSinglesPastTheLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAdmission(1)
		ctx := t.Context()
		leave, err := a.enter(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		bulkIn := make(chan func(), 1)
		go func() {
			if bulkLeave, err := a.enter(ctx, 2); err == nil {
				bulkIn <- bulkLeave
			}
		}()
		synctest.Wait()
		// The test's context ends with it, so a single still in line
		// when it fails leaves the line then, unreported.
		singles := make(chan func(), 10)
		for i := range 10 {
			go func() {
				if singleLeave, err := a.enter(ctx, i%2); err == nil {
					singles <- singleLeave
				}
			}()
		}
		synctest.Wait()
		if len(singles) != 10 {
			t.Fatalf("%d of 10 singles admitted with the bulks' line full, want all", len(singles))
		}
		if len(bulkIn) != 0 {
			t.Fatal("a bulk got in past a bound of 1 held (singles took no slot, so none was free)")
		}
		for range 10 {
			(<-singles)()
		}
		synctest.Wait()
		if len(bulkIn) != 0 {
			t.Fatal("singles leaving gave a bulk a slot they never held")
		}
		leave()
		(<-bulkIn)()
	})
}

// A bulk whose request ends while it waits (its client left, or its
// query timeout) leaves the line with the context's error, and takes no
// slot.
func TestAdmissionWaitEndsWithItsRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAdmission(1)
		leave, err := a.enter(t.Context(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := a.enter(ctx, 1000); !errors.Is(err, context.Canceled) {
			t.Fatalf("enter with an ended context: %v, want context.Canceled", err)
		}
		leave()
		if _, err := a.enter(t.Context(), 1000); err != nil {
			t.Fatalf("the slot given back was not free: %v", err)
		}
	})
}

// No bound (a test server's options) admits every bulk at once.
func TestAdmissionUnbounded(t *testing.T) {
	a := newAdmission(0)
	for range 100 {
		if _, err := a.enter(t.Context(), 1000); err != nil {
			t.Fatal(err)
		}
	}
}
