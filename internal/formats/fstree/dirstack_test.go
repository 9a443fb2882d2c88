package fstree

import (
	"slices"
	"testing"
)

// A directory pushed while its parent is walked is walked whole before
// the parent's next entry; empty directories leave nothing behind.
func TestDirStackDepthFirst(t *testing.T) {
	tree := map[string][]string{
		"":    {"a", "b", "c"},
		"a":   {"a/x", "a/y"},
		"a/x": {},
		"c":   {"c/z"},
	}
	var s DirStack[string]
	s.Push("", tree[""])
	var got []string
	var depths []int
	for {
		dir, name, ok := s.Next()
		if !ok {
			break
		}
		got = append(got, dir+">"+name)
		depths = append(depths, s.Depth())
		if sub, isDir := tree[name]; isDir {
			s.Push(name, sub)
		}
	}
	want := []string{">a", "a>a/x", "a>a/y", ">b", ">c", "c>c/z"}
	if !slices.Equal(got, want) {
		t.Errorf("walk %q, want %q", got, want)
	}
	if wantDepths := []int{1, 2, 2, 1, 1, 2}; !slices.Equal(depths, wantDepths) {
		t.Errorf("depths %v, want %v", depths, wantDepths)
	}
	if s.Depth() != 0 {
		t.Errorf("depth %d after the walk, want 0", s.Depth())
	}
	if _, _, ok := s.Next(); ok {
		t.Error("Next after the walk's end returned an entry")
	}
}
