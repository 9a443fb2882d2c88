package rpmsig

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzVerify: a hostile RPM never panics and never verifies without keys.
func FuzzVerify(f *testing.F) {
	seeds, _ := filepath.Glob("../../formats/rpm/testdata/*.rpm")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil && len(data) < 64<<10 {
			f.Add(data)
		}
	}
	f.Add([]byte{0xed, 0xab, 0xee, 0xdb, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		if res, err := Verify(bytes.NewReader(data), nil); err == nil && res.OK {
			t.Fatalf("verified without keys: %+v", res)
		}
	})
}
