package records

import (
	"errors"
	"strings"
	"testing"
)

// TestSourceLocalPath is the uri rule: an absolute path or a URL; a
// relative path only where a local file is read (LocalPath), never by
// Locate.
func TestSourceLocalPath(t *testing.T) {
	for _, tc := range []struct {
		src      Source
		want     string
		wantErr  string
		notLocal bool
	}{
		{src: Source{URI: "/srv/a.deb"}, want: "/srv/a.deb"},
		{src: Source{URI: "file:///srv/x/../a.deb"}, want: "/srv/a.deb"},
		{src: Source{URI: "file://localhost/srv/a.deb"}, want: "/srv/a.deb"},
		{src: Source{URI: "https://example.org/a.deb", Local: "/work/a.deb"}, want: "/work/a.deb"},
		{src: Source{Local: "/work/a.deb"}, want: "/work/a.deb"},
		{src: Source{URI: "https://example.org/a.deb"}, wantErr: "run hashr-fetch", notLocal: true},
		{src: Source{URI: "S3://bucket/a.deb"}, wantErr: "run hashr-fetch", notLocal: true},
		{src: Source{URI: "relative/a.deb"}, want: "relative/a.deb"},
		{src: Source{URI: "file://otherhost/etc/passwd"}, wantErr: `names host "otherhost"`},
		{src: Source{}, wantErr: "neither uri nor local"},
	} {
		got, err := tc.src.LocalPath()
		if tc.wantErr == "" {
			if err != nil || got != tc.want {
				t.Errorf("%+v: LocalPath() = %q, %v; want %q", tc.src, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.Is(err, ErrNotLocal) != tc.notLocal {
			t.Errorf("%+v: LocalPath() = %q, %v; want an error saying %q (ErrNotLocal: %v)", tc.src, got, err, tc.wantErr, tc.notLocal)
		}
	}
}

func TestLocateRefusesARelativePath(t *testing.T) {
	if loc, err := Locate("relative/a.deb"); err == nil || !strings.Contains(err.Error(), "neither an absolute path nor a URL") {
		t.Fatalf("Locate = %v, %v; want an error", loc, err)
	}
}

func TestLocateLowersTheScheme(t *testing.T) {
	loc, err := Locate("FTP://bucket/Upper")
	if err != nil || loc.Scheme != "ftp" || loc.Path != "/Upper" {
		t.Fatalf("Locate = %v, %v; want scheme ftp, path /Upper", loc, err)
	}
}
