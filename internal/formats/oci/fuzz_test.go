package oci

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
	"github.com/hashr-dev/hashr/internal/formats/oci/ocitest"
)

// FuzzImageTar feeds OCI layout tars and docker archives, built here and
// kept in testdata/fuzz/FuzzImageTar, to both walks. The first byte picks
// the format and the mode.
func FuzzImageTar(f *testing.F) {
	for _, seed := range seedImages(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		format, opts := Layout, Options{Flatten: data[0]&1 != 0}
		if data[0]&2 != 0 {
			format = DockerArchive
		}
		w, err := NewWalker(bytes.NewReader(data[1:]), int64(len(data)-1), format, opts)
		if err != nil {
			return
		}
		_ = archivetest.Exercise(w, 64<<10, 1000)
	})
}

// seedImages are the test image (uncompressed layers, so mutations reach
// the layer tars) as a layout tar and a docker archive, each prefixed by
// the byte that selects its format, in both modes.
func seedImages(t testing.TB) [][]byte {
	img := ocitest.ImageOf(t, ocitest.Layers, false)
	dir := t.TempDir()
	ocitest.WriteLayout(t, filepath.Join(dir, "layout"), img)
	ocitest.TarDir(t, filepath.Join(dir, "layout"), filepath.Join(dir, "layout.tar"))
	ocitest.WriteDockerArchive(t, filepath.Join(dir, "docker.tar"), "example.org/fuzz:1", img)
	var seeds [][]byte
	for _, c := range []struct {
		file string
		kind byte
	}{{"layout.tar", 0}, {"docker.tar", 2}} {
		b, err := os.ReadFile(filepath.Join(dir, c.file))
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, append([]byte{c.kind}, b...), append([]byte{c.kind | 1}, b...))
	}
	return seeds
}

// TestWriteFuzzSeeds rewrites testdata/fuzz/FuzzImageTar with
// HASHR_WRITE_FUZZ_SEEDS=1, so the committed corpus is the built one.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("HASHR_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set HASHR_WRITE_FUZZ_SEEDS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzImageTar")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, seed := range seedImages(t) {
		var b bytes.Buffer
		b.WriteString("go test fuzz v1\n[]byte(")
		b.WriteString(quoteBytes(seed))
		b.WriteString(")\n")
		if err := os.WriteFile(filepath.Join(dir, []string{"layout", "layout-flatten", "docker", "docker-flatten"}[i]), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func quoteBytes(b []byte) string {
	var s bytes.Buffer
	s.WriteByte('"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			s.WriteByte('\\')
			s.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			s.WriteByte(c)
		default:
			s.WriteString(`\x`)
			s.WriteByte("0123456789abcdef"[c>>4])
			s.WriteByte("0123456789abcdef"[c&15])
		}
	}
	s.WriteByte('"')
	return s.String()
}

// FuzzStreamImages: any bytes read once (by StreamImages, of a kind
// given, or StreamAnyImages) give images or an error, never a panic; on the seeds, what ArchiveImages reads in place.
func FuzzStreamImages(f *testing.F) {
	for _, seed := range seedImages(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		format := Layout
		if data[0]&2 != 0 {
			format = DockerArchive
		}
		_, _ = StreamImages(bytes.NewReader(data[1:]), format)
		_, _ = StreamAnyImages(bytes.NewReader(data[1:]))
	})
}

// StreamImages and StreamAnyImages, reading an image tar once, name what
// ArchiveImages names reading it in place: a layout tar and a docker archive.
func TestStreamImagesMatchesArchiveImages(t *testing.T) {
	for i, seed := range seedImages(t) {
		format := Layout
		if seed[0]&2 != 0 {
			format = DockerArchive
		}
		want, err := ArchiveImages(bytes.NewReader(seed[1:]), int64(len(seed)-1), format)
		if err != nil || len(want) == 0 {
			t.Fatalf("seed %d: ArchiveImages: %v, %v", i, want, err)
		}
		got, err := StreamImages(bytes.NewReader(seed[1:]), format)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("seed %d: StreamImages %v, %v; want %v", i, got, err, want)
		}
		got, err = StreamAnyImages(bytes.NewReader(seed[1:]))
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("seed %d: StreamAnyImages %v, %v; want %v", i, got, err, want)
		}
	}
}
