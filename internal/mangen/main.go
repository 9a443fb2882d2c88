// Command mangen writes the man pages of every hashr command, generated
// from the commands themselves so they never drift from --help, and
// hashr(7), the records' contract, from docs/records.md:
//
//	go run ./internal/mangen man
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/dedup"
	"github.com/hashr-dev/hashr/internal/export"
	"github.com/hashr-dev/hashr/internal/extract"
	"github.com/hashr-dev/hashr/internal/fetch"
	"github.com/hashr-dev/hashr/internal/hashcmd"
	"github.com/hashr-dev/hashr/internal/load"
	"github.com/hashr-dev/hashr/internal/lookup"
	"github.com/hashr-dev/hashr/internal/scan"
	"github.com/hashr-dev/hashr/internal/serve"
)

// commands builds each command the way its main does.
var commands = map[string]func(*cli.Program) *cobra.Command{
	"hashr-scan":    scan.NewCommand,
	"hashr-fetch":   fetch.NewCommand,
	"hashr-extract": extract.NewCommand,
	"hashr-hash":    hashcmd.NewCommand,
	"hashr-dedup":   dedup.NewCommand,
	"hashr-load":    load.NewCommand,
	"hashr-export":  export.NewCommand,
	"hashr-lookup":  lookup.NewCommand,
	"hashr-serve":   serve.NewCommand,
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mangen DIR")
		os.Exit(2)
	}
	if err := Generate(os.Args[1], contractDoc); err != nil {
		fmt.Fprintf(os.Stderr, "mangen: error: %v\n", err)
		os.Exit(1)
	}
}

// contractDoc is the records' contract, from the repository's root (where
// make man runs).
const contractDoc = "docs/records.md"

// manDate is the date every page carries: a fixed one keeps regenerated
// pages identical.
var manDate = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Generate writes one page per command (and subcommand) into dir, and
// hashr.7 from the contract at contract.
func Generate(dir, contract string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := generateContract(dir, contract); err != nil {
		return err
	}
	for name, build := range commands {
		p := cli.New(name, bytes.NewReader(nil), io.Discard, io.Discard)
		cmd := build(p)
		cmd.DisableAutoGenTag = true
		// Name the environment variables in the page as --help does.
		cli.DescribeEnv(cmd)
		header := &doc.GenManHeader{Title: name, Section: "1", Source: "hashr", Manual: "hashr manual", Date: &manDate}
		if err := doc.GenManTree(cmd, header, dir); err != nil {
			return fmt.Errorf("writing the man page of %s into %s: %w", name, filepath.Clean(dir), err)
		}
	}
	return nil
}

// generateContract writes hashr.7, the contract page, from docs/records.md.
func generateContract(dir, contract string) error {
	md, err := os.ReadFile(contract)
	if err != nil {
		return fmt.Errorf("reading the records' contract: %w (run mangen from the repository's root)", err)
	}
	page := markdownToMan(string(md), "hashr", "the records, paths, shared flags, environment variables and exit statuses of the hashr commands", manDate.Format("Jan 2006"))
	if err := os.WriteFile(filepath.Join(dir, "hashr.7"), []byte(page), 0o644); err != nil {
		return fmt.Errorf("writing hashr.7 into %s: %w", filepath.Clean(dir), err)
	}
	return nil
}
