package db

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/db/dbtest"
	"github.com/hashr-dev/hashr/pkg/records"
)

var (
	bashPkg     = &records.Package{Name: "bash", Version: "5.2.15-2+b2", Arch: "amd64", Vendor: "Matthias Klose <doko@debian.org>"}
	aptVerified = &records.Verified{OK: true, By: "apt-release", Signer: "B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8",
		Detail: "bash 5.2.15-2+b2 (amd64) in bookworm/main"}
	unsigned = &records.Verified{OK: false, By: "none", Detail: "a lone .deb: no index signs it"}
)

// provenanceOf says what a reader reports of each source, by ID:
// "ID: package NAME VERSION, verified BY SIGNER" from Sources, and the
// same from a lookup of the given sample by each digest.
func provenanceOf(t *testing.T, r *Reader, f Filter, sample File) []string {
	t.Helper()
	show := func(id string, p *records.Package, v *records.Verified) string {
		s := id + ":"
		if p != nil {
			s += fmt.Sprintf(" package %s %s %s", p.Name, p.Version, p.Arch)
		}
		if v != nil {
			s += fmt.Sprintf(" verified %v %s %s", v.OK, v.By, v.Signer)
		}
		return s
	}
	var out []string
	if err := r.Sources(context.Background(), f, func(s *SourceInfo) error {
		out = append(out, "sources "+show(strings.Join(s.IDs, ","), s.Package, s.Verified))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for by, key := range map[string][]byte{BySHA256: sample.SHA256, ByMD5: sample.MD5, BySHA1: sample.SHA1} {
		found, err := r.Lookup(context.Background(), by, [][]byte{key})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range found[string(key)] {
			for _, l := range s.Links {
				out = append(out, "lookup "+by+" "+show(strings.Join(l.IDs, ","), l.Package, l.Verified))
			}
		}
	}
	slices.Sort(out)
	return out
}

// A source's package and verified reach the database and every reader;
// loaded again, the last package brought wins, a load without them keeps
// them, and a verification that held is kept over a later load that
// found nothing signing the same bytes.
func TestProvenanceIsLoadedAndKeptAcrossLoads(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			l := open(t, b.url, Options{})
			shared := content("bin/bash", "bash's bytes")
			signed := source(t, "bash_5.2.15-2+b2_amd64.deb", shared)
			signed.Package, signed.Verified = bashPkg, aptVerified
			plain := source(t, "plain.tar", shared)
			load(t, l, signed, plain)
			var want []string
			for _, reader := range []string{"lookup md5", "lookup sha1", "lookup sha256", "sources"} {
				want = append(want,
					reader+" bash_5.2.15-2+b2_amd64.deb: package bash 5.2.15-2+b2 amd64 verified true apt-release B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8",
					reader+" plain.tar:")
			}
			if got := provenanceOf(t, openReader(t, b.url), Filter{}, shared); !slices.Equal(got, want) {
				t.Fatalf("after the first load:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			loaded := dbtest.Dump(t, b.url)

			// The same bytes again: as a lone file nothing signs (twice in
			// one batch, then alone), and with --verify off.
			lone := source(t, "bash_5.2.15-2+b2_amd64.deb", shared)
			lone.Verified = unsigned
			unchecked := source(t, "bash_5.2.15-2+b2_amd64.deb", shared)
			load(t, l, lone, unchecked)
			load(t, l, lone)
			if diff := dbtest.Diff(loaded, dbtest.Dump(t, b.url)); diff != "" {
				t.Fatalf("loading the verified source unverified changed the database:\n%s", diff)
			}

			// A package brought later wins; an unverified source that
			// verifies takes its verification, and a batch that holds a
			// source unverified then verified keeps the verified one.
			renamed := *bashPkg
			renamed.Title = "GNU Bourne Again SHell"
			again := source(t, "bash_5.2.15-2+b2_amd64.deb", shared)
			again.Package = &renamed
			plainLone, plainSigned := source(t, "plain.tar", shared), source(t, "plain.tar", shared)
			plainLone.Verified = unsigned
			plainSigned.Package, plainSigned.Verified = &records.Package{Name: "plain", Version: "1"}, aptVerified
			load(t, l, again, plainSigned, plainLone)
			titles, verified := titlesAndVerified(t, openReader(t, b.url))
			if titles != "bash_5.2.15-2+b2_amd64.deb=GNU Bourne Again SHell plain.tar=" {
				t.Errorf("package titles after the reload: %s", titles)
			}
			if verified != "bash_5.2.15-2+b2_amd64.deb=true/apt-release plain.tar=true/apt-release" {
				t.Errorf("verified after the reload: %s", verified)
			}
			if got := dbtest.Count(t, b.url, "SELECT count(*) FROM sources_hex WHERE verified_by = 'apt-release' AND package IS NOT NULL"); got != 2 {
				t.Errorf("sources_hex: %d verified sources with a package, want 2", got)
			}
		})
	}
}

// titlesAndVerified lists each source's package title and verified, as
// "ID=TITLE" and "ID=OK/BY", sorted.
func titlesAndVerified(t *testing.T, r *Reader) (titles, verified string) {
	t.Helper()
	var ts, vs []string
	if err := r.Sources(context.Background(), Filter{}, func(s *SourceInfo) error {
		ts = append(ts, s.IDs[0]+"="+s.Package.Title)
		vs = append(vs, fmt.Sprintf("%s=%v/%s", s.IDs[0], s.Verified.OK, s.Verified.By))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(ts)
	slices.Sort(vs)
	return strings.Join(ts, " "), strings.Join(vs, " ")
}

// --verified-only reads the samples that a verified source vouches for,
// with their paths there alone: a verified source whose job failed
// vouches for nothing, as ever.
func TestVerifiedOnlyReadsWhatVerifiedSourcesVouchFor(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			l := open(t, b.url, Options{})
			both, onlySigned, onlyPlain := content("usr/both", "in both"), content("usr/signed", "signed only"), content("usr/plain", "plain only")
			inFailed := content("usr/failed", "in the failed verified source")
			signed := source(t, "signed.deb", both, onlySigned)
			signed.Verified = aptVerified
			plain := source(t, "plain.deb", both, onlyPlain)
			plain.Verified = unsigned
			unchecked := source(t, "unchecked.deb", onlyPlain)
			failed := source(t, "failed.deb", inFailed)
			failed.Verified, failed.Job.Status = aptVerified, StatusFailed
			load(t, l, signed, plain, unchecked, failed)

			r := openReader(t, b.url)
			f := Filter{VerifiedOnly: true}
			if n, err := r.CountSamples(context.Background(), f); err != nil || n != 2 {
				t.Errorf("CountSamples: %d (%v), want 2 (usr/both and usr/signed)", n, err)
			}
			var read []string
			if err := r.Samples(context.Background(), f, true, func(s *SampleLinks) error {
				for _, l := range s.Links {
					read = append(read, strings.Join(l.IDs, ",")+":"+strings.Join(l.Paths, ","))
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			slices.Sort(read)
			if got := strings.Join(read, " "); got != "signed.deb:usr/both signed.deb:usr/signed" {
				t.Errorf("Samples read %s, want usr/both and usr/signed of signed.deb alone", got)
			}
			var sources []string
			if err := r.Sources(context.Background(), f, func(s *SourceInfo) error {
				sources = append(sources, hex.EncodeToString(s.SHA256[:2])+" "+s.IDs[0])
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(sources) != 1 || !strings.HasSuffix(sources[0], "signed.deb") {
				t.Errorf("Sources: %v, want signed.deb alone", sources)
			}
			f.IncludeFailed = true
			if n, err := r.CountSamples(context.Background(), f); err != nil || n != 3 {
				t.Errorf("CountSamples with IncludeFailed: %d (%v), want 3 (failed.deb's too)", n, err)
			}
		})
	}
}

// A database at schema version 3 takes migration 4 with its sources as
// they were (no package, never verified), and a load then gives them
// theirs.
func TestMigrationToProvenanceKeepsSources(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			sqldb := dbtest.Open(t, b.url)
			stmts := []string{createMigrationsTable, `INSERT INTO hashr_schema_migrations VALUES (1, 'then'), (2, 'then'), (3, 'then')`}
			for _, m := range nativeMigrations[:3] {
				if b.name == "sqlite" {
					stmts = append(stmts, m.sqlite...)
				} else {
					stmts = append(stmts, m.postgres...)
				}
			}
			old := source(t, "old.deb")
			stmts = append(stmts, `INSERT INTO sources (sha256, ids, status) VALUES (X'`+hex.EncodeToString(old.SHA256)+`', '["old.deb"]', 'done')`)
			for _, s := range stmts {
				if b.name != "sqlite" {
					s = strings.NewReplacer(`X'`, `'\x`, `'["old.deb"]'`, `'{old.deb}'`).Replace(s)
				}
				if _, err := sqldb.Exec(s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			// A reader cannot migrate: it says what to run, where it
			// failed on a column the older schema lacks.
			loc, err := ParseLocation(b.url)
			if err != nil {
				t.Fatal(err)
			}
			if r, err := OpenReader(context.Background(), loc); err == nil || !strings.Contains(err.Error(), "older than this hashr's") || !strings.Contains(err.Error(), "hashr-load") {
				if r != nil {
					r.Close()
				}
				t.Fatalf("a reader of a version 3 database: %v, want an error saying to migrate it with hashr-load", err)
			}
			l := open(t, b.url, Options{})
			if got := dbtest.Count(t, b.url, "SELECT count(*) FROM sources_hex WHERE ids IS NOT NULL AND package IS NULL AND verified_ok IS NULL"); got != 1 {
				t.Fatalf("%d sources kept without package and verified, want 1", got)
			}
			old.Package, old.Verified = bashPkg, aptVerified
			load(t, l, old)
			if got := dbtest.Count(t, b.url, "SELECT count(*) FROM sources_hex WHERE verified_by = 'apt-release' AND package IS NOT NULL"); got != 1 {
				t.Fatalf("%d sources with the package and verified loaded, want 1", got)
			}
		})
	}
}
