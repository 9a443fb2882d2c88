package db

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/db/dbtest"
	"github.com/hashr-dev/hashr/internal/db/pgtest"
)

// layout describes a database's tables as the catalog sees them: every
// column with its type, length, nullability and default, and every
// constraint with its columns and target.
func layout(t *testing.T, sqldb *sql.DB) []string {
	t.Helper()
	var out []string
	rows, err := sqldb.Query(`SELECT table_name, ordinal_position, column_name, data_type,
			coalesce(character_maximum_length, -1), is_nullable, coalesce(column_default, '')
		FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var table, col, typ, nullable, def string
		var pos, length int
		if err := rows.Scan(&table, &pos, &col, &typ, &length, &nullable, &def); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("column %s.%d %s %s(%d) nullable=%s default=%q", table, pos, col, typ, length, nullable, def))
	}
	rows.Close()
	rows, err = sqldb.Query(`SELECT conrelid::regclass::text, contype, pg_get_constraintdef(oid)
		FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2, 3`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var table, typ, def string
		if err := rows.Scan(&table, &typ, &def); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("constraint %s %s %s", table, typ, def))
	}
	rows.Close()
	return out
}

// --schema hashr creates exactly the tables HashR creates (the DDL quoted
// from HashR's sources in testdata), and fills a database HashR created so
// that HashR's own queries find what was loaded.
func TestHashRSchemaMatchesHashR(t *testing.T) {
	pg := pgtest.Start(t)
	ddl, err := os.ReadFile("testdata/hashr_postgres_ddl.sql")
	if err != nil {
		t.Fatal(err)
	}
	hashrMade := pg.NewDatabase(t)
	if _, err := dbtest.Open(t, hashrMade).Exec(string(ddl)); err != nil {
		t.Fatalf("running HashR's DDL: %v", err)
	}
	oursMade := pg.NewDatabase(t)
	open(t, oursMade, Options{Schema: SchemaHashR})
	want, got := layout(t, dbtest.Open(t, hashrMade)), layout(t, dbtest.Open(t, oursMade))
	if len(want) < 25 {
		t.Fatalf("HashR's layout has only %d lines:\n%s", len(want), strings.Join(want, "\n"))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("--schema hashr layout differs from HashR's:\nours:\n%s\nHashR's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Loading into the database HashR created.
	l := open(t, hashrMade, Options{Schema: SchemaHashR, Payloads: true, PayloadMax: 1 << 20})
	a := source(t, "a.deb", content("usr/bin/a", "A"), content("usr/share/doc/a", "A"), content("usr/lib/x", "X"))
	failed := source(t, "f.deb", content("f", "F"))
	failed.Job.Status, failed.Job.Error = StatusFailed, "extract: f: truncated"
	load(t, l, a, failed)
	again := source(t, "a.deb", content("usr/bin/a", "A"))
	again.ID = "a-copy.deb"
	before := dbtest.Dump(t, hashrMade)
	load(t, l, source(t, "a.deb", content("usr/bin/a", "A"), content("usr/share/doc/a", "A"), content("usr/lib/x", "X")))
	if d := dbtest.Diff(before, dbtest.Dump(t, hashrMade)); d != "" {
		t.Fatalf("loading twice changed HashR's tables:\n%s", d)
	}
	load(t, l, again)

	sqldb := dbtest.Open(t, hashrMade)
	aHex, srcHex := hex.EncodeToString(content("", "A").SHA256), hex.EncodeToString(a.SHA256)
	// HashR's exporter: sampleExists, relationshipExists, sourceExists.
	var s1, s2 string
	if err := sqldb.QueryRow(`SELECT sha256 FROM samples WHERE sha256=$1;`, aHex).Scan(&s1); err != nil {
		t.Fatalf("HashR's sample lookup: %v", err)
	}
	if err := sqldb.QueryRow(`SELECT sample_sha256,source_sha256 FROM samples_sources WHERE sample_sha256=$1 AND source_sha256=$2;`, aHex, srcHex).Scan(&s1, &s2); err != nil {
		t.Fatalf("HashR's relationship lookup: %v", err)
	}
	var ids, paths string
	var size int
	var mime string
	if err := sqldb.QueryRow(`SELECT array_to_string(s.sourceID, ','), array_to_string(r.sample_paths, ','), m.size, m.mimetype
		FROM sources s JOIN samples_sources r ON r.source_sha256 = s.sha256 JOIN samples m ON m.sha256 = r.sample_sha256
		WHERE s.sha256 = $1 AND m.sha256 = $2`, srcHex, aHex).Scan(&ids, &paths, &size, &mime); err != nil {
		t.Fatal(err)
	}
	if ids != "a-copy.deb,a.deb" || paths != "usr/bin/a,usr/share/doc/a" || size != 1 || mime != "text/plain" {
		t.Fatalf("sourceID %s, sample_paths %s, size %d, mimetype %s", ids, paths, size, mime)
	}
	// HashR's storage: FetchJobs, and its statuses.
	statuses := map[string]string{}
	rows, err := sqldb.Query("SELECT quick_sha256, status FROM jobs")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var q, st string
		rows.Scan(&q, &st)
		statuses[q] = st
	}
	rows.Close()
	want2 := map[string]string{hex.EncodeToString(a.QuickSHA256): "exported", hex.EncodeToString(failed.QuickSHA256): "failed"}
	if !reflect.DeepEqual(statuses, want2) {
		t.Fatalf("jobs %v, want %v", statuses, want2)
	}
	done, err := DoneJobs(context.Background(), hashrMade)
	if err != nil || !reflect.DeepEqual(done, map[string]bool{hex.EncodeToString(a.QuickSHA256): true}) {
		t.Fatalf("DoneJobs on HashR's database: %v, %v", done, err)
	}
	if got := dbtest.Count(t, hashrMade, "SELECT count(*) FROM payloads"); got != 0 {
		t.Fatalf("%d payloads: files without local bytes have none", got)
	}

	// The layouts are not mixed up.
	loc, _ := ParseLocation(hashrMade)
	if _, err := Open(context.Background(), loc, Options{RetryFor: time.Second}); err == nil || !strings.Contains(err.Error(), "--schema hashr") {
		t.Fatalf("native load into HashR's database: %v", err)
	}
	native := pg.NewDatabase(t)
	open(t, native, Options{})
	loc, _ = ParseLocation(native)
	if _, err := Open(context.Background(), loc, Options{Schema: SchemaHashR, RetryFor: time.Second}); err == nil || !strings.Contains(err.Error(), "native") {
		t.Fatalf("--schema hashr into a native database: %v", err)
	}
}
