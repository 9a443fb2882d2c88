package fetch

import (
	"io"
	"log"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hashr-dev/hashr/internal/formats/oci/ocitest"
	"github.com/hashr-dev/hashr/internal/httpclient/httpclienttest"
	"github.com/hashr-dev/hashr/pkg/records"
)

// newHostileRegistry starts a loopback registry holding test/img:1, whose
// manifest requests (GET /v2/test/img/manifests/…) manifest answers
// instead; the server counts the requests of the run under test alone.
func newHostileRegistry(t *testing.T, manifest http.HandlerFunc) (*httpclienttest.Hostile, string) {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	hostile := false
	h := httpclienttest.NewHostile(t, func(w http.ResponseWriter, r *http.Request) {
		if hostile && isManifest(r.URL.Path) {
			manifest(w, r)
			return
		}
		reg.ServeHTTP(w, r)
	})
	host := strings.TrimPrefix(h.URL, "http://")
	ref, err := name.ParseReference(host + "/test/img:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, ocitest.Image(t, "amd64")); err != nil {
		t.Fatal(err)
	}
	h.ResetCounts()
	hostile = true // set before any request of the run under test
	return h, "oci://" + host + "/test/img:1"
}

func isManifest(path string) bool { return strings.Contains(path, "/manifests/") }

// A manifest sent a byte now and then never trips --idle-timeout; the
// pull still ends at --max-time, an error record, nothing left in --work.
func TestMaxTimeEndsASlowManifest(t *testing.T) {
	var reg *httpclienttest.Hostile
	reg, uri := newHostileRegistry(t, func(w http.ResponseWriter, r *http.Request) {
		reg.Drip(w, r, "application/vnd.oci.image.manifest.v1+json")
	})
	work := t.TempDir()
	start := time.Now()
	r := fetchWithin(t, 10*time.Second, reg.Stop,
		sourceLine(t, records.Source{ID: "img", URI: uri}),
		"--work", work, "--idle-timeout", "1s", "--max-time", "700ms", "--retries", "1")
	e := one[*records.Error](t, r)
	t.Log(e.Message)
	if r.status != 3 || !strings.Contains(e.Message, "--max-time") {
		t.Errorf("status %d, record %+v: want an error naming --max-time", r.status, e)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s, want about --max-time 700ms", took)
	}
	if names := dirNames(t, work); len(names) != 0 {
		t.Errorf("work holds %v", names)
	}
}

// A manifest request that redirects in a loop, or to a file:// URL, fails
// at once and for good: no retry, no redirect followed past the loop.
func TestManifestRedirectsAreChecked(t *testing.T) {
	for _, c := range []permanentCase{
		{"redirect loop", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		}, 1, "redirect loop"},
		redirectToFile,
	} {
		t.Run(c.name, func(t *testing.T) {
			reg, uri := newHostileRegistry(t, c.handler)
			work := t.TempDir()
			r := fetchWithin(t, 10*time.Second, reg.Stop, sourceLine(t, records.Source{ID: "img", URI: uri}),
				"--work", work, "--retries", "2")
			e := one[*records.Error](t, r)
			t.Log(e.Message)
			if r.status != 3 || !strings.Contains(e.Message, c.message) {
				t.Errorf("status %d, record %+v: want an error saying %q", r.status, e, c.message)
			}
			if n := reg.CountMatching(isManifest); n != c.requests {
				t.Errorf("%d manifest requests, want %d (no retry)", n, c.requests)
			}
			if names := dirNames(t, work); len(names) != 0 {
				t.Errorf("work holds %v", names)
			}
		})
	}
}
