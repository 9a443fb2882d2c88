package scan

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hashr-dev/hashr/internal/formats/wim"
	"github.com/hashr-dev/hashr/internal/identity"
	"github.com/hashr-dev/hashr/internal/regular"
	"github.com/hashr-dev/hashr/pkg/records"
)

// describeWIM names a WIM source's images in its description, from the
// WIM's XML: the name and edition of each.
func describeWIM(f io.ReaderAt, size int64, src *records.Source) {
	images, err := wim.ReadImages(f, size)
	if err != nil || len(images) == 0 {
		return // extract reports a broken WIM
	}
	src.Description = wim.Describe(images)
	if len(images) == 1 {
		src.Package = identity.WIMImage(images[0]) // else each image is a package: --split-images
	}
}

// wsusExport is one line of a WSUS repository's export.csv, HashR's
// format: "sha1;FileName;KnowledgebaseArticle;DefaultTitle", the sha1
// being the name WSUS stores the update's content under, and the
// update's product where a header names a column for it (exportColumns).
type wsusExport struct {
	fileName, kb, title, product string
}

// exportColumns is how an export.csv's lines split: HashR's four fields
// (the title the rest of the line, so a title may hold ";"), or as many
// as a header line names when it names a product column after them
// (Product, Products or ProductTitles, as WSUS's update objects call
// it), the last field then the rest of the line.
type exportColumns struct {
	n, product int // product -1: none
}

var hashrExportColumns = exportColumns{n: 4, product: -1}

// headerColumns reads a header line's fields: the columns it names when
// one after HashR's four is the product; HashR's four otherwise.
func headerColumns(fields []string) exportColumns {
	for i := 4; i < len(fields); i++ {
		switch strings.ToLower(strings.Trim(strings.TrimSpace(fields[i]), `"`)) {
		case "product", "products", "producttitles":
			return exportColumns{n: len(fields), product: i}
		}
	}
	return hashrExportColumns
}

// wsusExports holds the export.csv of each repository root, read once.
type wsusExports struct {
	byRoot map[string]map[string]wsusExport
}

// exportFile is the file in a WSUS repository's root that names updates.
const exportFile = "export.csv"

// annotate gives a source of a WSUS repository with an export.csv its
// update's file name as id and its KB and title as description. It runs
// on the goroutine that writes records.
func (x *wsusExports) annotate(src *records.Source) error {
	if src.RepoPath == "" {
		return nil
	}
	if x.byRoot == nil {
		x.byRoot = map[string]map[string]wsusExport{}
	}
	exports, ok := x.byRoot[src.RepoPath]
	if !ok {
		var err error
		exports, err = readExport(filepath.Join(src.RepoPath, exportFile))
		x.byRoot[src.RepoPath] = exports
		if err != nil {
			return err
		}
	}
	if len(exports) == 0 {
		return nil
	}
	base := filepath.Base(src.URI)
	key := strings.ToLower(strings.TrimSuffix(base, filepath.Ext(base)))
	e, ok := exports[key]
	if !ok {
		return nil
	}
	if e.fileName != "" {
		src.ID = e.fileName
	}
	if src.Package = identity.WSUS(e.kb, e.title, e.product); src.Package != nil {
		src.Description = strings.TrimSpace(src.Package.KB + " " + e.title)
	}
	return nil
}

// readExport reads an export.csv; a missing one is no error.
func readExport(name string) (map[string]wsusExport, error) {
	f, _, err := regular.Open(name) // a FIFO there must not block the scan
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil // no export, or the repository is a single file
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	defer f.Close()
	out := map[string]wsusExport{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line, cols := 0, hashrExportColumns
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		fields := strings.SplitN(text, ";", cols.n)
		if len(fields) < 2 {
			continue
		}
		sha := strings.ToLower(strings.Trim(strings.TrimSpace(fields[0]), `"`))
		if len(sha) != 40 || strings.Trim(sha, "0123456789abcdef") != "" {
			if line == 1 { // the header line
				cols = headerColumns(strings.Split(text, ";"))
			}
			continue // or not a line about an update
		}
		field := func(i int) string {
			if i < 0 || i >= len(fields) {
				return ""
			}
			return strings.Trim(strings.TrimSpace(fields[i]), `"`)
		}
		out[sha] = wsusExport{fileName: field(1), kb: field(2), title: field(3), product: field(cols.product)}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("reading %s, line %d: %w", name, line, err)
	}
	return out, nil
}
