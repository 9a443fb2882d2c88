package extract

import (
	"fmt"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/hashr-dev/hashr/internal/unpack"
)

// spoolDirs hands out per-source directories, so that a source seen twice
// in one run gets a second directory instead of clobbering the first,
// whose records may still be on their way downstream; and a directory
// another live run is filling is never taken (see spoolState).
type spoolDirs struct {
	root  string
	state *spoolState
	mu    sync.Mutex
	used  map[string]int
}

func newSpoolDirs(root string, state *spoolState) *spoolDirs {
	return &spoolDirs{root: root, state: state, used: map[string]int{}}
}

// open returns a fresh, empty directory for the source sha256, marked
// partial until finished. What an earlier, interrupted run left there is
// removed.
func (s *spoolDirs) open(sha256 string, flatten bool) (*unpack.Spool, error) {
	for {
		s.mu.Lock()
		s.used[sha256]++
		n := s.used[sha256]
		s.mu.Unlock()
		if n > 1000 {
			return nil, fmt.Errorf("no free spool directory for %s in %q: other runs hold them all", sha256, s.root)
		}
		name := sha256
		if n > 1 {
			name += "." + strconv.Itoa(n)
		}
		dir := filepath.Join(s.root, name)
		busy, err := s.state.claim(dir)
		if err != nil {
			return nil, err
		}
		if !busy {
			return unpack.NewSpool(dir, flatten), nil
		}
	}
}
