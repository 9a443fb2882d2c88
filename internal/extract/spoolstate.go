package extract

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// A run keeps what it needs to clean up after itself, or for a later run
// to clean up after it, in a directory of its own in the spool:
//
//	SPOOL/.hashr-extract-tmp-XXXX/
//	    lock       flock'ed by the run for as long as it lives
//	    partial/   an empty file per spool directory the run is filling
//	               and whose source's end record is not written yet
//	    ...        spilled records, copies of nested archives, sandbox
//	               children's temporary directories
//
// A run that ends normally or by a signal removes its partial spool
// directories and then this directory. One killed outright (kill -9, a
// power cut) leaves both; the next run, or hashr-extract --clean-spool,
// finds the directory's lock free, removes the spool directories named in
// partial/ and then the directory. A spool directory whose end record went
// out is named nowhere, and is left for hashr-hash to consume.
//
// The spool directory itself, flock'ed for a moment at a time, orders the
// runs that share a spool: creating a run's directory and its lock,
// claiming a spool directory, and cleaning up. So a cleaner never removes
// a directory a live run holds or has just claimed.
const (
	runDirPrefix = ".hashr-extract-tmp-"
	runLockName  = "lock"
	partialDir   = "partial"
)

// spoolState is this run's part of the spool.
type spoolState struct {
	root      string
	runDir    string
	runLock   *os.File // held (LOCK_EX) until close
	spoolLock *os.File // the spool directory, flock'ed only inside withLock
}

// openSpoolState creates the spool directory if needed and this run's
// directory in it, after cleaning up what interrupted runs left.
func openSpoolState(root string) (st *spoolState, cleaned cleanReport, err error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, cleaned, fmt.Errorf("creating the spool directory %q: %w", root, err)
	}
	lock, err := os.Open(root) // flock works on a directory too: no lock file to leave behind
	if err != nil {
		return nil, cleaned, fmt.Errorf("opening the spool directory %q: %w", root, err)
	}
	st = &spoolState{root: root, spoolLock: lock}
	err = st.withLock(func() error {
		if cleaned, err = st.cleanLocked(); err != nil {
			return err
		}
		dir, err := os.MkdirTemp(root, runDirPrefix)
		if err != nil {
			return fmt.Errorf("creating a temporary directory in %q: %w", root, err)
		}
		st.runDir = dir
		if err := os.Mkdir(filepath.Join(dir, partialDir), 0o755); err != nil {
			return err
		}
		st.runLock, err = os.OpenFile(filepath.Join(dir, runLockName), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		return syscall.Flock(int(st.runLock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	})
	if err != nil {
		st.close()
		return nil, cleaned, err
	}
	return st, cleaned, nil
}

// withLock runs f holding the spool-wide lock.
func (st *spoolState) withLock(f func() error) error {
	fd := int(st.spoolLock.Fd())
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("locking the spool %q: %w", st.root, err)
		}
	}
	defer syscall.Flock(fd, syscall.LOCK_UN)
	return f()
}

// claim makes dir (a directory right under the root) this run's, empty,
// and marked partial. busy says whether another live run holds it, in
// which case nothing is done and the caller picks another name.
func (st *spoolState) claim(dir string) (busy bool, err error) {
	name := filepath.Base(dir)
	err = st.withLock(func() error {
		runs, err := st.otherRuns()
		if err != nil {
			return err
		}
		for _, r := range runs {
			marker := filepath.Join(r, partialDir, name)
			if _, err := os.Lstat(marker); err != nil {
				continue
			}
			if runAlive(r) {
				busy = true
				return nil
			}
			// A dead run's claim: the directory is ours now, and its
			// cleaner must not remove it later.
			os.Remove(marker)
		}
		if err := os.WriteFile(filepath.Join(st.runDir, partialDir, name), nil, 0o644); err != nil {
			return fmt.Errorf("marking spool directory %q as being filled: %w", dir, err)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("clearing spool directory %q: %w", dir, err)
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("creating spool directory %q: %w", dir, err)
		}
		return nil
	})
	return busy, err
}

// finished drops the partial mark of a spool directory whose source's end
// record is written: from now on it belongs downstream.
func (st *spoolState) finished(dir string) {
	os.Remove(filepath.Join(st.runDir, partialDir, filepath.Base(dir)))
}

// close removes this run's directory and releases its lock. The caller
// has removed its partial spool directories first.
func (st *spoolState) close() {
	if st.runDir != "" {
		os.RemoveAll(st.runDir)
	}
	if st.runLock != nil {
		st.runLock.Close()
	}
	st.spoolLock.Close()
}

// otherRuns lists the run directories in the spool other than this run's.
func (st *spoolState) otherRuns() ([]string, error) {
	entries, err := os.ReadDir(st.root)
	if err != nil {
		return nil, fmt.Errorf("listing the spool %q: %w", st.root, err)
	}
	var runs []string
	for _, e := range entries {
		p := filepath.Join(st.root, e.Name())
		if e.IsDir() && strings.HasPrefix(e.Name(), runDirPrefix) && p != st.runDir {
			runs = append(runs, p)
		}
	}
	return runs, nil
}

// runAlive says whether the run owning dir still holds its lock. A
// directory without a lock file is a dead run's: the lock is made, under
// the spool lock, together with the directory.
func runAlive(dir string) bool {
	f, err := os.Open(filepath.Join(dir, runLockName))
	if err != nil {
		return false
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// cleanReport counts what a clean-up removed.
type cleanReport struct {
	runs  int // run directories of interrupted runs
	spool int // spool directories of sources whose end never went out
}

// cleanLocked removes what dead runs left. The spool lock is held.
func (st *spoolState) cleanLocked() (cleanReport, error) {
	var rep cleanReport
	runs, err := st.otherRuns()
	if err != nil {
		return rep, err
	}
	var failed []string
	for _, r := range runs {
		if runAlive(r) {
			continue
		}
		partial, _ := os.ReadDir(filepath.Join(r, partialDir))
		ok := true
		for _, m := range partial {
			name := m.Name()
			if name == "." || name == ".." || strings.ContainsRune(name, '/') || strings.HasPrefix(name, runDirPrefix) {
				continue
			}
			if err := os.RemoveAll(filepath.Join(st.root, name)); err != nil {
				failed = append(failed, err.Error())
				ok = false
				continue
			}
			rep.spool++
		}
		if !ok {
			continue // keep the markers, to try again
		}
		if err := os.RemoveAll(r); err != nil {
			failed = append(failed, err.Error())
			continue
		}
		rep.runs++
	}
	if len(failed) > 0 {
		return rep, fmt.Errorf("cleaning up after interrupted runs: %s", strings.Join(failed, "; "))
	}
	return rep, nil
}
