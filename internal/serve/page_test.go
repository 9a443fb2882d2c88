package serve

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// The page shows hostile file names as text, never as markup, in every
// view that shows paths; it pages through a source; it looks up many.
func TestPage(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "hashr.db")
	buildSet(t, dbURL)
	_, ts := newTestServer(t, dbURL, nil, nil)

	for _, name := range []string{scriptName, imgName} {
		code, body := get(t, ts, "/?q="+digests(contentOf[name])["sha256"])
		if code != http.StatusOK || !strings.Contains(body, `class="known"`) {
			t.Fatalf("page for %q: %d, not known:\n%s", name, code, body)
		}
		assertEscaped(t, body, name)
	}
	// The hostile query itself is shown escaped, as an invalid hash.
	code, body := get(t, ts, "/?q="+url.QueryEscape(imgName))
	if code != http.StatusOK || !strings.Contains(body, "not an MD5, SHA-1 or SHA-256") {
		t.Errorf("page for a hostile query: %d", code)
	}
	assertEscaped(t, body, imgName)

	testPageForms(t, ts)
	testPageSources(t, ts)
}

// testPageForms posts many hashes at once, and a form past the limit.
func testPageForms(t *testing.T, ts *httptest.Server) {
	// Many at once, by POST: known, unknown and invalid, each said.
	form := url.Values{"hashes": {digests(contentOf["b.txt"])["md5"] + "\n" + digests("nowhere")["sha1"] + ", zzz"}}
	code, _ := do(t, ts, http.MethodPost, "/", "")
	if code != http.StatusOK {
		t.Errorf("POST / with no form: %d", code)
	}
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if strings.Count(body, `class="known"`) != 1 || strings.Count(body, `class="unknown"`) != 1 || !strings.Contains(body, "not an MD5") {
		t.Errorf("bulk page: want one known, one unknown, one invalid:\n%s", body)
	}

	// A form past the body limit is refused, not read.
	huge := url.Values{"hashes": {strings.Repeat("a", bulkBodyLimit)}}
	req, _ = http.NewRequest(http.MethodPost, ts.URL+"/", strings.NewReader(huge.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err = ts.Client().Do(req); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("POST / of %d bytes: %v %v, want 413", bulkBodyLimit, resp.Status, err)
	}
	resp.Body.Close()

}

// testPageSources lists the sources, and pages through a source's files.
func testPageSources(t *testing.T, ts *httptest.Server) {
	// Sources, and a source's files over two pages, names escaped.
	code, body := get(t, ts, "/ui/sources")
	if code != http.StatusOK || !strings.Contains(body, "tree1.tar") || !strings.Contains(body, "tree2.tar") {
		t.Fatalf("/ui/sources: %d\n%s", code, body)
	}
	tree1 := between(body, `<a href="/ui/source/`, `">tree1.tar`)
	code, body = get(t, ts, "/ui/source/"+tree1)
	if code != http.StatusOK || !strings.Contains(body, "page 1 of 2") || strings.Count(body, `class="path"`) != filesPerPage {
		t.Fatalf("/ui/source page 1: %d, want %d files and 2 pages\n%s", code, filesPerPage, body)
	}
	code, body = get(t, ts, "/ui/source/"+tree1+"?page=2")
	if code != http.StatusOK || !strings.Contains(body, "page 2 of 2") || strings.Count(body, `class="path"`) != manyFiles+3-filesPerPage {
		t.Fatalf("/ui/source page 2: %d", code)
	}
	_, page1 := get(t, ts, "/ui/source/"+tree1)
	assertEscaped(t, page1+body, scriptName)
	if code, _ := get(t, ts, "/ui/source/"+strings.Repeat("0", 64)); code != http.StatusNotFound {
		t.Errorf("an unknown source: %d, want 404", code)
	}
}

// assertEscaped checks that name appears in body only escaped.
func assertEscaped(t *testing.T, body, name string) {
	t.Helper()
	for _, raw := range []string{"<script>alert", "<img src=x", `"><img`} {
		if strings.Contains(body, raw) {
			t.Errorf("the page holds %q raw: hostile names must be escaped", raw)
		}
	}
	if name == scriptName && !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;.txt") {
		t.Errorf("the page does not show %q as text", name)
	}
	if name == imgName && !strings.Contains(body, "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;.txt") {
		t.Errorf("the page does not show %q as text", name)
	}
}

func between(s, start, end string) string {
	_, after, _ := strings.Cut(s, start)
	before, _, _ := strings.Cut(after, end)
	return before
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
