package load

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/db/dbtest"
)

// A source record's package (its os too) and verified reach its sources
// row, a NUL in them too (as U+FFFD, which PostgreSQL's text and jsonb take, as for
// every other text field).
func TestLoadKeepsPackageAndVerified(t *testing.T) {
	_, bs := backends(t)
	for _, b := range bs {
		t.Run(b.name, func(t *testing.T) {
			data := sha256.Sum256([]byte("bash's bytes"))
			src := sha256.Sum256([]byte("bash.deb"))
			s, d := hex.EncodeToString(src[:]), hex.EncodeToString(data[:])
			stream := `{"type":"source","id":"bash.deb","sha256":"` + s + `",` +
				`"package":{"name":"bash","version":"5.2\u0000","arch":"amd64","os":"Debian 12\u0000"},` +
				`"verified":{"ok":true,"by":"apt-release","signer":"B8B8","detail":"in bookworm\u0000/main"}}
{"type":"file","source":"` + s + `","path":"bin/bash","sha256":"` + d + `","size":12}
{"type":"end","source":"` + s + `","files":1,"errors":0,"bytes":12}
`
			if status, _, stderr := runLoad(t, []byte(stream), "--quiet", "--db", b.url); status != 0 {
				t.Fatalf("exit %d: %s", status, stderr)
			}
			dump := strings.Join(dbtest.Dump(t, b.url)["sources"], "\n")
			for _, want := range []string{"verified_ok=", "verified_by=apt-release", "verified_signer=B8B8", "verified_detail=in bookworm\uFFFD/main"} {
				if !strings.Contains(dump, want) {
					t.Errorf("sources lacks %q:\n%s", want, dump)
				}
			}
			// The package column is JSON text in SQLite, jsonb (dumped in
			// hex) in PostgreSQL.
			if os := "Debian 12\uFFFD"; !strings.Contains(dump, os) && !strings.Contains(dump, hex.EncodeToString([]byte(os))) {
				t.Errorf("sources lacks the package's os %q:\n%s", os, dump)
			}
			if got := dbtest.Count(t, b.url, "SELECT count(*) FROM sources_hex WHERE verified_ok AND package IS NOT NULL"); got != 1 {
				t.Errorf("%d verified sources with a package, want 1:\n%s", got, dump)
			}
		})
	}
}

// A refused source that has no sha256 (a remote one hashr-scan did not
// read) has its job recorded failed with the refusal's reason, and no
// other error: it never had files to load, so it needs no sha256.
func TestLoadRefusedSourceWithoutSHA256(t *testing.T) {
	_, bs := backends(t)
	for _, b := range bs {
		t.Run(b.name, func(t *testing.T) {
			quick := sha256.Sum256([]byte("remote.tar"))
			q := hex.EncodeToString(quick[:])
			uri := "https://example.invalid/remote.tar"
			stream := `{"type":"source","id":"remote.tar","uri":"` + uri + `","quick_sha256":"` + q + `",` +
				`"verified":{"ok":false,"by":"none","detail":"--verify require: tar is not verified"},"refused":true}
{"type":"error","stage":"scan","source":"` + uri + `","id":"remote.tar","uri":"` + uri + `","message":"--verify require: tar is not verified"}
{"type":"end","source":"` + uri + `","files":0,"errors":1,"bytes":0}
`
			status, stdout, stderr := runLoad(t, []byte(stream), "--quiet", "--db", b.url)
			if status != 0 && status != 3 {
				t.Fatalf("exit %d: %s", status, stderr)
			}
			if n := strings.Count(stdout, `"type":"error"`); n != 1 || strings.Contains(stderr, "sha256") {
				t.Errorf("%d error records, want the refusal's alone:\n%s\n%s", n, stdout, stderr)
			}
			if got := dbtest.Count(t, b.url, "SELECT count(*) FROM jobs_hex WHERE quick_sha256 = '"+q+"' AND status = 'failed' AND error LIKE '%--verify require%' AND errors = 1"); got != 1 {
				t.Errorf("no failed job for the refused source:\n%v", dbtest.Dump(t, b.url)["jobs"])
			}
		})
	}
}
