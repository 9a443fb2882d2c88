// Command hashr-scan finds sources in repositories and detects their
// formats; see internal/scan.
package main

import (
	"os"

	"github.com/hashr-dev/hashr/internal/scan"
)

func main() { os.Exit(scan.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
