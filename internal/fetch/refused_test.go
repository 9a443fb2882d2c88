package fetch

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// A refused source (it failed verification in hashr-scan) passes
// through with its error and end records as they came: its bytes are
// neither downloaded nor read, nor copied with --copy always.
func TestRefusedSourcePassesThrough(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Write([]byte("the refused bytes"))
	}))
	defer srv.Close()
	stream := `{"type":"source","id":"x.deb","uri":"` + srv.URL + `/x.deb","size":17,"verified":{"ok":false,"by":"apt-release","detail":"bad signature"},"refused":true}
{"type":"error","stage":"scan","source":"` + srv.URL + `/x.deb","message":"bad signature"}
{"type":"end","source":"` + srv.URL + `/x.deb","files":0,"errors":1,"bytes":0}
`
	work := t.TempDir()
	res := fetchMain(t, stream, "--work", work, "--copy", "always")
	if res.status != 0 || res.stdout != stream || requests.Load() != 0 {
		t.Fatalf("exit %d, %d requests, output\n%s\nwant the input unchanged\n%s", res.status, requests.Load(), res.stdout, res.stderr)
	}
	if names := dirNames(t, work); len(names) != 0 {
		t.Errorf("work directory holds %v", names)
	}
}
