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
	var body struct{ Hashes []string }
	if err := json.Unmarshal(bulkBody(rand.New(rand.NewPCG(1, 2)), 50, 20), &body); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, h := range body.Hashes {
		seen[h] = true
	}
	if len(body.Hashes) != 20 || len(seen) != 20 {
		t.Errorf("bulk of 20 of 50 samples: %d hashes, %d distinct", len(body.Hashes), len(seen))
	}
}
