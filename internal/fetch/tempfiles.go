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

// create makes a new temporary file in d whose name starts with prefix,
// and returns it and its name in d.
func (t *tempFiles) create(d *dir, prefix string) (*os.File, string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, name, err := d.createTemp(prefix)
	if err != nil {
		return nil, "", err
	}
	t.paths[d.join(name)] = true
	return f, name, nil
}

// keep renames a finished temporary file in d to its final name there.
func (t *tempFiles) keep(d *dir, tmp, final string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := d.rename(tmp, final); err != nil {
		return err
	}
	delete(t.paths, d.join(tmp))
	return nil
}

// remove deletes a temporary file in d that is not wanted.
func (t *tempFiles) remove(d *dir, tmp string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_ = d.remove(tmp)
	delete(t.paths, d.join(tmp))
}

// removeAll deletes every temporary file not yet kept or removed. The
// work directory is the user's; a temporary file's name is one element in
// it, and removing never follows a link.
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
