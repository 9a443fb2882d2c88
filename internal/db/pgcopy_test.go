package db

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/jackc/pgx/v5/pgtype"
)

// The OIDs pgx's CopyFrom finds for each COPY's columns (it asks the
// server with a described SELECT of them).
var (
	stagedOIDs = []uint32{pgtype.ByteaOID, pgtype.ByteaOID, pgtype.BoolOID, pgtype.ByteaOID, pgtype.ByteaOID,
		pgtype.ByteaOID, pgtype.ByteaOID, pgtype.ByteaOID, pgtype.TextOID, pgtype.TextOID, pgtype.Int8OID,
		pgtype.TextOID, pgtype.TextArrayOID, pgtype.TextOID, pgtype.BoolOID, pgtype.TextArrayOID}
	samplesOIDs = []uint32{pgtype.ByteaOID, pgtype.ByteaOID, pgtype.ByteaOID, pgtype.ByteaOID, pgtype.ByteaOID,
		pgtype.ByteaOID, pgtype.TextOID, pgtype.TextOID, pgtype.Int8OID, pgtype.TextOID}
	linksOIDs = []uint32{pgtype.ByteaOID, pgtype.ByteaOID, pgtype.TextArrayOID, pgtype.BoolOID}
)

// pgxCopy is what pgx's CopyFrom sends for rows of values: the signature,
// then each row as its field count and each value as its length (-1:
// NULL) and its binary form from pgx's type map (copy_from.go,
// encodeCopyValue), then the trailer (which pgx leaves out, as the
// format allows at the end of the data).
func pgxCopy(t testing.TB, rows [][]any, oids []uint32) []byte {
	m := pgtype.NewMap()
	buf := append([]byte(nil), "PGCOPY\n\377\r\n\000"...)
	buf = binary.BigEndian.AppendUint32(buf, 0)
	buf = binary.BigEndian.AppendUint32(buf, 0)
	for _, row := range rows {
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(row)))
		for i, v := range row {
			at := len(buf)
			buf = binary.BigEndian.AppendUint32(buf, 0xffffffff)
			value, err := m.Encode(oids[i], pgtype.BinaryFormatCode, v, buf)
			if err != nil {
				t.Fatalf("pgx encoding %#v as OID %d: %v", v, oids[i], err)
			}
			if value != nil {
				buf = value
				binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
			}
		}
	}
	return binary.BigEndian.AppendUint16(buf, 0xffff)
}

// The rows as the loader gave them to pgx before it encoded them itself:
// one []any each, NULLs as nil.
func stagedValues(r *linkRow) []any {
	row := []any{r.sha256, r.source, r.first, nil, nil, nil, nil, nil, nil, nil, nil, nil, r.paths, nil, r.failed, r.failedPaths}
	if s := r.sample; s != nil {
		row[3], row[4], row[5], row[6], row[7] = nullBytes(s.MD5), nullBytes(s.SHA1), nullBytes(s.SHA512), nullBytes(s.CRC32), nullBytes(s.BLAKE3)
		row[8], row[9], row[10], row[11], row[13] = nullText(s.SSDEEP), nullText(s.TLSH), nullSize(s.Size), nullText(s.MIME), nullText(s.Local)
	}
	return row
}

func sampleValues(r *linkRow) []any {
	v := stagedValues(r)
	return []any{v[0], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]}
}

func linkValues(r *linkRow) []any { return []any{r.sha256, r.source, r.paths, r.failed} }

// ours reads copyStream's whole output for rows, checking that it reads
// as an io.Reader should, whatever the sizes of the reads.
func ours(t testing.TB, rows []linkRow, encode func(r *linkRow, w *copyRow)) []byte {
	s := &copyStream{rows: len(rows), encode: func(w *copyRow, i int) { encode(&rows[i], w) }}
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if t, ok := t.(*testing.T); ok {
		again := &copyStream{rows: len(rows), encode: func(w *copyRow, i int) { encode(&rows[i], w) }}
		if err := iotest.TestReader(again, got); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

// checkAgainstPgx encodes rows for the three COPYs both ways and compares
// the bytes.
func checkAgainstPgx(t testing.TB, rows []linkRow) {
	t.Helper()
	var staged, samples, links [][]any
	var firsts []linkRow
	for i := range rows {
		staged, links = append(staged, stagedValues(&rows[i])), append(links, linkValues(&rows[i]))
		if rows[i].first {
			samples, firsts = append(samples, sampleValues(&rows[i])), append(firsts, rows[i])
		}
	}
	for _, c := range []struct {
		name   string
		rows   []linkRow
		values [][]any
		oids   []uint32
		encode func(r *linkRow, w *copyRow)
	}{
		{"hashr_stage_links", rows, staged, stagedOIDs, (*linkRow).encodeStaged},
		{"samples", firsts, samples, samplesOIDs, (*linkRow).encodeSample},
		{"samples_sources", rows, links, linksOIDs, (*linkRow).encodeLink},
	} {
		got, want := ours(t, c.rows, c.encode), pgxCopy(t, c.values, c.oids)
		if !bytes.Equal(got, want) {
			at := 0
			for at < min(len(got), len(want)) && got[at] == want[at] {
				at++
			}
			t.Fatalf("%s: %d rows: ours %d bytes, pgx's %d, first difference at byte %d:\nours %q\npgx  %q",
				c.name, len(c.rows), len(got), len(want), at, got[at:min(len(got), at+40)], want[at:min(len(want), at+40)])
		}
	}
}

// testFile is a file row whose optional columns are left out or kept by
// the bits of variant.
func testFile(content string, variant int, path string) File {
	sum := sha256.Sum256([]byte(content))
	f := File{SHA256: sum[:], Size: -1, Path: path}
	if variant&1 != 0 {
		f.MD5, f.SHA1 = sum[:16], sum[:20]
	}
	if variant&2 != 0 {
		f.SHA512, f.CRC32, f.BLAKE3 = append(sum[:], sum[:]...), sum[:4], sum[:]
	}
	if variant&4 != 0 {
		f.SSDEEP, f.TLSH, f.MIME = "3:abc:def", "T1"+strings.Repeat("A", 70), "application/x-sharedlib"
	}
	if variant&8 != 0 {
		f.Size = int64(variant) * 1000
	}
	if variant&16 != 0 {
		f.Size, f.Local = 0, "/spool/"+content
	}
	return f
}

// TestCopyEncodingIsPgxs: the loader's own COPY encoding of a batch's rows
// is byte for byte what pgx sent for them: NULLs (absent digests, empty
// text, unknown size), empty and long arrays, long values, shared samples
// (rows after a sample's first), failed members, a batch that spans many
// of copyStream's chunks, and none at all.
func TestCopyEncodingIsPgxs(t *testing.T) {
	var sources []*Source
	for i := range 40 {
		src := sha256.Sum256(fmt.Appendf(nil, "source %d", i))
		s := &Source{SHA256: src[:], Files: NewFileRows(1000, nil), FailedPaths: map[string]bool{}}
		for j := range 60 {
			content := fmt.Sprintf("unique %d/%d", i, j)
			if j%3 == 0 {
				content = fmt.Sprintf("shared %d", j%11)
			}
			path := fmt.Sprintf("usr/lib/p-%03d/file-%03d.so", i, j)
			if j == 7 {
				path = strings.Repeat("long/", 20_000) + "é" // over a chunk by itself
			}
			if j%13 == 0 {
				s.FailedPaths[path+".0"] = true
			}
			for k := range 1 + j%3 { // a content at several paths in one source
				if err := s.Files.Add(testFile(content, i+j, fmt.Sprintf("%s.%d", path, k))); err != nil {
					t.Fatal(err)
				}
			}
		}
		sources = append(sources, s)
	}
	sorted, ok, err := sortedFiles(sources)
	if err != nil || !ok {
		t.Fatal(err, ok)
	}
	for _, withLocal := range []bool{false, true} {
		rows := linkRows(sorted, withLocal)
		var shared, failed, emptyFailed bool
		for _, r := range rows {
			shared = shared || !r.first
			failed = failed || len(r.failedPaths) > 0
			emptyFailed = emptyFailed || len(r.failedPaths) == 0
		}
		if !shared || !failed || !emptyFailed {
			t.Fatalf("the batch lacks a case: rows after a sample's first %v, failed paths %v, none %v", shared, failed, emptyFailed)
		}
		checkAgainstPgx(t, rows)
	}
	checkAgainstPgx(t, nil)
}

// FuzzCopyEncoding checks the encoding of one sample in two sources
// against pgx's, whatever its columns hold.
func FuzzCopyEncoding(f *testing.F) {
	f.Add([]byte("md5"), []byte(nil), "ssdeep", "", int64(-1), "mime", "a/b", "", true, false)
	f.Add([]byte{}, []byte{0, 1}, "", "tlsh", int64(0), "", "", "\xff\x00", false, true)
	f.Add([]byte(nil), []byte("blake3"), "x", "y", int64(1)<<62, "m", strings.Repeat("p", 70_000), "q", true, true)
	f.Fuzz(func(t *testing.T, md5, blake3 []byte, ssdeep, tlsh string, size int64, mime, path1, path2 string, failed, twoPaths bool) {
		sum := sha256.Sum256(md5)
		sample := &File{SHA256: sum[:], MD5: md5, BLAKE3: blake3, SSDEEP: ssdeep, TLSH: tlsh, Size: size, MIME: mime, Local: path2}
		paths := []string{path1}
		if twoPaths {
			paths = append(paths, path2)
		}
		failedPaths := noPaths
		if failed {
			failedPaths = paths[:1]
		}
		rows := []linkRow{
			{sha256: sum[:], source: []byte("source a"), first: true, failed: failed, paths: paths, failedPaths: failedPaths, sample: sample},
			{sha256: sum[:], source: []byte("source b"), paths: paths[len(paths)-1:], failedPaths: noPaths},
		}
		checkAgainstPgx(t, rows)
	})
}

// A sample's first link row carries every column any of its file rows
// brings, and its local copy only with withLocal; the file rows themselves
// are left as they were, whether the sample is its first row (nothing to
// merge) or a merged copy.
func TestLinkRowsMergeSampleColumns(t *testing.T) {
	full := fullContent("a", "data")
	full.Local = "/spool/a"
	gaps := withoutColumn(withoutColumn(withoutColumn(full, 0), 7), 8) // no md5, size or MIME
	gaps.Local = ""
	bringsMD5, bringsRest := gaps, full
	bringsMD5.MD5 = full.MD5
	bringsRest.MD5 = nil
	for _, c := range []struct {
		name  string
		files []File
		want  File
	}{
		{"same columns everywhere", []File{full, full}, full},
		{"gaps filled by the later rows", []File{gaps, bringsMD5, bringsRest}, full},
		{"a lone row", []File{gaps}, gaps},
	} {
		for _, withLocal := range []bool{false, true} {
			var sources []*Source
			for i, f := range c.files {
				s := source(t, fmt.Sprintf("%d.deb", i))
				f.Path = fmt.Sprintf("p%d", i)
				if err := s.Files.Add(f); err != nil {
					t.Fatal(err)
				}
				sources = append(sources, s)
			}
			sorted, _, err := sortedFiles(sources)
			if err != nil {
				t.Fatal(err)
			}
			before := make([]File, len(sorted))
			for i, r := range sorted {
				before[i] = *r.file
			}
			rows := linkRows(sorted, withLocal)
			want := c.want
			if !withLocal {
				want.Local = ""
			}
			got := *rows[0].sample
			got.Path, want.Path = "", ""
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s, withLocal %v: sample %+v, want %+v", c.name, withLocal, got, want)
			}
			for i, r := range sorted {
				if !reflect.DeepEqual(*r.file, before[i]) {
					t.Errorf("%s, withLocal %v: file row %d changed: %+v, was %+v", c.name, withLocal, i, *r.file, before[i])
				}
			}
		}
	}
}
