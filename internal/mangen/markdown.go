package main

import (
	"fmt"
	"regexp"
	"strings"
)

// The contract page, hashr(7), is written from docs/records.md, so the
// page and the document cannot say different things. Only the Markdown
// that document uses is understood: headings, paragraphs, indented code
// blocks, "- " lists and pipe tables.

var (
	mdLink   = regexp.MustCompile(`\[([^\]]+)\]\(([^)]+)\)`)
	mdCode   = regexp.MustCompile("`([^`]+)`")
	mdStrong = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	mdEmph   = regexp.MustCompile(`\*([^*\s][^*]*)\*`)
)

// markdownToMan renders a Markdown document as a man page in section 7.
// name and summary make the NAME section; the document's "# " title is
// left out for it.
func markdownToMan(md, name, summary, date string) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".nh\n.TH %q 7 %q \"hashr\" \"hashr manual\"\n", strings.ToUpper(name), date)
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", name, roffInline(summary))
	lines := strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); {
		i = renderBlock(&b, lines, i)
	}
	return b.String()
}

// renderBlock writes the block that starts at lines[i] and returns the
// index of the line after it.
func renderBlock(b *strings.Builder, lines []string, i int) int {
	line := lines[i]
	switch {
	case strings.TrimSpace(line) == "":
		return i + 1
	case strings.HasPrefix(line, "# "):
		return i + 1
	case strings.HasPrefix(line, "## "):
		fmt.Fprintf(b, ".SH %s\n", roffInline(strings.ToUpper(line[3:])))
		return i + 1
	case strings.HasPrefix(line, "### "), strings.HasPrefix(line, "#### "):
		_, title, _ := strings.Cut(line, " ")
		fmt.Fprintf(b, ".SS %s\n", roffInline(title))
		return i + 1
	case strings.HasPrefix(line, "    "):
		b.WriteString(".PP\n.RS 4\n.nf\n")
		end := i
		for k := i; k < len(lines) && (strings.HasPrefix(lines[k], "    ") || strings.TrimSpace(lines[k]) == ""); k++ {
			if strings.TrimSpace(lines[k]) != "" {
				end = k + 1 // blank lines inside the block, not after it
			}
		}
		for ; i < end; i++ {
			b.WriteString(roffLine(strings.TrimPrefix(lines[i], "    "), false) + "\n")
		}
		b.WriteString(".fi\n.RE\n")
		return i
	case strings.HasPrefix(line, "|"):
		return renderTable(b, lines, i)
	case strings.HasPrefix(line, "- "):
		return renderList(b, lines, i)
	}
	// A paragraph: lines up to a blank line or another block, joined so
	// that markup may span lines.
	var para []string
	for ; i < len(lines) && strings.TrimSpace(lines[i]) != "" && !startsBlock(lines[i]); i++ {
		para = append(para, strings.TrimSpace(lines[i]))
	}
	b.WriteString(".PP\n" + roffLine(strings.Join(para, " "), true) + "\n")
	return i
}

func startsBlock(line string) bool {
	return strings.HasPrefix(line, "#") || strings.HasPrefix(line, "|") ||
		strings.HasPrefix(line, "- ") || strings.HasPrefix(line, "    ")
}

// renderList writes "- " items, each with its indented continuation lines.
func renderList(b *strings.Builder, lines []string, i int) int {
	for i < len(lines) && strings.HasPrefix(lines[i], "- ") {
		item := []string{lines[i][2:]}
		for i++; i < len(lines) && strings.HasPrefix(lines[i], "  ") && strings.TrimSpace(lines[i]) != ""; i++ {
			item = append(item, strings.TrimSpace(lines[i]))
		}
		b.WriteString(".IP \\(bu 2\n" + roffLine(strings.Join(item, " "), true) + "\n")
	}
	return i
}

// renderTable writes a pipe table as its header line, then one tagged
// paragraph a row: the first cell the tag, the others its text.
func renderTable(b *strings.Builder, lines []string, i int) int {
	header := tableCells(lines[i])
	for k := range header {
		header[k] = `\fI` + roffInline(header[k]) + `\fR`
	}
	b.WriteString(".PP\n" + strings.Join(header, ` \(em `) + "\n")
	for i++; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
		cells := tableCells(lines[i])
		if strings.HasPrefix(cells[0], "---") {
			continue
		}
		b.WriteString(".TP\n" + protect(roffInline(cells[0])) + "\n")
		var rest []string
		for _, c := range cells[1:] {
			if c != "" {
				rest = append(rest, roffInline(c))
			}
		}
		b.WriteString(protect(strings.Join(rest, ` \(em `)) + "\n")
	}
	return i
}

func tableCells(line string) []string {
	cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
	for k := range cells {
		cells[k] = strings.TrimSpace(cells[k])
	}
	return cells
}

// roffLine renders one line of text, with its inline markup when markup
// is set (not in code blocks).
func roffLine(s string, markup bool) string {
	if markup {
		return protect(roffInline(s))
	}
	return protect(roffEscape(s))
}

// protect keeps roff from taking a line of text for a request.
func protect(s string) string {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		return `\&` + s
	}
	return s
}

// roffInline escapes text for roff and turns Markdown's inline markup
// into fonts: code bold, emphasis italic, links their text (and address).
func roffInline(s string) string {
	s = roffEscape(s)
	s = mdLink.ReplaceAllStringFunc(s, func(m string) string {
		sub := mdLink.FindStringSubmatch(m)
		if strings.HasPrefix(sub[2], "#") {
			return sub[1]
		}
		return sub[1] + " (" + sub[2] + ")"
	})
	s = mdCode.ReplaceAllString(s, `\fB$1\fR`)
	s = mdStrong.ReplaceAllString(s, `\fB$1\fR`)
	return mdEmph.ReplaceAllString(s, `\fI$1\fR`)
}

// roffEscape protects backslashes and hyphens (which roff would otherwise
// print as a hyphen that copy-paste turns into something else).
func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	return strings.ReplaceAll(s, "-", `\-`)
}
