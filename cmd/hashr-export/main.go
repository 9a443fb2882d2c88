// Command hashr-export writes the hash set of a database in the formats
// forensic tools read; see internal/export.
package main

import (
	"os"

	"github.com/hashr-dev/hashr/internal/export"
)

func main() { os.Exit(export.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
