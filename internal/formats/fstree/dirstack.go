package fstree

// DirStack is the depth-first walk the file system readers share: the
// entries of a directory are pushed when it is read, and Next hands them
// out one at a time, in order, each with the path of its directory, so a
// directory pushed while its parent's entries are handed out is walked
// whole before the parent's next entry.
type DirStack[E any] struct {
	frames []*dirFrame[E]
}

type dirFrame[E any] struct {
	dir     string
	entries []E
	next    int
}

// Push starts on the entries of the directory at path dir ("" for the
// root).
func (s *DirStack[E]) Push(dir string, entries []E) {
	s.frames = append(s.frames, &dirFrame[E]{dir: dir, entries: entries})
}

// Next returns the next entry and the path of the directory holding it;
// ok is false once every entry pushed has been handed out.
func (s *DirStack[E]) Next() (dir string, entry E, ok bool) {
	for len(s.frames) > 0 {
		top := s.frames[len(s.frames)-1]
		if top.next < len(top.entries) {
			top.next++
			return top.dir, top.entries[top.next-1], true
		}
		s.frames[len(s.frames)-1] = nil
		s.frames = s.frames[:len(s.frames)-1]
	}
	var none E
	return "", none, false
}

// Depth is how many directories are open on the walk: the root's and
// those of the directory of the entry Next returned last, so a directory
// pushed now would be nested Depth deep.
func (s *DirStack[E]) Depth() int { return len(s.frames) }
