package authenticode

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A hostile signature blob is a clear error, never a crash or a read of
// whatever size the header claims.
func TestHostileSignatureBlobs(t *testing.T) {
	p := newPKI(t, "alpha")
	data, err := os.ReadFile(signedCAB(t, p, timestampArgs(p, time.Now())...))
	if err != nil {
		t.Fatal(err)
	}
	offset := binary.LittleEndian.Uint32(data[44:48])
	for _, c := range []struct {
		name, want string
		cab        []byte
	}{
		{"blob cut in half", "parsing the signature", truncatedSignature(data, offset)},
		{"file cut short", "does not end the", data[:len(data)-100]},
		{"blob of zeros", "parsing the signature", zeroedSignature(data, offset)},
	} {
		res, err := VerifyCAB(c.cab, nil, time.Now())
		if err == nil || res.OK || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %+v, err %v, want %q", c.name, res, err, c.want)
		}
	}
}

// truncatedSignature keeps the first half of the signature and says so
// in the header, so the blob still ends the file.
func truncatedSignature(data []byte, offset uint32) []byte {
	half := (uint32(len(data)) - offset) / 2
	cab := append([]byte(nil), data[:offset+half]...)
	binary.LittleEndian.PutUint32(cab[48:52], half)
	return cab
}

func zeroedSignature(data []byte, offset uint32) []byte {
	cab := append([]byte(nil), data...)
	clear(cab[offset:])
	return cab
}

// A header that claims a signature of 1 GiB (the file sparse, as big) is
// refused before anything is read into memory.
func TestHugeSignatureRefused(t *testing.T) {
	p := newPKI(t, "alpha")
	data, err := os.ReadFile(signedCAB(t, p))
	if err != nil {
		t.Fatal(err)
	}
	offset := binary.LittleEndian.Uint32(data[44:48])
	binary.LittleEndian.PutUint32(data[48:52], 1<<30)
	path := filepath.Join(t.TempDir(), "huge.cab")
	if err := os.WriteFile(path, data[:offset], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, int64(offset)+1<<30); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = VerifyCABAt(f, int64(offset)+1<<30, nil, time.Now())
	if err == nil || !strings.Contains(err.Error(), "no real signature comes near") {
		t.Fatalf("err %v, want the size refused", err)
	}
}

// TestWriteSignatureSeeds writes FuzzSignature's seed corpus, a signature
// with an RFC 3161 timestamp, when HASHR_WRITE_FUZZ_SEEDS=1.
func TestWriteSignatureSeeds(t *testing.T) {
	if os.Getenv("HASHR_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("HASHR_WRITE_FUZZ_SEEDS=1 writes the seeds")
	}
	p := newPKI(t, "seed")
	data, err := os.ReadFile(signedCAB(t, p, timestampArgs(p, time.Now())...))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzSignature")
	os.MkdirAll(dir, 0o755)
	blob := data[len(data)-sigSize(t, data):]
	seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", blob)
	if err := os.WriteFile(filepath.Join(dir, "rfc3161"), []byte(seed), 0o644); err != nil {
		t.Fatal(err)
	}
}
