// Command hashr-load writes sources, their files and jobs into a hash set
// database (SQLite or PostgreSQL); see internal/load.
package main

import (
	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/load"
)

func main() { cli.Exec(load.HugeHeap, load.Main) }
