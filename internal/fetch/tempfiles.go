package fetch

import (
	"os"
	"path/filepath"
	"sync"
)

// tempFiles tracks the temporary files being written (copies in progress),
// so whatever is left of them when the run ends, interrupted or not, is
// removed. Download .part files are not tracked here: each download removes
// its own when it fails, and keeps it only when the run is interrupted, so
// the next run can resume.
type tempFiles struct {
	mu    sync.Mutex
	paths map[string]bool
}

func newTempFiles() *tempFiles { return &tempFiles{paths: map[string]bool{}} }

// create makes a new temporary file in dir whose name starts with prefix.
func (t *tempFiles) create(dir, prefix string) (*os.File, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, err := os.CreateTemp(dir, prefix)
	if err != nil {
		return nil, err
	}
	t.paths[f.Name()] = true
	return f, nil
}

// keep renames a finished temporary file to its final name.
func (t *tempFiles) keep(tmp, final string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	delete(t.paths, tmp)
	return nil
}

// remove deletes a temporary file that is not wanted.
func (t *tempFiles) remove(tmp string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_ = os.Remove(tmp)
	delete(t.paths, tmp)
}

// removeAll deletes every temporary file not yet kept or removed.
func (t *tempFiles) removeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for p := range t.paths {
		_ = os.Remove(p)
		delete(t.paths, p)
	}
}

// tempPrefix is the name prefix of a temporary file for the work file
// named name: hidden, and never ending in .part.
func tempPrefix(name string) string { return "." + filepath.Base(name) + ".tmp-" }
