package fetch

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hashr-dev/hashr/internal/cli"
)

// lockRetry is how often a run waiting for another's download of the same
// URL checks whether it is done.
const lockRetry = 100 * time.Millisecond

// openPart opens (creating it if need be) a download's .part file and locks
// it, so two workers or two runs never write the same download at once.
// note is told once when it has to wait.
func openPart(ctx context.Context, path string, note func(string, ...any)) (*os.File, error) {
	return lockPath(ctx, path, "another download of the same URL", note, func() (*os.File, error) {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", path, cli.Cause(err))
		}
		return f, nil
	})
}

// lockDir creates (if need be) an image's NAME.part directory and locks it,
// as openPart does a file: two workers or two runs pulling the same image
// never fill, rename or remove one directory at once.
func lockDir(ctx context.Context, path string, note func(string, ...any)) (*os.File, error) {
	return lockPath(ctx, path, "another pull of the same image", note, func() (*os.File, error) {
		if err := os.MkdirAll(path, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", path, cli.Cause(err))
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", path, cli.Cause(err))
		}
		return f, nil
	})
}

// lockPath opens path with open and locks it, waiting (and telling note
// once that it waits for other) while someone else holds it.
func lockPath(ctx context.Context, path, other string, note func(string, ...any), open func() (*os.File, error)) (*os.File, error) {
	waited := false
	for {
		f, err := open()
		if err != nil {
			return nil, err
		}
		for {
			ok, err := tryLock(f)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("locking %s: %w", path, err)
			}
			if ok {
				break
			}
			if !waited {
				note("waiting for %s into %s", other, path)
				waited = true
			}
			select {
			case <-ctx.Done():
				f.Close()
				return nil, ctx.Err()
			case <-time.After(lockRetry):
			}
		}
		// Whoever held the lock may have finished (renamed it) or given
		// up (removed it) meanwhile: then start over with what is now at
		// path.
		held, err1 := f.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
	}
}
