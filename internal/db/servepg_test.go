package db

import (
	"context"
	"encoding/binary"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// A bulk reads back every field of a sample and its links as they were
// loaded, on both databases: digests present and absent (NULL), fuzzy
// hashes, an unknown size, and paths that JSON, PostgreSQL's array text
// and its binary form each write differently (quotes, backslashes,
// commas, braces, the word NULL, non-ASCII). PostgreSQL's rows are read
// by servedRowDecoder from the binary forms, SQLite's by database/sql.
func TestServeLookupReadsEveryField(t *testing.T) {
	paths := []string{`usr/share/doc/a "quoted"`, `C:\windows\system32`, `{braces},commas`, `NULL`, `ünïcödé/ファイル`, `x`}
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			var files []File
			for _, p := range paths {
				f := content(p, "the many-pathed one")
				f.SHA512, f.CRC32, f.BLAKE3 = make([]byte, 64), []byte{1, 2, 3, 4}, make([]byte, 32)
				f.SSDEEP, f.TLSH = "3:abc:def", "T1ABCDEF"
				files = append(files, f)
			}
			bare := content("bin/bare", "no md5, no size, no mime")
			bare.MD5, bare.Size, bare.MIME = nil, -1, ""
			files = append(files, bare)
			load(t, open(t, b.url, Options{}), source(t, "a.deb", files...), source(t, "b.deb", files[0]))
			r := openReader(t, b.url)
			for _, keys := range [][][]byte{{files[0].SHA256, bare.SHA256}, {files[0].SHA256}, {bare.SHA256}} {
				samples, err := r.ServeLookup(context.Background(), BySHA256, keys)
				if err != nil {
					t.Fatal(err)
				}
				if len(samples) != len(keys) {
					t.Fatalf("%d samples for %d keys", len(samples), len(keys))
				}
				for _, s := range samples {
					want, wantLinks := files[0], 2
					if slices.Equal(s.SHA256, bare.SHA256) {
						want, wantLinks = bare, 1
					}
					got := File{SHA256: s.SHA256, MD5: s.MD5, SHA1: s.SHA1, SHA512: s.SHA512, CRC32: s.CRC32, BLAKE3: s.BLAKE3,
						SSDEEP: s.SSDEEP, TLSH: s.TLSH, Size: s.Size, MIME: s.MIME, Path: want.Path}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("sample read back as\n%+v\nloaded as\n%+v", got, want)
					}
					if len(s.Links) != wantLinks || s.LinkTotal != int64(wantLinks) {
						t.Fatalf("sample %x: %d links of %d, want %d", s.SHA256[:4], len(s.Links), s.LinkTotal, wantLinks)
					}
					for _, l := range s.Links {
						wantPaths := []string{want.Path}
						if wantLinks == 2 && l.Source.IDs[0] == "a.deb" {
							wantPaths = slices.Sorted(slices.Values(paths))
						}
						if !slices.Equal(l.Paths, wantPaths) || l.Failed {
							t.Errorf("link %+v, want paths %q", l, wantPaths)
						}
					}
				}
			}
		})
	}
}

// textArray is a text[] in PostgreSQL's binary format (array_send's), a
// nil element NULL.
func textArray(elems ...*string) []byte {
	if len(elems) == 0 {
		return binary.BigEndian.AppendUint32(make([]byte, 8), oidText)
	}
	v := binary.BigEndian.AppendUint32(nil, 1)
	v = binary.BigEndian.AppendUint32(v, 0)
	v = binary.BigEndian.AppendUint32(v, oidText)
	v = binary.BigEndian.AppendUint32(v, uint32(len(elems)))
	v = binary.BigEndian.AppendUint32(v, 1)
	for _, e := range elems {
		if e == nil {
			v = binary.BigEndian.AppendUint32(v, 0xffffffff)
			continue
		}
		v = append(binary.BigEndian.AppendUint32(v, uint32(len(*e))), *e...)
	}
	return v
}

func ptr(s string) *string { return &s }

// appendTextArray reads what array_send writes, and refuses, without
// reading past them, arrays that are cut short, of more dimensions, of
// another type or with bytes left over.
func TestAppendTextArray(t *testing.T) {
	for _, c := range []struct {
		v    []byte
		want []string // nil: an error
	}{
		{textArray(), []string{}},
		{textArray(ptr("a")), []string{"a"}},
		{textArray(ptr("usr/bin/a"), ptr(""), nil, ptr(`"\,{}`)), []string{"usr/bin/a", "", "", `"\,{}`}},
		{textArray(ptr("abc"))[:22], nil},
		{textArray(ptr("abc"))[:10], nil},
		{append(textArray(ptr("abc")), 0), nil},
		{func() []byte { v := textArray(ptr("a")); v[3] = 2; return v }(), nil},
		{func() []byte { v := textArray(ptr("a")); v[11] = oidBytea; return v }(), nil},
		{func() []byte { v := textArray(ptr("a")); v[20] = 0x7f; return v }(), nil},
	} {
		text, ends, err := appendTextArray([]byte("prefix"), nil, c.v)
		if c.want == nil {
			if err == nil {
				t.Errorf("% x read as %d elements, want an error", c.v, len(ends))
			}
			continue
		}
		if err != nil {
			t.Errorf("% x: %v", c.v, err)
			continue
		}
		got, at := []string{}, len("prefix")
		for _, end := range ends {
			got, at = append(got, string(text[at:end])), end
		}
		if !slices.Equal(got, c.want) || !strings.HasPrefix(string(text), "prefix") {
			t.Errorf("% x read as %q (text %q), want %q", c.v, got, text, c.want)
		}
	}
}

// appendTextArray reads any bytes without panicking, and reads back what
// textArray writes.
func FuzzAppendTextArray(f *testing.F) {
	f.Add(textArray(ptr("usr/bin/a"), nil, ptr("")), "x", "y")
	f.Fuzz(func(t *testing.T, v []byte, a, b string) {
		appendTextArray(nil, nil, v)
		text, ends, err := appendTextArray(nil, nil, textArray(&a, &b))
		if err != nil || len(ends) != 2 || string(text[:ends[0]]) != a || string(text[ends[0]:ends[1]]) != b {
			t.Fatalf("%q, %q read back as %q at %v, %v", a, b, text, ends, err)
		}
	})
}
