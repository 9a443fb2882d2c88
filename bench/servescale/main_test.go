package main

import (
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// The load generator's shortcuts ask for the samples gen wrote.
func TestRequestsNameGeneratedSamples(t *testing.T) {
	for _, i := range []int{0, 7, 999, 9_871_999} {
		if got, want := hex.EncodeToString(sha1Of(i)), digestsOf(sampleContent(i)).sha1; got != want {
			t.Errorf("sha1Of(%d) = %s, want %s", i, got, want)
		}
	}
	keys := newSampleKeys(50)
	known := map[string]bool{}
	for i := range 50 {
		known[digestsOf(sampleContent(i)).sha1] = true
	}
	r, picked := rand.New(rand.NewPCG(1, 2)), map[int32]struct{}{}
	var buf []byte
	for range 3 { // the body and the picked reused
		buf = bulkBody(buf, r, keys, 20, picked)
		var body struct{ Hashes []string }
		if err := json.Unmarshal(buf, &body); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, h := range body.Hashes {
			seen[h] = true
			if !known[h] {
				t.Errorf("bulk names %s, not a sample of the set", h)
			}
		}
		if len(body.Hashes) != 20 || len(seen) != 20 {
			t.Errorf("bulk of 20 of 50 samples: %d hashes, %d distinct", len(body.Hashes), len(seen))
		}
	}
}

// BenchmarkBulkBody is the generator's own work for a bulk of 1,000 (of
// a 1M set): it shares the CPUs with the server it measures.
func BenchmarkBulkBody(b *testing.B) {
	keys := newSampleKeys(1_000_000)
	r, picked := rand.New(rand.NewPCG(1, 2)), map[int32]struct{}{}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = bulkBody(buf, r, keys, 1000, picked)
	}
}
