package fetch

import (
	"context"
	"fmt"
	"os"
	"time"
)

// lockRetry is how often a run waiting for another's download of the same
// URL checks whether it is done.
const lockRetry = 100 * time.Millisecond

// openPart opens (creating it if need be) a download's .part file, name in
// d, and locks it, so two workers or two runs never write the same
// download at once. note is told once when it has to wait.
func openPart(ctx context.Context, d *dir, name string, note func(string, ...any)) (*os.File, error) {
	return lockPath(ctx, d, name, "another download of the same URL", note, func() (*os.File, error) {
		return d.openFile(name, os.O_RDWR|os.O_CREATE)
	})
}

// lockDir creates (if need be) an image's NAME.part directory, name in d,
// and locks it, as openPart does a file: two workers or two runs pulling
// the same image never fill, rename or remove one directory at once. The
// directory's handle holds the lock until closed.
func lockDir(ctx context.Context, d *dir, name string, note func(string, ...any)) (*dir, error) {
	var sub *dir
	_, err := lockPath(ctx, d, name, "another pull of the same image", note, func() (*os.File, error) {
		var err error
		if sub, err = d.sub(name, true); err != nil {
			return nil, err
		}
		return sub.f, nil
	})
	if err != nil {
		return nil, err
	}
	return sub, nil
}

// lockPath opens name in d with open and locks it, waiting (and telling
// note once that it waits for other) while someone else holds it.
func lockPath(ctx context.Context, d *dir, name, other string, note func(string, ...any), open func() (*os.File, error)) (*os.File, error) {
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
				return nil, fmt.Errorf("locking %s: %w", d.join(name), err)
			}
			if ok {
				break
			}
			if !waited {
				note("waiting for %s into %s", other, d.join(name))
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
		// name.
		if held, err := f.Stat(); err == nil && d.sameAs(name, held) {
			return f, nil
		}
		f.Close()
	}
}
