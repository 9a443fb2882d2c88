//go:build !linux

package db

import "errors"

// hugePageBuffer is Linux's; elsewhere SQLite keeps its own allocator.
func hugePageBuffer(int) ([]byte, error) {
	return nil, errors.New("no huge pages asked for on this system")
}

func freeHugePageBuffer([]byte) {}
