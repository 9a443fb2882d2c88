//go:build !linux

package hugeheap

// Reserve does nothing: transparent huge pages are Linux's.
func Reserve(int) bool { return false }

// Mode is "": transparent huge pages are Linux's.
func Mode() string { return "" }
