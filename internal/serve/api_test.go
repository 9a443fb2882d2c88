package serve

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/bloom/dcso"
	"github.com/hashr-dev/hashr/internal/db"
)

// digests of data, lowercase hex, by algorithm name.
func digests(data string) map[string]string {
	m5, s1, s256 := md5.Sum([]byte(data)), sha1.Sum([]byte(data)), sha256.Sum256([]byte(data))
	return map[string]string{"md5": hex.EncodeToString(m5[:]), "sha1": hex.EncodeToString(s1[:]), "sha256": hex.EncodeToString(s256[:])}
}

// TestAPI runs CIRCL's API over a set the real pipeline built, on SQLite
// and PostgreSQL.
func TestAPI(t *testing.T) {
	for name, url := range backends(t) {
		t.Run(name, func(t *testing.T) {
			set := buildSet(t, url)
			_, ts := newTestServer(t, url, nil, nil)
			t.Run("lookup", func(t *testing.T) { testLookup(t, ts) })
			t.Run("lookup errors", func(t *testing.T) { testLookupErrors(t, ts) })
			t.Run("bulk", func(t *testing.T) { testBulk(t, ts) })
			t.Run("parents and children", func(t *testing.T) { testParentsChildren(t, ts, set) })
			t.Run("info, top, health", func(t *testing.T) { testInfo(t, ts) })
			t.Run("hostile", func(t *testing.T) { testHostile(t, ts) })
		})
	}
}

func testLookup(t *testing.T, ts *httptest.Server) {
	a := digests(contentOf["docs/a.txt"])
	for _, algo := range []string{"md5", "sha1", "sha256"} {
		for _, h := range []string{a[algo], strings.ToUpper(a[algo])} {
			code, body := get(t, ts, "/lookup/"+algo+"/"+h)
			if code != http.StatusOK {
				t.Fatalf("lookup %s %s: %d %s", algo, h, code, body)
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(body), &rec); err != nil {
				t.Fatal(err)
			}
			for field, want := range map[string]any{
				"MD5": strings.ToUpper(a["md5"]), "SHA-1": strings.ToUpper(a["sha1"]), "SHA-256": strings.ToUpper(a["sha256"]),
				"FileName": "a.txt", "FileSize": "6", "hashlookup:parent-total": 2.0, "hashlookup:trust": 60.0, "mimetype": "text/plain; charset=utf-8",
			} {
				if rec[field] != want {
					t.Errorf("lookup %s: %s = %#v, want %#v", algo, field, rec[field], want)
				}
			}
			if crc, _ := rec["CRC32"].(string); len(crc) != 8 || strings.ToUpper(crc) != crc {
				t.Errorf("CRC32 = %q, want 8 upper-case hex digits", crc)
			}
			parents, _ := rec["parents"].([]any)
			sources, _ := rec["hashr:sources"].([]any)
			if len(parents) != 2 || len(sources) != 2 {
				t.Fatalf("parents %v, hashr:sources %v: want the two trees", parents, sources)
			}
			p0 := parents[0].(map[string]any)
			if name := p0["FileName"]; name != "tree1.tar" && name != "tree2.tar" {
				t.Errorf("parent FileName %v", name)
			}
			if pc, _ := p0["ProductCode"].(map[string]any); pc["ProductName"] != p0["FileName"] {
				t.Errorf("parent ProductCode %v", p0["ProductCode"])
			}
			s0 := sources[0].(map[string]any)
			if s0["repo"] != "tree" || fmt.Sprint(s0["paths"]) != "[docs/a.txt]" || s0["status"] != "done" {
				t.Errorf("hashr:sources[0] = %v", s0)
			}
		}
	}
}

// testLookupErrors: CIRCL's 404 and 400 bodies, byte for byte.
func testLookupErrors(t *testing.T, ts *httptest.Server) {
	a := digests(contentOf["docs/a.txt"])
	// Unknown: with the query as given.
	missing := map[string]string{"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}
	for algo, label := range missing {
		h := strings.Repeat("aB", algorithms[algo].hexLen/2)
		code, body := get(t, ts, "/lookup/"+algo+"/"+h)
		want := `{"message": "Non existing ` + label + `", "query": "` + h + `"}` + "\n"
		if code != http.StatusNotFound || body != want {
			t.Errorf("unknown %s: %d %q, want 404 %q", algo, code, body, want)
		}
	}
	// Not hex of the right length: CIRCL's 400.
	for _, h := range []string{"xyz", a["md5"] + "0", "0x" + a["md5"][2:], strings.Repeat("g", 32), a["sha1"]} {
		code, body := get(t, ts, "/lookup/md5/"+h)
		want := `{"message": "MD5 value incorrect, expecting a MD5 value in hex format"}` + "\n"
		if code != http.StatusBadRequest || body != want {
			t.Errorf("lookup md5 %q: %d %q, want 400 %q", h, code, body, want)
		}
	}
	if code, _ := get(t, ts, "/lookup/sha512/"+a["sha256"]); code != http.StatusNotFound {
		t.Errorf("lookup by an algorithm CIRCL has not: %d, want 404", code)
	}
}

func testBulk(t *testing.T, ts *httptest.Server) {
	a, b := digests(contentOf["docs/a.txt"]), digests(contentOf["b.txt"])
	unknown := digests("nowhere")
	for _, algo := range []string{"md5", "sha1", "sha256"} {
		body := fmt.Sprintf(`{"hashes": [%q, %q, %q, "not hex", 17]}`, a[algo], strings.ToUpper(b[algo]), unknown[algo])
		code, resp := do(t, ts, http.MethodPost, "/bulk/"+algo, body)
		if code != http.StatusBadRequest {
			t.Errorf("bulk with a number among the hashes: %d %s, want 400", code, resp)
		}
		body = fmt.Sprintf(`{"hashes": [%q, %q, %q, "not hex"]}`, a[algo], strings.ToUpper(b[algo]), unknown[algo])
		code, resp = do(t, ts, http.MethodPost, "/bulk/"+algo, body)
		var recs []map[string]any
		if err := json.Unmarshal([]byte(resp), &recs); code != http.StatusOK || err != nil {
			t.Fatalf("bulk %s: %d %s %v", algo, code, resp, err)
		}
		found := map[any]bool{}
		for _, r := range recs {
			found[r["SHA-256"]] = true
		}
		if len(recs) != 2 || !found[strings.ToUpper(a["sha256"])] || !found[strings.ToUpper(b["sha256"])] {
			t.Errorf("bulk %s found %v, want a.txt and b.txt", algo, found)
		}
	}
	for _, tc := range []struct {
		body string
		code int
		msg  string
	}{
		{`{"hashes": `, http.StatusBadRequest, "Failed to decode JSON object"},
		{`{"other": []}`, http.StatusNotFound, "JSON format incorrect. An array of hashes in the key 'hashes' is expected."},
		{`{"hashes": [` + strings.Repeat(`"`+a["md5"]+`",`, 2000) + `"` + a["md5"] + `"]}`, http.StatusRequestEntityTooLarge, "2001 hashes in one request: send at most 2000."},
		{`{"hashes": ["` + strings.Repeat("0", bulkBodyLimit) + `"]}`, http.StatusRequestEntityTooLarge, "The request body is over"},
		{`{"hashes": []}`, http.StatusOK, ""},
	} {
		code, resp := do(t, ts, http.MethodPost, "/bulk/md5", tc.body)
		if code != tc.code || !strings.Contains(resp, tc.msg) || tc.code == http.StatusOK && resp != "[]\n" {
			t.Errorf("bulk body %.40q…: %d %.200s, want %d %q", tc.body, code, resp, tc.code, tc.msg)
		}
	}
}

// pageOf is a /parents or /children answer.
type pageOf struct {
	Parents  []string `json:"parents"`
	Children []string `json:"children"`
	Cursor   int      `json:"cursor"`
	Total    int      `json:"total"`
}

func getPage(t *testing.T, ts *httptest.Server, path string) pageOf {
	t.Helper()
	code, body := get(t, ts, path)
	var p pageOf
	if err := json.Unmarshal([]byte(body), &p); code != http.StatusOK || err != nil {
		t.Fatalf("%s: %d %s %v", path, code, body, err)
	}
	return p
}

func testParentsChildren(t *testing.T, ts *httptest.Server, set *testSet) {
	a := digests(contentOf["docs/a.txt"])
	var parents []string
	for cursor := "0"; ; {
		p := getPage(t, ts, "/parents/"+a["sha1"]+"/1/"+cursor)
		if p.Total != 2 || len(p.Parents) != 1 {
			t.Fatalf("parents page from %s: %+v, want 1 of 2", cursor, p)
		}
		parents = append(parents, p.Parents...)
		if p.Cursor == 0 {
			break
		}
		cursor = fmt.Sprint(p.Cursor)
	}
	if len(parents) != 2 || parents[0] >= parents[1] {
		t.Fatalf("parents over two pages: %v", parents)
	}
	// The first tree's files, by its SHA-256, in pages of 50.
	tree1 := ""
	for _, p := range parents {
		if c := getPage(t, ts, "/children/"+p+"/0/0"); c.Total == manyFiles+3 {
			tree1 = p
		}
	}
	if tree1 == "" {
		t.Fatalf("no parent of a.txt has the %d files of tree1", manyFiles+3)
	}
	seen := map[string]bool{}
	for cursor := 0; ; {
		c := getPage(t, ts, fmt.Sprintf("/children/%s/50/%d", strings.ToLower(tree1), cursor))
		for _, h := range c.Children {
			seen[h] = true
		}
		if c.Cursor == 0 {
			break
		}
		cursor = c.Cursor
	}
	if len(seen) != manyFiles+3 || !seen[strings.ToUpper(a["sha1"])] {
		t.Errorf("children over pages: %d distinct, want %d with a.txt's SHA-1", len(seen), manyFiles+3)
	}
	for path, want := range map[string]string{
		"/parents/" + digests("nowhere")["md5"] + "/10/0":   `{"message": "The MD5 value has no known parent."}` + "\n",
		"/children/" + digests("nowhere")["sha1"] + "/10/0": `{"message": "The SHA1 value has no known child."}` + "\n",
	} {
		if code, body := get(t, ts, path); code != http.StatusNotFound || body != want {
			t.Errorf("%s: %d %q, want 404 %q", path, code, body, want)
		}
	}
	for _, path := range []string{"/parents/xyz/10/0", "/parents/" + a["md5"] + "/10/abc", "/parents/" + a["md5"] + "/10/-1"} {
		if code, _ := get(t, ts, path); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", path, code)
		}
	}
}

func testInfo(t *testing.T, ts *httptest.Server) {
	code, body := get(t, ts, "/info")
	var info map[string]any
	if err := json.Unmarshal([]byte(body), &info); code != http.StatusOK || err != nil {
		t.Fatalf("/info: %d %s %v", code, body, err)
	}
	samples := float64(manyFiles + 4) // a, the two hostile names, many/, b
	if info["hashr:samples"] != samples || info["stat:hashlookup_total_keys"] != samples || info["hashr:sources"] != 2.0 ||
		fmt.Sprint(info["hashr:repositories"]) != "[tree]" || info["hashlookup-version"] != "1.2" || info["hashr:last-load"] == "" {
		t.Errorf("/info = %v", info)
	}
	// /stats/top counts what was asked, in memory: b.txt by SHA-1 three
	// times is asked more than any other key.
	b1 := strings.ToUpper(digests(contentOf["b.txt"])["sha1"])
	for range 3 {
		get(t, ts, "/lookup/sha1/"+b1)
	}
	_, body = get(t, ts, "/stats/top")
	var top struct {
		NX    [][2]any `json:"nx"`
		Exist []struct {
			FileName string `json:"FileName"`
			SHA1     [2]any `json:"SHA-1"`
		} `json:"exist"`
	}
	if err := json.Unmarshal([]byte(body), &top); err != nil || len(top.NX) == 0 || len(top.Exist) == 0 {
		t.Fatalf("/stats/top = %s, %v", body, err)
	}
	if first := top.Exist[0]; first.SHA1[0] != b1 || first.SHA1[1] != 3.0 || first.FileName != "b.txt" {
		t.Errorf("/stats/top's most asked known hash: %+v, want b.txt's SHA-1, 3 times", first)
	}
	if code, body := get(t, ts, "/healthz"); code != http.StatusOK || body != `{"message": "ok"}`+"\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
}

// testHostile sends what a hostile client would: path tricks, encoded
// slashes, unknown paths.
func testHostile(t *testing.T, ts *httptest.Server) {
	for path, want := range map[string]int{
		"/lookup/md5/../../etc/passwd":                   http.StatusNotFound, // cleaned to /etc/passwd, which is no route
		"/lookup/md5/..%2F..%2Fetc%2Fpasswd":             http.StatusBadRequest,
		"/lookup/md5/%2e%2e%2fetc":                       http.StatusBadRequest,
		"/lookup/md5/" + strings.Repeat("a", 31) + "%00": http.StatusBadRequest,
		"/nothing/here":                                  http.StatusNotFound,
		"/ui/source/..%2f..%2fetc":                       http.StatusBadRequest,
	} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		client := *ts.Client()
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		code := resp.StatusCode
		if code == http.StatusMovedPermanently || code == http.StatusTemporaryRedirect { // the mux's redirect to the cleaned path: follow it
			code, _ = get(t, ts, resp.Header.Get("Location"))
		}
		if code != want {
			t.Errorf("GET %s: %d, want %d", path, code, want)
		}
	}
}

// GET /bloom/ALGO: DCSO's format, every sample in it as upper-case hex,
// built once while the set is unchanged (the ETag answers 304).
func TestBloom(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "hashr.db")
	buildSet(t, url)
	s, ts := newTestServer(t, url, nil, nil)
	builds := 0
	build := s.bloom.build
	s.bloom.build = func(ctx context.Context, r *db.Reader, algo string, p float64, w io.Writer) error {
		builds++
		return build(ctx, r, algo, p, w)
	}
	for _, algo := range []string{"sha1", "md5", "sha256"} {
		resp, err := ts.Client().Get(ts.URL + "/bloom/" + algo)
		if err != nil {
			t.Fatal(err)
		}
		f, err := dcso.Read(resp.Body)
		resp.Body.Close()
		etag := resp.Header.Get("ETag")
		if resp.StatusCode != http.StatusOK || err != nil || etag == "" {
			t.Fatalf("/bloom/%s: %d, %v, ETag %q", algo, resp.StatusCode, err, etag)
		}
		for name, data := range contentOf {
			if !f.Has([]byte(strings.ToUpper(digests(data)[algo]))) {
				t.Errorf("/bloom/%s lacks %s", algo, name)
			}
		}
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/bloom/"+algo, nil)
		req.Header.Set("If-None-Match", etag)
		resp, err = ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("/bloom/%s with its ETag: %d, want 304", algo, resp.StatusCode)
		}
	}
	if builds != 3 {
		t.Errorf("%d builds for 3 filters asked twice each: want 3", builds)
	}
	if code, _ := get(t, ts, "/bloom/crc32"); code != http.StatusNotFound {
		t.Errorf("/bloom/crc32: %d, want 404", code)
	}
}
