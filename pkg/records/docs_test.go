package records

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// contractDoc is the contract's one place, where every field of every
// record type this package declares must be documented.
const contractDoc = "../../docs/records.md"

// recordType is a record type as this package's source declares it.
type recordType struct {
	name   string // the "type" value: "source"
	goType string // the Go struct: "Source"
	fields []recordField
}

type recordField struct {
	json  string // the JSON name
	goRef string // "End.Status at records.go:97", for the failure message
}

// Every field of every record type (found in this package's source, so a
// type added tomorrow is checked too) is documented in docs/records.md,
// under the type's "### `TYPE`" heading, in a table whose first column is
// "field"; and every field documented there exists.
func TestContractDocumentsEveryField(t *testing.T) {
	types := declaredRecordTypes(t)
	if len(types) < 4 {
		t.Fatalf("found %d record types in pkg/records, want at least source, file, error, end", len(types))
	}
	doc, err := os.ReadFile(contractDoc)
	if err != nil {
		t.Fatalf("reading the contract: %v (it lives in docs/records.md)", err)
	}
	documented := documentedFields(string(doc))
	for _, rt := range types {
		fields, ok := documented[rt.name]
		if !ok {
			t.Errorf("record type %q (%s in pkg/records) has no section in docs/records.md: add a heading \"### `%s`\" with a table | field | set by | meaning | listing each of its fields", rt.name, rt.goType, rt.name)
			continue
		}
		declared := map[string]bool{}
		for _, f := range rt.fields {
			declared[f.json] = true
			if !fields[f.json] {
				t.Errorf("field %q of record type %q (%s) is not documented in docs/records.md: add a row | `%s` | STAGE THAT SETS IT | WHAT IT MEANS | to the field table under \"### `%s`\", then run make man", f.json, rt.name, f.goRef, f.json, rt.name)
			}
		}
		for name := range fields {
			if !declared[name] {
				t.Errorf("docs/records.md documents field %q of record type %q, which %s in pkg/records does not declare: remove its row, or move it to the type's \"extra field\" table if a stage adds it outside pkg/records", name, rt.name, rt.goType)
			}
		}
	}
}

// declaredRecordTypes finds every struct whose pointer has a RecordType
// method returning one of the Type* constants, and its JSON fields.
func declaredRecordTypes(t *testing.T) []recordType {
	t.Helper()
	fset := token.NewFileSet()
	var files []*ast.File
	paths, _ := filepath.Glob("*.go")
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	consts, structs := map[string]string{}, map[string]*ast.StructType{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for i, name := range n.Names {
					if i < len(n.Values) {
						if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			case *ast.TypeSpec:
				if st, ok := n.Type.(*ast.StructType); ok {
					structs[n.Name.Name] = st
				}
			}
			return true
		})
	}
	var types []recordType
	for _, f := range files {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Name.Name != "RecordType" || fn.Recv == nil || len(fn.Body.List) != 1 {
				continue
			}
			goType := receiverName(fn.Recv.List[0].Type)
			ret, ok := fn.Body.List[0].(*ast.ReturnStmt)
			if !ok || len(ret.Results) != 1 {
				continue
			}
			name := typeValue(ret.Results[0], consts)
			st := structs[goType]
			if name == "" || st == nil {
				t.Fatalf("%s: RecordType of %s: cannot tell its type value or struct", fset.Position(fn.Pos()), goType)
			}
			types = append(types, recordType{name: name, goType: goType, fields: jsonFields(fset, goType, st)})
		}
	}
	slices.SortFunc(types, func(a, b recordType) int { return strings.Compare(a.name, b.name) })
	return types
}

func receiverName(e ast.Expr) string {
	if star, ok := e.(*ast.StarExpr); ok {
		e = star.X
	}
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// typeValue is the string a RecordType method returns: a constant or a
// literal.
func typeValue(e ast.Expr, consts map[string]string) string {
	switch e := e.(type) {
	case *ast.Ident:
		return consts[e.Name]
	case *ast.BasicLit:
		s, _ := strconv.Unquote(e.Value)
		return s
	}
	return ""
}

// jsonFields are the names encoding/json gives the struct's fields.
func jsonFields(fset *token.FileSet, goType string, st *ast.StructType) []recordField {
	var out []recordField
	for _, field := range st.Fields.List {
		tag := ""
		if field.Tag != nil {
			tag, _ = strconv.Unquote(field.Tag.Value)
		}
		name, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
		for _, id := range field.Names {
			if name == "-" || !id.IsExported() {
				continue
			}
			json := name
			if json == "" {
				json = id.Name
			}
			pos := fset.Position(field.Pos())
			out = append(out, recordField{json: json, goRef: fmt.Sprintf("%s.%s at pkg/records/%s:%d", goType, id.Name, filepath.Base(pos.Filename), pos.Line)})
		}
	}
	return out
}

var (
	typeHeading = regexp.MustCompile("^### `([a-z_]+)`")
	codeName    = regexp.MustCompile("`([a-z0-9_]+)`")
)

// documentedFields reads, for each "### `TYPE`" section, the names in the
// first column of its tables headed "field" (tables headed "extra field"
// list what stages add outside pkg/records, and are not counted).
func documentedFields(doc string) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	var section map[string]bool
	inFieldTable := false
	for line := range strings.SplitSeq(doc, "\n") {
		if m := typeHeading.FindStringSubmatch(line); m != nil {
			section = map[string]bool{}
			out[m[1]] = section
			inFieldTable = false
			continue
		}
		if strings.HasPrefix(line, "#") {
			section = nil
			continue
		}
		if !strings.HasPrefix(line, "|") {
			inFieldTable = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		first := strings.TrimSpace(cells[0])
		switch {
		case section == nil || strings.HasPrefix(first, "---"):
		case first == "field":
			inFieldTable = true
		case strings.HasSuffix(first, "field"): // "extra field"
			inFieldTable = false
		case inFieldTable:
			for _, m := range codeName.FindAllStringSubmatch(first, -1) {
				section[m[1]] = true
			}
		}
	}
	return out
}

// The parser of docs/records.md finds what a row documents, and the test
// fails for a field left out: a field added to a struct without its row
// must not pass.
func TestDocumentedFieldsParser(t *testing.T) {
	doc := "## Records\n\n### `end`\n\nCloses.\n\n| field | set by | meaning |\n|---|---|---|\n| `source` | x | y |\n| `files`, `errors` | x | `bytes` is not a field name here |\n\n| extra field | set by | meaning |\n|---|---|---|\n| `status` | z | w |\n\n## Paths\n\n| field | a | b |\n|---|---|---|\n| `outside` | | |\n"
	got := documentedFields(doc)
	want := map[string]map[string]bool{"end": {"source": true, "files": true, "errors": true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("documentedFields = %v, want %v", got, want)
	}
}
