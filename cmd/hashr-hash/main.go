// Command hashr-hash fills in the digests of file records, or hashes files
// and trees; see internal/hashcmd.
package main

import (
	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/hashcmd"
)

func main() { cli.Exec(hashcmd.HugeHeap, hashcmd.Main) }
