//go:build unix

package load

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The spilled rows of a hashr-load killed with kill -9 are removed by the
// next run; those of a live run (its lock held) and a fresh directory of
// an older hashr-load without locks are not.
func TestNextRunRemovesTheRowsOfDeadRuns(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	mkdir := func(name string, files ...string) string {
		dir := filepath.Join(tmp, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte("rows"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	dead := mkdir("hashr-load-1111", "lock", "rows-1.gob")
	live := mkdir("hashr-load-2222", "lock", "rows-1.gob")
	lock, err := os.OpenFile(filepath.Join(live, "lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	oldLegacy := mkdir("hashr-load-3333", "rows-1.gob")
	long := time.Now().Add(-48 * time.Hour)
	for _, p := range []string{filepath.Join(oldLegacy, "rows-1.gob"), oldLegacy} {
		if err := os.Chtimes(p, long, long); err != nil {
			t.Fatal(err)
		}
	}
	freshLegacy := mkdir("hashr-load-4444", "rows-1.gob")
	other := mkdir("not-hashr-5555", "lock")

	if status, _, stderr := runLoad(t, nil, "--db", sqliteURL(t)); status != 0 {
		t.Fatalf("exit %d\n%s", status, stderr)
	}
	for dir, want := range map[string]bool{dead: false, live: true, oldLegacy: false, freshLegacy: true, other: true} {
		if _, err := os.Stat(dir); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(dir), err == nil, want)
		}
	}
}

// A run's own directory is locked from the moment its lock file exists,
// and taken for dead once the lock is let go.
func TestSpillDirLockedWhileItsRunLives(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	dir, lock, err := makeSpillDir()
	if err != nil {
		t.Fatal(err)
	}
	if dead, _, err := spillDirIsDead(dir); dead || err != nil {
		t.Fatalf("live run's directory taken for dead (%v)", err)
	}
	lock.Close()
	dead, held, err := spillDirIsDead(dir)
	if !dead || err != nil {
		t.Fatalf("dead run's directory not taken for dead (%v)", err)
	}
	held.Close()
}
