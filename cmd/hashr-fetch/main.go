package main

import (
	"os"

	"github.com/hashr-dev/hashr/internal/fetch"
)

func main() { os.Exit(fetch.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
