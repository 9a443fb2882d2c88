package serve

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/db"
	"github.com/hashr-dev/hashr/pkg/records"
)

// hostileStrings are what file names and IDs may hold: HTML, quotes,
// control characters, non-ASCII in and beyond the Basic Multilingual
// Plane, U+2028, invalid UTF-8.
var hostileStrings = []string{"", "a.txt", `<script>alert("x")</script> & co`, "tab\there\nnew\rline\b\f\x00\x01\x1f\x7f",
	`back\slash "quoted"`, "caf\u00e9 \u4e2d\u6587 \U0001F600", "line\u2028sep\u2029", "bad\xff\xfeutf8\xc3", "\ufffd",
	"package_1.0-1_amd64.deb", "name-1.2-3.el9.x86_64.rpm"}

// randomServedSample is a sample with every field the records show, some
// empty, its strings drawn from hostileStrings.
func randomServedSample(r *rand.Rand, links int) *db.ServedSample {
	pick := func() string { return hostileStrings[r.IntN(len(hostileStrings))] }
	digest := func(n int) []byte {
		if r.IntN(4) == 0 {
			return nil
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	s := &db.ServedSample{}
	s.SHA256, s.MD5, s.SHA1, s.SHA512, s.CRC32 = digest(32), digest(16), digest(20), digest(64), digest(4)
	s.SSDEEP, s.TLSH, s.MIME, s.Size = pick(), pick(), pick(), int64(r.IntN(3))-1
	pkg := &records.Package{Name: pick(), Version: pick(), Arch: pick(), Title: pick()}
	ver := &records.Verified{OK: r.IntN(2) == 0, By: "apt-release", Signer: pick(), Detail: pick()}
	for i := range links {
		src := db.ServedSource{SHA256: digest(32), MD5: digest(16), SHA1: digest(20), Repo: pick(), URI: pick(),
			Status: db.StatusDone, Size: int64(r.IntN(5000)) - 1}
		if r.IntN(3) > 0 {
			src.IDs = []string{pick(), pick()}[:r.IntN(3)]
		}
		if r.IntN(2) == 0 {
			src.Package = pkg // shared, as sources read once are
		}
		if r.IntN(2) == 0 {
			src.Verified = ver
		}
		l := db.ServedLink{Source: src, Failed: r.IntN(5) == 0}
		if i%4 != 3 {
			l.Paths = []string{pick() + "/" + pick(), pick()}[:1+r.IntN(2)]
		}
		s.Links = append(s.Links, l)
	}
	s.LinkTotal = int64(links)
	if links == db.MaxServedLinks {
		s.LinkTotal += int64(r.IntN(1000)) // the reader read the first of more
	}
	return s
}

// A sample in more sources than the reader reads: parent-total counts
// them all, parents lists CIRCL's 10 and hashr:sources the first 100,
// and a sample in at most 15 lists each.
func TestLookupRecordCapsParents(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 2))
	for _, c := range []struct {
		links          int
		total          int64
		parents, trust int
	}{{db.MaxServedLinks, 5000, parentsShown, 100}, {15, 15, 15, 100}, {16, 16, parentsShown, 100}, {2, 2, 2, 60}} {
		s := randomServedSample(r, c.links)
		s.LinkTotal = c.total
		rec := newLookupRecord(s)
		if int64(rec.ParentTotal) != c.total || len(rec.Parents) != c.parents || len(rec.Sources) != c.links || rec.Trust != c.trust {
			t.Errorf("%d links of %d: parent-total %d, %d parents, %d hashr:sources, trust %d; want %d, %d, %d, %d",
				c.links, c.total, rec.ParentTotal, len(rec.Parents), len(rec.Sources), rec.Trust, c.total, c.parents, c.links, c.trust)
		}
	}
}

// The hand-written lookup records are byte for byte what pythonJSON
// writes of lookupRecord, one or a bulk of them, for every field,
// hostile strings, and parents up to past every cap.
func TestLookupJSONMatchesPythonJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 1))
	var samples []*db.ServedSample
	var recs []lookupRecord
	for _, links := range []int{0, 1, 2, 15, 16, db.MaxServedLinks} {
		for range 20 {
			samples = append(samples, randomServedSample(r, links))
			recs = append(recs, newLookupRecord(samples[len(samples)-1]))
		}
	}
	for i := range recs {
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		writeJSON(want, 200, recs[i])
		writeLookupJSON(got, samples[i:i+1], false)
		if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
			t.Fatalf("record %d:\n got %s\nwant %s", i, got.Body, want.Body)
		}
		if g, w := got.Header().Get("Content-Length"), want.Header().Get("Content-Length"); g != w {
			t.Errorf("record %d: Content-Length %s, want %s", i, g, w)
		}
	}
	for _, n := range []int{0, 1, len(recs)} {
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		writeJSON(want, 200, recs[:n])
		writeLookupJSON(got, samples[:n], true)
		if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
			t.Fatalf("bulk of %d:\n got %.2000s\nwant %.2000s", n, got.Body, want.Body)
		}
	}
}

// Every string pythonJSON can be given comes out the same from
// appendPythonString, one byte at a time over all bytes, and each byte
// at every place of the eight that appendPythonString passes at once.
func TestAppendPythonStringMatchesPythonJSON(t *testing.T) {
	var all []string
	for c := range 256 {
		all = append(all, fmt.Sprintf("a%cb", c), string([]byte{byte(c)}), "\u00e9"+string([]byte{byte(c)}))
		for at := range 17 {
			plain := []byte("0123456789abcdefgh")
			plain[at] = byte(c)
			all = append(all, string(plain), string(plain[:at+1]))
		}
	}
	all = append(all, hostileStrings...)
	all = append(all, strings.Repeat("\U0010FFFF\u0800x", 3))
	for _, s := range all {
		want, err := pythonJSON(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendPythonString(nil, s); string(got)+"\n" != string(want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}
