package formats_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/extract"
	"github.com/hashr-dev/hashr/internal/formats"
	"github.com/hashr-dev/hashr/internal/formats/bridge"
	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/pkg/records"
)

// fixturesOf reads testdata/formats/expected.tsv: the committed fixtures
// of each format, made by the format's own tools, uncompressed.
func fixturesOf(t *testing.T) (dir string, byFormat map[string][]string) {
	_, here, _, _ := runtime.Caller(0)
	dir = filepath.Join(filepath.Dir(here), "..", "..", "testdata", "formats")
	f, err := os.Open(filepath.Join(dir, "expected.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byFormat = map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) != 4 || strings.HasPrefix(cols[0], "#") || cols[2] != "-" {
			continue
		}
		if cols[3] != "committed" {
			byFormat[cols[1]] = append(byFormat[cols[1]], "") // built at test time, by magic's tests
			continue
		}
		if st, err := os.Stat(filepath.Join(dir, cols[0])); err == nil && st.Mode().IsRegular() {
			byFormat[cols[1]] = append(byFormat[cols[1]], cols[0])
		}
	}
	return dir, byFormat
}

// TestTableIsTheOnlyList: every source format of the table is told by
// magic (hashr-scan) and walked by hashr-extract, through the table alone:
// a format added to the table with its reader needs no other edit for
// either to know it.
func TestTableIsTheOnlyList(t *testing.T) {
	dir, byFormat := fixturesOf(t)
	if got, want := strings.Join(magic.Formats(), ","), strings.Join(formats.Names(), ","); got != want {
		t.Errorf("magic.Formats() = %s, the table's = %s", got, want)
	}
	for _, f := range formats.All() {
		if !f.IsSource() {
			continue
		}
		fixtures := byFormat[f.Name]
		if len(fixtures) == 0 {
			t.Errorf("format %s: no fixture in expected.tsv to prove it", f.Name)
		}
		for _, name := range fixtures {
			if name == "" {
				continue
			}
			path := filepath.Join(dir, name)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := magic.DetectBytes(data); got.Format != f.Name {
				t.Errorf("%s: magic says %v, the table's entry is %s", name, got, f.Name)
			}
			// Some fixtures are made for detection and hold no file (an
			// empty partition, an empty UDF volume): what counts is that
			// the reader ran, neither refused nor skipped as one plain file.
			paths, errs := extractRecords(t, path)
			if strings.Contains(errs, "not supported") || (len(paths) == 1 && paths[0] == name) {
				t.Errorf("%s (%s): hashr-extract did not walk it: files %q, errors %s", name, f.Name, paths, errs)
			}
		}
	}
}

// extractRecords runs hashr-extract in-process on the file at path and
// returns its file records' paths, and its error records' messages.
func extractRecords(t *testing.T, path string) (files []string, errs string) {
	t.Helper()
	line, _ := json.Marshal(map[string]string{"type": "source", "uri": path})
	var stdout, stderr bytes.Buffer
	args := []string{"--no-sandbox", "--hash", "sha256", "--spool", t.TempDir()}
	extract.Main(args, bytes.NewReader(append(line, '\n')), &stdout, &stderr)
	for l := range strings.SplitSeq(strings.TrimSpace(stdout.String()), "\n") {
		rec, err := records.Unmarshal([]byte(l))
		switch r := rec.(type) {
		case *records.File:
			files = append(files, r.Path)
		case *records.Error:
			errs += r.Message + "; "
		default:
			if err != nil {
				t.Fatalf("%s: output line %q: %v", path, l, err)
			}
		}
	}
	return files, errs
}

// TestVolumeFormatsAreDiskFileSystems: the disk reader tries the table's
// file systems, in the table's order, and each bare one is a "disk".
func TestVolumeFormatsAreDiskFileSystems(t *testing.T) {
	var names, fromDisk []string
	for _, f := range formats.VolumeFormats() {
		names = append(names, f.Name)
	}
	for _, fs := range formats.DiskFileSystems() {
		fromDisk = append(fromDisk, fs.Name)
	}
	if strings.Join(names, ",") != strings.Join(fromDisk, ",") {
		t.Errorf("disk reads %v, the table has %v", fromDisk, names)
	}
	orders := map[int]string{}
	for _, f := range formats.All() {
		if other, ok := orders[f.Order]; ok && f.Order != 0 {
			t.Errorf("%s and %s have the same detection Order %d: which wins would be the table's layout's chance", f.Name, other, f.Order)
		}
		orders[f.Order] = f.Name
		if (f.Order != 0) != (f.Detect != nil && f.IsSource()) {
			t.Errorf("%s: a source format with a detector needs an Order, and only it", f.Name)
		}
		if f.BareDisk && (f.Volume == nil || f.IsSource()) {
			t.Errorf("%s: a bare file system is read as a disk's volume, and is no source format of its own", f.Name)
		}
	}
}

// TestBridgeNamesAreTheTable's: package bridge cannot import the table,
// so it spells the two names it returns; they must be the table's.
func TestBridgeNamesAreTheTables(t *testing.T) {
	_, here, _, _ := runtime.Caller(0)
	iso, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "testdata", "formats", "sample-bridge.iso"))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := bridge.Open(bytes.NewReader(iso), int64(len(iso)))
	if err != nil {
		t.Fatal(err)
	}
	if formats.Lookup(tree.Format) == nil || tree.Format != formats.UDF {
		t.Errorf("bridge.Open says %q, the table names UDF %q", tree.Format, formats.UDF)
	}
}
