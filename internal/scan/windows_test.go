package scan

import (
	"crypto/sha1"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/pkg/records"
)

func needTool(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (see .ci/install-deps.txt)", tool)
		}
		t.Skipf("%s is not installed", tool)
	}
}

// wsusRepo builds a WSUS content directory holding a cabinet under the
// SHA-1 of its content, and a copy under another name, with export.csv.
func wsusRepo(t *testing.T, exportCSV func(sha string) string) (repo, update, other string) {
	needTool(t, "gcab")
	repo = t.TempDir()
	payload := t.TempDir()
	if err := os.WriteFile(filepath.Join(payload, "update.mum"), []byte("<assembly/>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cab := filepath.Join(t.TempDir(), "x.cab")
	cmd := exec.Command("gcab", "-cz", cab, "update.mum")
	cmd.Dir = payload
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcab: %v\n%s", err, out)
	}
	data, err := os.ReadFile(cab)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(data)
	sha := strings.ToUpper(hex.EncodeToString(sum[:]))
	content := filepath.Join(repo, "WsusContent", sha[len(sha)-2:])
	if err := os.MkdirAll(content, 0o755); err != nil {
		t.Fatal(err)
	}
	update = filepath.Join(content, sha+".cab")
	if err := os.WriteFile(update, data, 0o644); err != nil {
		t.Fatal(err)
	}
	other = filepath.Join(content, strings.Repeat("AB", 20)+".cab")
	if err := os.WriteFile(other, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "export.csv"), []byte(exportCSV(sha)), 0o644); err != nil {
		t.Fatal(err)
	}
	return repo, update, other
}

// TestWSUSExport: a WSUS content directory holds updates under the SHA-1
// of their content; export.csv (HashR's format) names them. A header
// naming a product column after HashR's four gives the update its os; a
// title holding ";" in HashR's four columns stays whole.
func TestWSUSExport(t *testing.T) {
	for _, c := range []struct {
		name, header, extra, title, os string
	}{
		{"HashR's columns", "sha1;FileName;KnowledgebaseArticle;DefaultTitle", "", "2021-09 Cumulative Update for Windows 10; x64", ""},
		{"with ProductTitles", "sha1;FileName;KnowledgebaseArticle;DefaultTitle;ProductTitles", ";Windows 10", "2021-09 Cumulative Update for Windows 10", "Windows 10"},
	} {
		t.Run(c.name, func(t *testing.T) {
			repo, update, other := wsusRepo(t, func(sha string) string {
				return c.header + "\r\n" + sha + ";windows10.0-kb5005565-x64_ndp48.cab;5005565;" + c.title + c.extra + "\r\n"
			})
			res := scan(t, repo)
			if res.code != 0 {
				t.Fatalf("status %d: %s", res.code, res.stderr)
			}
			got := res.byURI()
			s := got[update]
			if s == nil {
				t.Fatalf("no source for %s: %v", update, res.sources)
			}
			if s.ID != "windows10.0-kb5005565-x64_ndp48.cab" || s.Description != "KB5005565 "+c.title || s.Repo != "wsus" {
				t.Errorf("source named by export.csv: id %q, description %q, repo %q", s.ID, s.Description, s.Repo)
			}
			if want := (records.Package{Name: "KB5005565", KB: "KB5005565", Title: c.title, Vendor: "Microsoft Corporation", OS: c.os}); s.Package == nil || *s.Package != want {
				t.Errorf("package %+v, want %+v (from export.csv)", s.Package, want)
			}
			if o := got[other]; o == nil || o.ID != filepath.Base(other) || o.Description != "" || o.Package != nil {
				t.Errorf("an update export.csv does not name: %+v", o)
			}
		})
	}
}

// TestWIMDescription: a WIM's source names its images, from its XML.
func TestWIMDescription(t *testing.T) {
	needTool(t, "wimlib-imagex")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "notepad.exe"), []byte("MZ not really\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(dir, "repo")
	os.MkdirAll(repo, 0o755)
	esd := filepath.Join(repo, "install.esd")
	for _, args := range [][]string{
		{"capture", tree, esd, "Windows 10 Home", "--solid", "--flags=Core"},
		{"append", tree, esd, "Windows 10 Pro", "--flags=Professional"},
	} {
		if out, err := exec.Command("wimlib-imagex", args...).CombinedOutput(); err != nil {
			t.Fatalf("wimlib-imagex %v: %v\n%s", args, err, out)
		}
	}
	res := scan(t, "--repo", "windows", repo)
	s := res.byURI()[esd]
	if s == nil {
		t.Fatalf("no source: %s", res.stderr)
	}
	if want := "1: Windows 10 Home (Core); 2: Windows 10 Pro (Professional)"; s.Description != want || s.Format != "wim" || s.Repo != "windows" {
		t.Errorf("description %q (want %q), format %q, repo %q", s.Description, want, s.Format, s.Repo)
	}
}
