package load

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// A run's spilled rows live in a directory of their own in the system's
// temporary directory, removed when the run ends. A run killed with
// kill -9 (or a machine that lost power) cannot remove it: each holds
// spillLockName locked (flock) while it lives, so the next run removes
// the directories whose lock it can take, and never a live run's.
const (
	spillPrefix   = "hashr-load-"
	spillLockName = "lock"
	// legacySpillAge: a directory without a lock file (made by a
	// hashr-load from before the locks) is removed once nothing in it
	// changed for this long, as no live run leaves its rows untouched
	// that long.
	legacySpillAge = 24 * time.Hour
)

// makeSpillDir creates a run's spill directory and takes its lock, which
// the returned file holds until it is closed. The lock is taken on a file
// of another name and renamed into place, so a directory's lock file is
// never seen unlocked while its run lives.
func makeSpillDir() (dir string, lock *os.File, err error) {
	dir, err = os.MkdirTemp("", spillPrefix+"*")
	if err != nil {
		return "", nil, fmt.Errorf("creating a directory for spilled rows: %w", err)
	}
	lock, err = os.CreateTemp(dir, "locking-*")
	if err == nil {
		if err = lockFile(lock, true); err == nil {
			err = os.Rename(lock.Name(), filepath.Join(dir, spillLockName))
		}
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("locking the directory for spilled rows %s: %w", dir, err)
	}
	return dir, lock, nil
}

// removeDeadSpillDirs removes the spill directories of runs that died,
// and returns how many it removed.
func removeDeadSpillDirs() (int, error) {
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), spillPrefix+"*"))
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, dir := range dirs {
		dead, lock, err := spillDirIsDead(dir)
		if err != nil || !dead {
			continue // not ours to judge, or alive: left alone
		}
		err = os.RemoveAll(dir)
		if lock != nil {
			lock.Close()
		}
		if err != nil {
			return removed, fmt.Errorf("removing %s, the rows of a hashr-load that died: %w", dir, err)
		}
		removed++
	}
	return removed, nil
}

// spillDirIsDead says whether the run that made dir has ended: its lock
// can be taken. The lock is returned held, to be closed once dir is gone.
func spillDirIsDead(dir string) (bool, *os.File, error) {
	if info, err := os.Lstat(dir); err != nil || !info.IsDir() {
		return false, nil, err
	}
	lock, err := os.Open(filepath.Join(dir, spillLockName))
	if errors.Is(err, fs.ErrNotExist) {
		return untouchedFor(dir, legacySpillAge), nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	if err := lockFile(lock, false); err != nil {
		lock.Close()
		return false, nil, nil // a live run holds it
	}
	return true, lock, nil
}

// untouchedFor says whether neither dir nor any file in it was modified
// within age.
func untouchedFor(dir string, age time.Duration) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	cutoff := time.Now().Add(-age)
	if info, err := os.Stat(dir); err != nil || info.ModTime().After(cutoff) {
		return false
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || info.ModTime().After(cutoff) {
			return false
		}
	}
	return true
}
