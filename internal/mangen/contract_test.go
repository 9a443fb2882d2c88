package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/hashr-dev/hashr/internal/cli"
)

// section returns the text of docs/records.md under the "## " heading
// title, up to the next "## " heading.
func section(t *testing.T, title string) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/records.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "\n## "+title+"\n")
	if !ok {
		t.Fatalf("docs/records.md has no section \"## %s\"", title)
	}
	body, _, _ := strings.Cut(rest, "\n## ")
	return body
}

// Every flag that every command has is documented in docs/records.md's
// "Flags common to all commands": a flag added to all of them (in
// internal/cli) without its row fails here.
func TestContractNamesCommonFlags(t *testing.T) {
	common := map[string]int{}
	for name, build := range commands {
		cmd := build(cli.New(name, bytes.NewReader(nil), io.Discard, io.Discard))
		cmd.InitDefaultHelpFlag()
		seen := map[string]bool{}
		for _, fs := range []*pflag.FlagSet{cmd.LocalFlags(), cmd.InheritedFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				if !seen[f.Name] {
					seen[f.Name] = true
					common[f.Name]++
				}
			})
		}
	}
	doc := section(t, "Flags common to all commands")
	found := 0
	for flag, n := range common {
		if n != len(commands) {
			continue
		}
		found++
		if !strings.Contains(doc, "`--"+flag+"`") {
			t.Errorf("every command has --%s, but docs/records.md does not name it under \"## Flags common to all commands\": add a row | `--%s` | WHAT IT DOES |, then run make man", flag, flag)
		}
	}
	if found < 3 {
		t.Errorf("found %d flags common to all commands, want at least --help, --quiet, --verbose", found)
	}
}

// The exit statuses documented are internal/cli's.
func TestContractNamesExitStatuses(t *testing.T) {
	doc := section(t, "Exit status")
	for _, status := range []int{cli.ExitOK, cli.ExitFatal, cli.ExitUsage, cli.ExitPartial} {
		if !strings.Contains(doc, fmt.Sprintf("| `%d` |", status)) {
			t.Errorf("exit status %d is not documented under \"## Exit status\" in docs/records.md", status)
		}
	}
}

// The Markdown that docs/records.md uses comes out as roff that shows it:
// escapes, fonts, tables as tagged paragraphs, code blocks unfilled.
func TestMarkdownToMan(t *testing.T) {
	md := "# Title\n\n## Paths\n\nA `x.jar!/a` path, *not\nall* of it [here](#paths) or [there](https://x.org).\n\n    hashr-scan \\ | x\n\n| field | meaning |\n|---|---|\n| .dot | a -v |\n\n- one\n  two\n"
	got := markdownToMan(md, "hashr", "the contract", "Jan 2026")
	for _, want := range []string{
		".SH NAME\nhashr \\- the contract\n",
		".SH PATHS\n",
		".PP\nA \\fBx.jar!/a\\fR path, \\fInot all\\fR of it here or there (https://x.org).\n",
		".nf\nhashr\\-scan \\e | x\n.fi\n",
		".TP\n\\&.dot\na \\-v\n",
		".IP \\(bu 2\none two\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Title") {
		t.Errorf("the document's title is in the page (NAME replaces it):\n%s", got)
	}
}
