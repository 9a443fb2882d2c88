package serve

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// decodedBulk is what handleBulk read of a body before readBulkHashes:
// json.Decoder into a bulkRequest.
func decodedBulk(body io.Reader) (hashes [][]byte, found bool, err error) {
	var req bulkRequest
	if err := json.NewDecoder(body).Decode(&req); err != nil {
		return nil, false, err
	}
	if req.Hashes == nil {
		return nil, false, nil
	}
	for _, h := range *req.Hashes {
		hashes = append(hashes, []byte(h))
	}
	return hashes, true, nil
}

// bulkBodies are bodies as clients send them and as they should not.
var bulkBodies = []string{
	`{"hashes": ["0123456789abcdef0123456789abcdef", "AAAA"]}`, `{"hashes":[]}`, ` {"hashes" : [ "a" , "b" ] } ` + "\n",
	`{"hashes": []}x`, `{"hashes": ["a",]}`, `{"hashes": ["a" "b"]}`, `{"hashes": ["a\"b"]}`, `{"hashes": ["\u0041"]}`,
	`{"hashes": ["caf` + "\u00e9" + `"]}`, `{"hashes": ["bad` + "\xff" + `"]}`, `{"hashes": ["tab` + "\t" + `"]}`,
	`{"Hashes": ["a"]}`, `{"HASHES": ["a"]}`, `{"hashes": ["a"], "hashes": ["b"]}`, `{"other": 1, "hashes": ["a"]}`,
	`{"hashes": null}`, `{"hashes": [1]}`, `{"hashes": "a"}`, `{}`, `[]`, ``, ` `, `{"hashes": ["a"]`, `{"hashes": ["a`,
	`{"hashes": ["a"]} {"hashes": ["b"]}`, `{"hashes": ["a"]}]`, "\t\r\n{\"hashes\":[\"a\"]}\t\r\n",
}

// readBulkHashes reads every body as json.Decoder did: the same hashes,
// the same "found", the same error.
func TestReadBulkHashesAsDecoder(t *testing.T) {
	for _, body := range bulkBodies {
		checkBulkBody(t, []byte(body))
	}
}

// Any body is read as json.Decoder read it, whole or cut by the server's
// limit on bodies.
func FuzzReadBulkHashes(f *testing.F) {
	for _, body := range bulkBodies {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkBulkBody(t, body) })
}

// checkBulkBody compares readBulkHashes with json.Decoder on body, whole
// and limited to fewer bytes, as the server limits bodies (a value that
// ends before the limit is read, one cut by it fails with the limit).
func checkBulkBody(t *testing.T, body []byte) {
	t.Helper()
	for _, limit := range []int{len(body), len(body) / 2, len(body) - 1} {
		limited := func() io.ReadCloser {
			return http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(body)), int64(max(limit, 0)))
		}
		got, gotFound, gotErr := readBulkHashes(limited())
		want, wantFound, wantErr := decodedBulk(limited())
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || gotFound != wantFound || !slices.EqualFunc(got, want, bytes.Equal) {
			t.Errorf("body %q, limit %d: read %q, %v, %v; json.Decoder %q, %v, %v",
				body, limit, got, gotFound, gotErr, want, wantFound, wantErr)
		}
	}
}

// The fast path takes the bodies clients send: a PyHashlookup body and a
// compact one give their hashes as slices of the body.
func TestPlainBulkHashes(t *testing.T) {
	for _, body := range []string{`{"hashes": ["A", "b"]}`, `{"hashes":["A","b"]}`} {
		hashes, ok := plainBulkHashes([]byte(body))
		if !ok || len(hashes) != 2 || string(hashes[0]) != "A" || string(hashes[1]) != "b" {
			t.Errorf("%s: %q, %v; want [A b], true", body, hashes, ok)
		}
	}
	if _, ok := plainBulkHashes([]byte(`{"hashes": ["` + strings.Repeat("a", 10) + `\n"]}`)); ok {
		t.Error("a string with an escape taken by the fast path")
	}
}

// decodeDigest takes what hex.Decode takes, a digest of either case,
// and refuses what it refuses: every byte in every place of a digest.
func TestDecodeDigestAsHex(t *testing.T) {
	algo := algorithms["md5"]
	for at := range algo.hexLen {
		for c := range 256 {
			h := []byte("0123456789abcdefABCDEF0123456789")
			h[at] = byte(c)
			want, wantErr := hex.DecodeString(string(h))
			got := make([]byte, algo.hexLen/2)
			if ok := algo.decodeDigest(got, h); ok != (wantErr == nil) || ok && !bytes.Equal(got, want) {
				t.Fatalf("decodeDigest(%q) = %x, %v; hex.Decode: %x, %v", h, got, ok, want, wantErr)
			}
		}
	}
}
