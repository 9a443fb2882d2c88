// Package regulartest helps the tests that hand a program what open(2)
// can block on (a FIFO with no writer): it bounds a run in time, and on
// unix makes the FIFO and releases a reader stuck opening it, so that a
// run found hung fails its test instead of hanging it.
package regulartest

import "time"

// Within runs run and returns what it returns, and true. When run has not
// ended within limit, it calls unblock (if not nil) to let run end, and
// returns what run then returns, and false: the test is to fail.
func Within[T any](limit time.Duration, unblock func(), run func() T) (T, bool) {
	done := make(chan T, 1)
	go func() { done <- run() }()
	select {
	case r := <-done:
		return r, true
	case <-time.After(limit):
		if unblock != nil {
			unblock()
		}
		return <-done, false
	}
}
