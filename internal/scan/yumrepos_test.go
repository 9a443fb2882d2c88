package scan

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashr-dev/hashr/internal/magic"
	"github.com/hashr-dev/hashr/internal/verify"
	"github.com/hashr-dev/hashr/internal/verify/verifytest"
	"github.com/hashr-dev/hashr/pkg/records"
)

// countingFS counts the opens of each file of an fs.FS.
type countingFS struct {
	fs.FS
	mu    sync.Mutex
	opens map[string]int
}

func (c *countingFS) Open(name string) (fs.File, error) {
	c.mu.Lock()
	c.opens[name]++
	c.mu.Unlock()
	return c.FS.Open(name)
}

// A signed yum repository's repomd.xml and primary.xml are each read
// once, however many rpms it lists, for verifying them and naming them
// alike.
func TestYumRepositoryReadOnce(t *testing.T) {
	repo := verifytest.BuildYumRepo(t, "xz")
	keys, err := verify.LoadKeyrings([]string{repo.Key.Keyring})
	if err != nil {
		t.Fatal(err)
	}
	y := newYumRepos(keys)
	var counted []*countingFS
	y.fsOf = func(dir string) fs.FS {
		c := &countingFS{FS: os.DirFS(dir), opens: map[string]int{}}
		counted = append(counted, c)
		return c
	}
	for _, name := range []string{"alpha", "beta"} {
		uri := filepath.Join(repo.Root, "Packages", name+"-1.0-1.noarch.rpm")
		info, err := os.Stat(uri)
		if err != nil {
			t.Fatal(err)
		}
		src := &records.Source{Format: magic.RPM, RepoPath: repo.Root, URI: uri, Size: records.Int64(info.Size())}
		res, err := y.check(src)
		if err != nil || res == nil || !res.OK || src.SHA256 == "" {
			t.Fatalf("%s: verified %+v, %v", name, res, err)
		}
		if err := y.name(src); err != nil || src.Package == nil || src.Package.Name != name {
			t.Fatalf("%s: package %+v, %v", name, src.Package, err)
		}
	}
	if len(counted) != 1 {
		t.Fatalf("the repository was opened %d times, want once", len(counted))
	}
	for file, n := range counted[0].opens {
		if n != 1 {
			t.Errorf("%s read %d times, want once", file, n)
		}
	}
	var primary bool
	for file := range counted[0].opens {
		primary = primary || strings.Contains(file, "primary.xml")
	}
	if !primary {
		t.Errorf("primary.xml not read through the repository's fs.FS: %v", counted[0].opens)
	}
}
