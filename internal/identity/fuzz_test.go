package identity

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
	"github.com/hashr-dev/hashr/pkg/records"
)

// checkBounded fails on a package whose fields a record could not carry
// as they are: invalid UTF-8, longer than maxField, or nameless.
func checkBounded(t *testing.T, p *records.Package) {
	if p == nil {
		return
	}
	if p.Name == "" {
		t.Errorf("a package without a name: %+v", p)
	}
	for _, f := range []string{p.Name, p.Version, p.Arch, p.Vendor, p.Edition, p.KB, p.Digest, p.Title} {
		if len(f) > maxField || !utf8.ValidString(f) {
			t.Errorf("field %q: over %d bytes or not UTF-8", f, maxField)
		}
	}
}

// FuzzDeb: any bytes give a bounded package or an error, never a panic.
func FuzzDeb(f *testing.F) {
	archivetest.Seeds(f, 32<<10, "hello-gzip.deb", "hello-zstd.deb", "hello-none.deb", "hello-xz.deb")
	f.Add(handmadeDeb(f, []byte("Package: x\nVersion: 1\nDescription: y\n z\n")))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _ := Deb(bytes.NewReader(data))
		checkBounded(t, p)
	})
}

// FuzzRPM: any bytes give a bounded package or an error, never a panic.
func FuzzRPM(f *testing.F) {
	archivetest.Seeds(f, 32<<10, "hello-gzip.rpm", "hello-xz.rpm")
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _ := RPM(bytes.NewReader(data))
		checkBounded(t, p)
	})
}

// FuzzControlFields: any control file text gives a bounded package or an
// error.
func FuzzControlFields(f *testing.F) {
	f.Add([]byte("Package: x\nVersion: 1\nMaintainer: M \xff\nDescription: y\n z\n"))
	f.Fuzz(func(t *testing.T, control []byte) {
		p, _ := Deb(bytes.NewReader(handmadeDeb(t, control)))
		checkBounded(t, p)
	})
}
