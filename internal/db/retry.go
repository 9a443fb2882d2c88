package db

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// GaveUpError ends a retry loop that ran out of time.
type GaveUpError struct {
	For time.Duration
	Err error
}

func (e *GaveUpError) Error() string {
	return fmt.Sprintf("%v (still failing after retrying for %s)", e.Err, e.For.Round(time.Second))
}
func (e *GaveUpError) Unwrap() error { return e.Err }

// retry calls attempt until it succeeds, fails in a way retrying cannot
// fix (retryable says which), or failures have gone on for retryFor. It
// waits between attempts with exponential backoff and jitter, so several
// loaders that a restarting server threw out do not come back in step.
// It returns the number of attempts made.
func retry(ctx context.Context, retryFor time.Duration, logf func(string, ...any), retryable func(error) bool, attempt func(context.Context) error) (int, error) {
	var firstFailure time.Time
	wait := 100 * time.Millisecond
	for n := 1; ; n++ {
		err := attempt(ctx)
		if err == nil {
			return n, nil
		}
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if !retryable(err) {
			return n, err
		}
		if firstFailure.IsZero() {
			firstFailure = time.Now()
		}
		if time.Since(firstFailure) >= retryFor {
			return n, &GaveUpError{For: time.Since(firstFailure), Err: err}
		}
		sleep := min(wait+time.Duration(rand.Int64N(int64(wait)/2+1)), retryFor-time.Since(firstFailure))
		logf("%v; retrying in %s", err, sleep.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(sleep):
		}
		wait = min(wait*2, 5*time.Second)
	}
}
