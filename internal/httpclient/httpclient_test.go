package httpclient

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Under RedirectGuard, a client whose own CheckRedirect follows every
// redirect (as go-containerregistry's does) still stops at a loop, after
// one request, and at a redirect to file://; the error is Permanent.
func TestRedirectGuard(t *testing.T) {
	var requests atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		target := r.URL.Path
		if r.URL.Path == "/file" {
			target = "file:///etc/passwd"
		}
		http.Redirect(w, r, target, http.StatusFound)
	}))
	defer s.Close()
	followAll := &http.Client{
		Transport:     RedirectGuard{Next: http.DefaultTransport},
		CheckRedirect: func(*http.Request, []*http.Request) error { return nil },
	}
	for _, c := range []struct{ path, message string }{
		{"/loop", "redirect loop"},
		{"/file", "only http:// and https:// redirects are followed"},
	} {
		requests.Store(0)
		resp, err := followAll.Get(s.URL + c.path)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: no error", c.path)
		}
		if !strings.Contains(err.Error(), c.message) || !IsPermanent(err) {
			t.Errorf("%s: %v (permanent %v), want a permanent error saying %q", c.path, err, IsPermanent(err), c.message)
		}
		if n := requests.Load(); n != 1 {
			t.Errorf("%s: %d requests, want 1", c.path, n)
		}
	}
}

// New's client stops after MaxRedirects redirects that are not a loop.
func TestNewStopsAfterMaxRedirects(t *testing.T) {
	var requests atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		http.Redirect(w, r, "/"+strings.Repeat("x", int(n)), http.StatusFound)
	}))
	defer s.Close()
	_, err := New(http.DefaultTransport).Get(s.URL + "/")
	if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Errorf("%v: want a permanent error after %d redirects", err, MaxRedirects)
	}
	if n := requests.Load(); n != MaxRedirects {
		t.Errorf("%d requests, want %d", n, MaxRedirects)
	}
}
