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
