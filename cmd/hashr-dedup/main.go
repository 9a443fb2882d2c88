// Command hashr-dedup marks each file's sha256 seen or new against an
// on-disk store; see internal/dedup.
package main

import (
	"os"

	"github.com/hashr-dev/hashr/internal/dedup"
)

func main() { os.Exit(dedup.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
