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
// being the name WSUS stores the update's content under.
type wsusExport struct {
	fileName, kb, title string
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
	if src.Package = identity.WSUS(e.kb, e.title); src.Package != nil {
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
	line := 0
	for sc.Scan() {
		line++
		fields := strings.SplitN(strings.TrimRight(sc.Text(), "\r"), ";", 4)
		if len(fields) < 2 {
			continue
		}
		sha := strings.ToLower(strings.Trim(strings.TrimSpace(fields[0]), `"`))
		if len(sha) != 40 || strings.Trim(sha, "0123456789abcdef") != "" {
			continue // the header line, or not a line about an update
		}
		e := wsusExport{fileName: strings.Trim(strings.TrimSpace(fields[1]), `"`)}
		if len(fields) > 2 {
			e.kb = strings.Trim(strings.TrimSpace(fields[2]), `"`)
		}
		if len(fields) > 3 {
			e.title = strings.Trim(strings.TrimSpace(fields[3]), `"`)
		}
		out[sha] = e
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("reading %s, line %d: %w", name, line, err)
	}
	return out, nil
}
