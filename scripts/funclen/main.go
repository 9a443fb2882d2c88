// Command funclen fails, listing file:line name length, for every Go
// function longer than a limit (60 lines by default), outside the
// exempt paths listed below. make lint runs it over the module.
//
// A function's length counts its lines from the func keyword to the
// closing brace, both included, as an editor shows them.
//
//	go run ./scripts/funclen [-max 60] [dir]
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// exempt lists the paths (slash-separated, relative to the module root;
// a directory covers everything below it) whose functions may be longer.
// Each entry says why.
var exempt = []string{
	// Decoders that parse a binary structure field by field: splitting
	// them would scatter one on-disk layout over many functions.
	"internal/formats/",
	"internal/magic/",
	// Assembly generators: one function writes one routine, line for
	// line as the instructions run.
	"internal/digest/md5x16/mkasm.go",
	"internal/digest/sha1sha256/mkasm.go",
}

// decoderFuncs are single functions, FILE:NAME, that decode bytes as one
// state machine, exempt as the decoder packages are.
var decoderFuncs = map[string]bool{
	// The JSON scanner's value: one state machine over a line's bytes.
	"pkg/records/rawfield.go:scanner.value": true,
}

// A longFunc is one function over the limit.
type longFunc struct {
	pos   token.Position
	name  string
	lines int
}

func main() {
	limit := flag.Int("max", 60, "the most lines a function may have")
	flag.Parse()
	root := "."
	if flag.NArg() > 0 {
		root = flag.Arg(0)
	}
	long, err := findLong(root, *limit)
	if err != nil {
		fmt.Fprintf(os.Stderr, "funclen: error: %v\n", err)
		os.Exit(1)
	}
	if report(os.Stdout, withoutDecoders(long), *limit) {
		os.Exit(1)
	}
}

// withoutDecoders drops the functions decoderFuncs names.
func withoutDecoders(long []longFunc) []longFunc {
	var kept []longFunc
	for _, f := range long {
		if !decoderFuncs[f.pos.Filename+":"+f.name] {
			kept = append(kept, f)
		}
	}
	return kept
}

// report lists the long functions, longest first, and says whether any were.
func report(w io.Writer, long []longFunc, limit int) bool {
	sort.Slice(long, func(i, j int) bool {
		if long[i].lines != long[j].lines {
			return long[i].lines > long[j].lines
		}
		return long[i].pos.String() < long[j].pos.String()
	})
	for _, f := range long {
		fmt.Fprintf(w, "%s:%d %s %d\n", f.pos.Filename, f.pos.Line, f.name, f.lines)
	}
	if len(long) > 0 {
		fmt.Fprintf(os.Stderr, "funclen: %d functions are over %d lines; split them into steps (scripts/funclen lists the exemptions)\n", len(long), limit)
	}
	return len(long) > 0
}

// findLong parses every Go file below root that is neither exempt,
// generated nor test data, and returns its functions over limit lines.
func findLong(root string, limit int) ([]longFunc, error) {
	var long []longFunc
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && skipDir(d.Name(), rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || isExempt(rel) {
			return nil
		}
		file, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("parsing %s: %w", path, err)
		}
		if ast.IsGenerated(file) {
			return nil
		}
		long = append(long, longFuncs(fset, file, rel, limit)...)
		return nil
	})
	return long, err
}

// skipDir says whether a directory holds no code of the module's own:
// test data, hidden folders, or another module's tree.
func skipDir(name, rel string) bool {
	return name == "testdata" || strings.HasPrefix(name, ".") || name == "vendor" || isExempt(rel+"/")
}

func isExempt(rel string) bool {
	for _, e := range exempt {
		if rel == e || (strings.HasSuffix(e, "/") && strings.HasPrefix(rel, e)) {
			return true
		}
	}
	return false
}

// longFuncs returns the functions of file over limit lines, named as
// Recv.Name for methods.
func longFuncs(fset *token.FileSet, file *ast.File, rel string, limit int) []longFunc {
	var long []longFunc
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		start := fset.Position(fn.Pos())
		lines := fset.Position(fn.End()).Line - start.Line + 1
		if lines <= limit {
			continue
		}
		start.Filename = rel
		long = append(long, longFunc{pos: start, name: funcName(fn), lines: lines})
	}
	return long
}

func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	if star, ok := t.(*ast.StarExpr); ok {
		t = star.X
	}
	if idx, ok := t.(*ast.IndexExpr); ok {
		t = idx.X
	}
	if idx, ok := t.(*ast.IndexListExpr); ok {
		t = idx.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}
