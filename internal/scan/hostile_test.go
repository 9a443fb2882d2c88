package scan

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashr-dev/hashr/internal/httpclient/httpclienttest"
	"github.com/hashr-dev/hashr/pkg/records"
)

// oneError is the one record of res, an error record.
func oneError(t *testing.T, res result) *records.Error {
	t.Helper()
	if len(res.errors) != 1 || len(res.sources) != 0 {
		t.Fatalf("want one error record, got %d and %d sources\n%s", len(res.errors), len(res.sources), res.stderr)
	}
	return res.errors[0]
}

// A registry whose tag list or manifest redirects to itself, or to a
// file:// URL, fails the scan of that REPO at once: an error record, one
// request, no redirect followed past the loop.
func TestRegistryRedirectsAreChecked(t *testing.T) {
	const tags, manifest = "/v2/test/img/tags/list", "/v2/test/img/manifests/1"
	for _, c := range []struct {
		name, repo, path, message string
		target                    func(r *http.Request) string
	}{
		{"tag list redirect loop", "/test/img", tags, "redirect loop", func(r *http.Request) string { return r.URL.String() }},
		{"manifest redirect loop", "/test/img:1", manifest, "redirect loop", func(r *http.Request) string { return r.URL.String() }},
		{"manifest redirect to file://", "/test/img:1", manifest, "file:///etc/passwd", func(*http.Request) string { return "file:///etc/passwd" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := httpclienttest.NewHostile(t, httpclienttest.Registry(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, c.target(r), http.StatusFound)
			}))
			repo := "oci://" + strings.TrimPrefix(s.URL, "http://") + c.repo
			res := scanWithin(t, 10*time.Second, s.Stop, repo)
			e := oneError(t, res)
			t.Log(e.Message)
			if res.code != 3 || !strings.Contains(e.Message, c.message) || !strings.Contains(res.stderr, c.message) {
				t.Errorf("status %d, record %+v, stderr %q: want an error saying %q", res.code, e, res.stderr, c.message)
			}
			if n := s.Count(c.path); n != 1 {
				t.Errorf("%d requests of %s, want 1 (the redirect not followed)", n, c.path)
			}
		})
	}
}

// A tag list or manifest sent a byte now and then ends at --max-time.
func TestMaxTimeEndsASlowRegistry(t *testing.T) {
	for _, c := range []struct{ name, repo, path string }{
		{"tag list", "/test/img", "/v2/test/img/tags/list"},
		{"manifest", "/test/img:1", "/v2/test/img/manifests/1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var s *httpclienttest.Hostile
			s = httpclienttest.NewHostile(t, httpclienttest.Registry(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodHead {
					// A HEAD has no body to drip: hold the answer back.
					select {
					case <-s.Released():
					case <-r.Context().Done():
					}
					return
				}
				s.Drip(w, r, "application/json")
			}))
			repo := "oci://" + strings.TrimPrefix(s.URL, "http://") + c.repo
			start := time.Now()
			res := scanWithin(t, 10*time.Second, s.Stop, "--max-time", "700ms", repo)
			e := oneError(t, res)
			t.Log(e.Message)
			if res.code != 3 || !strings.Contains(e.Message, "--max-time") {
				t.Errorf("status %d, record %+v: want an error naming --max-time", res.code, e)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %s, want about --max-time 700ms", took)
			}
		})
	}
}

// A URL that redirects to itself or to file:// is an error record after
// one request; one whose bytes drip ends at --max-time.
func TestURLRequestsAreBounded(t *testing.T) {
	var s *httpclienttest.Hostile
	s = httpclienttest.NewHostile(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/loop":
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		case "/file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/slow":
			if r.Method == http.MethodHead {
				w.Header().Set("Content-Length", "100000")
				return
			}
			s.Drip(w, r, "application/octet-stream")
		}
	})
	for _, c := range []struct {
		path, message string
		args          []string
	}{
		{"/loop", "redirect loop", nil},
		{"/file", "only http:// and https:// redirects are followed", nil},
		{"/slow", "--max-time", []string{"--max-time", "700ms"}},
	} {
		start := time.Now()
		res := scanWithin(t, 10*time.Second, s.Stop, append(c.args, s.URL+c.path)...)
		e := oneError(t, res)
		t.Logf("%s: %s", c.path, e.Message)
		if res.code != 3 || !strings.Contains(e.Message, c.message) {
			t.Errorf("%s: status %d, record %+v: want an error saying %q", c.path, res.code, e, c.message)
		}
		if n := s.Count(c.path); c.path != "/slow" && n != 1 {
			t.Errorf("%s: %d requests, want 1 (the redirect not followed)", c.path, n)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: took %s", c.path, took)
		}
	}
}

// An S3 listing that redirects to itself is an error record after one
// request; one whose page drips ends at --max-time.
func TestBucketListingIsBounded(t *testing.T) {
	var s *httpclienttest.Hostile
	var slow atomic.Bool
	s = httpclienttest.NewHostile(t, func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			s.Drip(w, r, "application/xml")
			return
		}
		http.Redirect(w, r, r.URL.String(), http.StatusFound)
	})
	t.Setenv("AWS_ENDPOINT_URL", s.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	for _, c := range []struct {
		slow    bool
		message string
		args    []string
	}{
		{false, "redirect loop", nil},
		{true, "--max-time", []string{"--max-time", "700ms"}},
	} {
		slow.Store(c.slow)
		start := time.Now()
		res := scanWithin(t, 10*time.Second, s.Stop, append(c.args, "s3://bkt/p/")...)
		e := oneError(t, res)
		t.Log(e.Message)
		if res.code != 3 || !strings.Contains(e.Message, c.message) {
			t.Errorf("status %d, record %+v: want an error saying %q", res.code, e, c.message)
		}
		if n := s.Count("/bkt/"); !c.slow && n != 1 {
			t.Errorf("%d listing requests, want 1 (the redirect not followed)", n)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("took %s", took)
		}
	}
}
