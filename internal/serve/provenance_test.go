package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/hashr-dev/hashr/internal/db"
	"github.com/hashr-dev/hashr/pkg/records"
)

// loadSources loads one file, data at path, found in each of the named
// sources, with the package and verified given (nil: none).
func loadSources(t *testing.T, url, path, data string, sources map[string]*records.Source) {
	t.Helper()
	loc, err := db.ParseLocation(url)
	if err != nil {
		t.Fatal(err)
	}
	l, err := db.Open(context.Background(), loc, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d := digests(data)
	sum := func(h string) []byte { b, _ := hex.DecodeString(h); return b }
	var batch []*db.Source
	for id, rec := range sources {
		rows := db.NewFileRows(100, func() (string, error) { return t.TempDir(), nil })
		t.Cleanup(func() { rows.Close() })
		if err := rows.Add(db.File{SHA256: sum(d["sha256"]), SHA1: sum(d["sha1"]), MD5: sum(d["md5"]), Size: int64(len(data)), Path: path}); err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256([]byte(id))
		batch = append(batch, &db.Source{SHA256: s[:], ID: id, Repo: "deb", Format: "deb", Files: rows,
			Package: rec.Package, Verified: rec.Verified, Job: db.Job{Status: db.StatusDone, FilesExtracted: 1, FilesLoaded: 1}})
	}
	if _, err := l.Load(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}

// A parent's ProductCode is its package's name and version where it has
// a package, its file name read as Debian's otherwise; hashr:sources
// carry each source's package and verified.
func TestLookupCarriesPackageAndVerified(t *testing.T) {
	for name, url := range backends(t) {
		t.Run(name, func(t *testing.T) {
			verified := &records.Verified{OK: true, By: "apt-release", Signer: "B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8", Detail: "in bookworm/main"}
			loadSources(t, url, "bin/bash", "bash's bytes", map[string]*records.Source{
				// A file name that says otherwise: the package wins.
				"renamed.deb":             {Package: &records.Package{Name: "bash", Version: "5.2.15-2+b2", Arch: "amd64"}, Verified: verified},
				"dash_0.5.12-2_amd64.deb": {},
			})
			_, ts := newTestServer(t, url, nil, nil)
			code, body := get(t, ts, "/lookup/sha256/"+digests("bash's bytes")["sha256"])
			if code != http.StatusOK {
				t.Fatalf("lookup: %d %s", code, body)
			}
			var rec lookupRecord
			if err := json.Unmarshal([]byte(body), &rec); err != nil {
				t.Fatal(err)
			}
			products := map[string]productCode{}
			for _, p := range rec.Parents {
				products[p.FileName] = p.ProductCode
			}
			if got := products["renamed.deb"]; got != (productCode{"bash", "5.2.15-2+b2"}) {
				t.Errorf("ProductCode of the packaged source: %+v, want bash 5.2.15-2+b2", got)
			}
			if got := products["dash_0.5.12-2_amd64.deb"]; got != (productCode{"dash", "0.5.12-2"}) {
				t.Errorf("ProductCode of the source without a package: %+v, want dash 0.5.12-2 from its name", got)
			}
			for _, s := range rec.Sources {
				switch s.IDs[0] {
				case "renamed.deb":
					if s.Verified == nil || *s.Verified != *verified || s.Package == nil || s.Package.Arch != "amd64" {
						t.Errorf("hashr:sources of renamed.deb: verified %+v, package %+v", s.Verified, s.Package)
					}
				default:
					if s.Verified != nil || s.Package != nil {
						t.Errorf("hashr:sources of %s: verified %+v, package %+v, want none", s.IDs[0], s.Verified, s.Package)
					}
				}
			}
		})
	}
}
