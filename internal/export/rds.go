package export

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/hashr-dev/hashr/internal/cli"
	"github.com/hashr-dev/hashr/internal/db"
)

// The nsrl-rds database: tables shaped like RDSv3's, and the four views
// FILE, PKG, OS and MFG that NSRL users query (the RDS 2.x files'
// successors). Digests are uppercase hex text, as NSRL publishes them,
// with NOCASE so that lowercase queries match too. The indexes are built
// after the rows are in, which is several times faster than keeping them
// up to date row by row.
//
// How each package was verified is in PACKAGE_OBJECT's last columns
// (verified_ok 1 or 0, NULL when it was never checked; verified_by,
// verified_signer, verified_detail as in the source record), beside
// hashr's source_sha256, source_id, repo and uri: the PKG view keeps
// RDSv3's seven columns, so a reader that takes them by position reads
// what it always did, and a query joins PKG to PACKAGE_OBJECT by
// package_id for the rest.
var rdsSchema = []string{
	`CREATE TABLE VERSION (version TEXT NOT NULL, build_set TEXT NOT NULL, build_date TEXT NOT NULL,
		release_date TEXT NOT NULL, description TEXT NOT NULL)`,
	`CREATE TABLE MANUFACTURER (manufacturer_id INTEGER PRIMARY KEY, name TEXT NOT NULL)`,
	`CREATE TABLE OPERATING_SYSTEM (operating_system_id INTEGER PRIMARY KEY, name TEXT NOT NULL,
		version TEXT NOT NULL, manufacturer_id INTEGER NOT NULL)`,
	`CREATE TABLE PACKAGE_OBJECT (package_id INTEGER PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL,
		operating_system_id INTEGER NOT NULL, manufacturer_id INTEGER NOT NULL, language TEXT NOT NULL,
		application_type TEXT NOT NULL,
		source_sha256 TEXT NOT NULL COLLATE NOCASE, source_id TEXT NOT NULL, repo TEXT NOT NULL, uri TEXT NOT NULL,
		verified_ok INTEGER, verified_by TEXT, verified_signer TEXT, verified_detail TEXT)`,
	`CREATE TABLE METADATA (package_id INTEGER NOT NULL, file_path TEXT NOT NULL, file_name TEXT NOT NULL,
		extension TEXT NOT NULL, file_size INTEGER, mime TEXT NOT NULL,
		crc32 TEXT NOT NULL COLLATE NOCASE, md5 TEXT NOT NULL COLLATE NOCASE,
		sha1 TEXT NOT NULL COLLATE NOCASE, sha256 TEXT NOT NULL COLLATE NOCASE)`,
	`CREATE VIEW FILE AS SELECT sha256, sha1, md5, crc32, file_name, file_size, package_id FROM METADATA`,
	`CREATE VIEW PKG AS SELECT package_id, name, version, operating_system_id, manufacturer_id, language,
		application_type FROM PACKAGE_OBJECT`,
	`CREATE VIEW OS AS SELECT operating_system_id, name, version, manufacturer_id FROM OPERATING_SYSTEM`,
	`CREATE VIEW MFG AS SELECT manufacturer_id, name FROM MANUFACTURER`,
}

var rdsIndexes = []string{
	`CREATE INDEX METADATA_sha256 ON METADATA (sha256)`,
	`CREATE INDEX METADATA_sha1 ON METADATA (sha1)`,
	`CREATE INDEX METADATA_md5 ON METADATA (md5)`,
	`CREATE INDEX METADATA_package ON METADATA (package_id)`,
	`CREATE INDEX PACKAGE_OBJECT_source ON PACKAGE_OBJECT (source_sha256)`,
}

func writeRDS(ctx context.Context, p *cli.Program, r *db.Reader, o *options, out *output) (counts, error) {
	var c counts
	file, cleanup, err := out.tempPath()
	if err != nil {
		return c, err
	}
	defer cleanup()
	// The file is new and only becomes the output when complete, so
	// SQLite's journal would protect nothing.
	os.Remove(file)
	rds, err := sql.Open("sqlite", file+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=cache_size(-65536)")
	if err != nil {
		return c, fmt.Errorf("creating the RDS database: %w", err)
	}
	defer rds.Close()
	rds.SetMaxOpenConns(1)
	if c, err = fillRDS(ctx, r, o, rds); err != nil {
		return c, fmt.Errorf("writing the RDS database: %w", err)
	}
	if err := rds.Close(); err != nil {
		return c, fmt.Errorf("writing the RDS database: %w", err)
	}
	if out.file == nil { // to stdout: copy the finished file
		f, err := os.Open(file)
		if err != nil {
			return c, err
		}
		defer f.Close()
		if _, err := io.Copy(out.Writer, f); err != nil {
			return c, fmt.Errorf("writing %s: %w", out.name, err)
		}
	}
	return c, nil
}

// fillRDS writes the hash set into an empty RDS database in one
// transaction: schema, version row, packages, files, then the indexes.
func fillRDS(ctx context.Context, r *db.Reader, o *options, rds *sql.DB) (counts, error) {
	var c counts
	tx, err := rds.BeginTx(ctx, nil)
	if err != nil {
		return c, err
	}
	defer tx.Rollback()
	if err := execAll(ctx, tx, rdsSchema); err != nil {
		return c, err
	}
	now := time.Now().UTC()
	if _, err := tx.ExecContext(ctx, `INSERT INTO VERSION VALUES (?, ?, ?, ?, ?)`,
		now.Format("2006.01.02"), "hashr", now.Format(time.RFC3339), now.Format(time.RFC3339),
		"hashr-export of "+r.Location().String()); err != nil {
		return c, err
	}
	if err := writeRDSPackages(ctx, r, o, tx); err != nil {
		return c, err
	}
	if c, err = writeRDSFiles(ctx, r, o, tx); err != nil {
		return c, err
	}
	if err := execAll(ctx, tx, rdsIndexes); err != nil {
		return c, err
	}
	if err := tx.Commit(); err != nil {
		return c, err
	}
	_, err = rds.ExecContext(ctx, `ANALYZE`)
	return c, err
}

func execAll(ctx context.Context, tx *sql.Tx, stmts []string) error {
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// writeRDSPackages writes the catalogue of the selected sources: a
// MANUFACTURER, OPERATING_SYSTEM and PACKAGE_OBJECT row for each of its
// manufacturers, operating systems and products.
func writeRDSPackages(ctx context.Context, r *db.Reader, o *options, tx *sql.Tx) error {
	cat, err := readCatalogue(ctx, r, o.filter)
	if err != nil {
		return err
	}
	for i, name := range cat.makers {
		if _, err := tx.ExecContext(ctx, `INSERT INTO MANUFACTURER VALUES (?, ?)`, i+1, name); err != nil {
			return err
		}
	}
	for _, os := range cat.systems {
		if _, err := tx.ExecContext(ctx, `INSERT INTO OPERATING_SYSTEM VALUES (?, ?, ?, ?)`, os.code, os.name, os.version, os.mfgCode); err != nil {
			return err
		}
	}
	pkg, err := tx.PrepareContext(ctx, `INSERT INTO PACKAGE_OBJECT VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	for _, p := range cat.products {
		s := p.src
		id := ""
		if len(s.IDs) > 0 {
			id = s.IDs[0]
		}
		var ok, by, signer, detail any
		if v := s.Verified; v != nil {
			ok, by, signer, detail = v.OK, v.By, v.Signer, v.Detail
		}
		if _, err := pkg.ExecContext(ctx, p.code, p.name, p.version, p.osCode, p.mfgCode, p.appType, upperHex(s.SHA256), id, s.Repo, s.URI,
			ok, by, signer, detail); err != nil {
			return err
		}
	}
	return nil
}

// sourcePackage is the name and version of a source's package: its
// package's own, from its metadata, when the source record had one; else
// read from its ID as a Debian or RPM file name (packageName), as for
// sources loaded before package existed or of kinds that have none.
func sourcePackage(s *db.SourceInfo, id string) (name, version string) {
	if p := s.Package; p != nil && p.Name != "" {
		return p.Name, p.Version
	}
	return packageName(id)
}

// writeRDSFiles writes a METADATA row per path of each sample.
func writeRDSFiles(ctx context.Context, r *db.Reader, o *options, tx *sql.Tx) (counts, error) {
	var c counts
	file, err := tx.PrepareContext(ctx, `INSERT INTO METADATA VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return c, err
	}
	err = r.Samples(ctx, o.filter, true, func(s *db.SampleLinks) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var size any
		if s.Size >= 0 {
			size = s.Size
		}
		sha256, sha1, md5, crc32 := upperHex(s.SHA256), upperHex(s.SHA1), upperHex(s.MD5), upperHex(s.CRC32)
		for _, l := range s.Links {
			for _, p := range l.Paths {
				name := path.Base(p)
				if _, err := file.ExecContext(ctx, l.Code, p, name, strings.TrimPrefix(path.Ext(name), "."), size, s.MIME,
					crc32, md5, sha1, sha256); err != nil {
					return err
				}
				c.lines++
			}
		}
		c.samples++
		return nil
	})
	return c, err
}

func upperHex(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

var (
	// name_version_arch.deb (also .udeb, .ddeb)
	debName = regexp.MustCompile(`^([^_/]+)_([^_/]+)_[^_/]+\.[ud]?deb$`)
	// name-version-release.arch.rpm
	rpmName = regexp.MustCompile(`^(.+)-([^-]+-[^-]+)\.[^.]+\.rpm$`)
)

// packageName splits a source ID that is a Debian or RPM file name into
// the package's name and version; any other ID is the name, with no
// version.
func packageName(id string) (name, version string) {
	if m := debName.FindStringSubmatch(id); m != nil {
		return m[1], m[2]
	}
	if m := rpmName.FindStringSubmatch(id); m != nil {
		return m[1], m[2]
	}
	return id, ""
}
