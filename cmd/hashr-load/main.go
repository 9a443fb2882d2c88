// Command hashr-load writes sources, their files and jobs into a hash set
// database (SQLite or PostgreSQL); see internal/load.
package main

import (
	"os"

	"github.com/hashr-dev/hashr/internal/hugeheap"
	"github.com/hashr-dev/hashr/internal/load"
)

func main() {
	hugeheap.Reserve(load.HugeHeap) // first, while the heap is fresh
	os.Exit(load.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
