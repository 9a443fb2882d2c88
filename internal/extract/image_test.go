package extract

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/oci/ocitest"
	"github.com/hashr-dev/hashr/internal/magic"
)

func imageSums(files map[string]string) map[string]string {
	out := map[string]string{}
	for name, body := range files {
		out[name] = sha256Hex(body)
	}
	return out
}

// An image with several layers, a whiteout, an opaque directory and hard
// links gives the expected files from an OCI layout directory, an OCI
// layout tar (plain and gzipped) and a docker archive, layer by layer and
// flattened, hashed on the fly and spooled.
func TestContainerImages(t *testing.T) {
	img := ocitest.Image(t)
	dir := t.TempDir()
	layoutDir := filepath.Join(dir, "layout")
	ocitest.WriteLayout(t, layoutDir, img)
	layoutTar := filepath.Join(dir, "layout.tar")
	ocitest.TarDir(t, layoutDir, layoutTar)
	dockerTar := filepath.Join(dir, "image.tar")
	ocitest.WriteDockerArchive(t, dockerTar, "example.org/test:1", img)
	if out, err := exec.Command("gzip", "-k", dockerTar).CombinedOutput(); err != nil {
		t.Fatalf("gzip: %v\n%s", err, out)
	}
	byDigest := ocitest.ByLayer(ocitest.LayerDigests(t, img))
	byDiffID := ocitest.ByLayer(ocitest.DiffIDs(t, img))
	for _, c := range []struct {
		name, path string
		layers     map[string]string
	}{
		{"layout dir", layoutDir, byDigest},
		{"layout tar", layoutTar, byDigest},
		{"docker archive", dockerTar, byDiffID},
		{"docker archive, gzipped", dockerTar + ".gz", byDiffID},
	} {
		for _, mode := range [][]string{{"--hash", "sha256"}, {"--spool", t.TempDir()}} {
			for _, flatten := range []bool{false, true} {
				args := append([]string{}, mode...)
				want := c.layers
				if flatten {
					args = append(args, "--flatten")
					want = ocitest.Flattened
				}
				o := extract(t, sourceLine(c.path), args...)
				if o.status != 0 {
					t.Fatalf("%s %v: %s", c.name, args, describe(o))
				}
				equalSums(t, c.name+" "+filepath.Base(args[0])+map[bool]string{true: " --flatten"}[flatten], o.sums(t), imageSums(want))
			}
		}
	}
}

func TestContainerImagePlatforms(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "multi")
	ocitest.WriteIndexLayout(t, dir, ocitest.Image(t, "amd64"), ocitest.Image(t, "arm64"))
	o := extract(t, sourceLine(dir), "--hash", "sha256", "--flatten", "--platform", "linux/arm64")
	if o.status != 0 {
		t.Fatal(describe(o))
	}
	equalSums(t, "--platform linux/arm64", o.sums(t), imageSums(ocitest.Flattened))
	o = extract(t, sourceLine(dir), "--hash", "sha256", "--flatten")
	if n := len(o.files()); n != 2*len(ocitest.Flattened) {
		t.Errorf("every platform: %d files, want %d\n%s", n, 2*len(ocitest.Flattened), describe(o))
	}
	if o := extract(t, sourceLine(dir), "--hash", "sha256", "--platform", "linux"); o.status != 2 {
		t.Errorf("--platform linux: status %d, want 2 (usage)", o.status)
	}
	o = extract(t, sourceLine(dir), "--hash", "sha256", "--platform", "linux/s390x")
	if o.status != 3 || len(o.errors()) != 1 {
		t.Errorf("a platform the image lacks: want one error record, status 3\n%s", describe(o))
	}
}

// A directory that is not an image layout is an error record.
func TestDirectoryNotLayout(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := extract(t, sourceLine(dir), "--hash", "sha256")
	if o.status != 3 || len(o.errors()) != 1 {
		t.Errorf("want one error record and status 3\n%s", describe(o))
	}
}

// Layer tars are hostile input like any archive: names that climb out,
// links out of the image, devices, paths through symlinks, members whose
// bytes are cut short.
func TestHostileImageLayers(t *testing.T) {
	layers := [][]ocitest.Member{
		{
			{Name: "ok/file", Body: "fine\n"},
			{Name: "../../../escape", Body: "out\n"},
			{Name: "/etc/abs", Body: "absolute names are the image's root\n"},
			{Name: "dev/sda", Typeflag: '4'},
			{Name: "lnk", Typeflag: '2', Linkname: "/etc"},
			{Name: "lnk/passwd", Body: "through a symlink\n"},
			{Name: "hard", Typeflag: '1', Linkname: "../../../etc/shadow"},
			{Name: "dangling", Typeflag: '1', Linkname: "not/here"},
		},
		{
			{Name: "ok/.wh.nothing"},
			{Name: "x/../../climb", Body: "out\n"},
		},
	}
	img := ocitest.ImageOf(t, layers, true)
	dir := t.TempDir()
	file := filepath.Join(dir, "hostile.tar")
	ocitest.WriteDockerArchive(t, file, "example.org/hostile:1", img)
	for _, flatten := range []bool{false, true} {
		spool := filepath.Join(t.TempDir(), "spool")
		args := []string{"--spool", spool}
		if flatten {
			args = append(args, "--flatten")
		}
		o := extract(t, sourceLine(file), args...)
		if o.status != 3 {
			t.Fatalf("flatten=%v: status %d, want 3\n%s", flatten, o.status, describe(o))
		}
		var names []string
		for p := range o.files() {
			names = append(names, filepath.Base(p))
		}
		for _, want := range []string{"file", "abs"} {
			if !slices.Contains(names, want) {
				t.Errorf("flatten=%v: %s missing from %v", flatten, want, names)
			}
		}
		for _, bad := range []string{"escape", "climb", "sda", "shadow", "dangling"} {
			if slices.Contains(names, bad) {
				t.Errorf("flatten=%v: %s extracted", flatten, bad)
			}
		}
		if n := len(o.errors()); n < 4 {
			t.Errorf("flatten=%v: %d error records, want one per hostile member\n%s", flatten, n, describe(o))
		}
		assertOnlyRegularFiles(t, spool)
		mustNotExist(t, filepath.Join(dir, "escape"), filepath.Join(filepath.Dir(spool), "escape"), filepath.Join(filepath.Dir(spool), "climb"))
	}
}

// A layer whose member says it is bigger than the layer holds is a
// truncated layer: an error record, and the files before it stay.
func TestTruncatedImageLayer(t *testing.T) {
	img := ocitest.ImageOf(t, [][]ocitest.Member{{
		{Name: "a", Body: "a\n"},
		{Name: "big", Body: "short", Size: 1 << 30},
	}}, false)
	file := filepath.Join(t.TempDir(), "layout.tar")
	layout := filepath.Join(t.TempDir(), "layout")
	ocitest.WriteLayout(t, layout, img)
	ocitest.TarDir(t, layout, file)
	o := extract(t, sourceLine(file), "--hash", "sha256")
	if o.status != 3 || len(o.errors()) == 0 {
		t.Fatalf("status %d\n%s", o.status, describe(o))
	}
}

// Ground truth from other tools: umoci unpacks the OCI layout into a root
// file system (applying whiteouts and opaque directories itself), which
// --flatten must match file for file; skopeo writes the image as a
// docker archive of its own (<hex>.tar layers, <hex>.json config), which
// must give the same files.
func TestContainerImageGroundTruth(t *testing.T) {
	needTool(t, "umoci", "skopeo")
	img := ocitest.Image(t)
	dir := t.TempDir()
	layout := filepath.Join(dir, "layout")
	ocitest.WriteLayout(t, layout, img)
	bundle := filepath.Join(dir, "bundle")
	if out, err := exec.Command("umoci", "unpack", "--rootless", "--image", layout+":latest", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	rootfs := filepath.Join(bundle, "rootfs")
	want := map[string]string{}
	err := filepath.WalkDir(rootfs, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(rootfs, p)
		want[filepath.ToSlash(rel)] = fileSHA256(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != len(ocitest.Flattened) {
		t.Errorf("umoci's root file system has %d files, the test image's flattened set %d", len(want), len(ocitest.Flattened))
	}
	o := extract(t, sourceLine(layout), "--hash", "sha256", "--flatten")
	equalSums(t, "--flatten against umoci unpack", o.sums(t), want)

	archive := filepath.Join(dir, "skopeo.tar")
	if out, err := exec.Command("skopeo", "copy", "--quiet", "oci:"+layout+":latest", "docker-archive:"+archive+":example.org/test:1").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	o = extract(t, sourceLine(archive), "--hash", "sha256", "--flatten")
	if o.status != 0 {
		t.Fatal(describe(o))
	}
	equalSums(t, "skopeo's docker archive, --flatten", o.sums(t), want)
	o = extract(t, sourceLine(archive), "--hash", "sha256")
	equalSums(t, "skopeo's docker archive, by layer", o.sums(t), imageSums(ocitest.ByLayer(ocitest.DiffIDs(t, img))))
}

// fileLines are o's file records as JSON, without the source's id (the
// file's name) and the spooled copy, sorted: what two sources that hold
// the same files give alike.
func (o *runOutput) fileLines(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, line := range o.lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["type"] != "file" {
			continue
		}
		delete(m, "source")
		delete(m, "local")
		b, _ := json.Marshal(m)
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}

// compressTo writes file compressed by tool (gzip, xz, zstd) to
// file.<ext> and returns its name.
func compressTo(t *testing.T, tool, ext, file string) string {
	t.Helper()
	needTool(t, tool)
	if out, err := exec.Command(tool, "-k", "-q", "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, file, err, out)
	}
	return file + "." + ext
}

// compressors are the compressions people put around docker save.
var compressors = []struct{ tool, ext string }{{"gzip", "gz"}, {"xz", "xz"}, {"zstd", "zst"}}

// A container image tar compressed with gzip, xz or zstd is the image,
// as its uncompressed tar is: the same file records, layer by layer and
// flattened, parsed in-process and in a sandbox child. It was walked as
// a plain tar, its blobs taken for its files.
func TestCompressedImageTars(t *testing.T) {
	// A layer past the 64 KiB a stream's format is told from.
	noise := make([]byte, 256<<10)
	rand.NewChaCha8([32]byte{1}).Read(noise)
	img := ocitest.ImageOf(t, append(slices.Clone(ocitest.Layers), []ocitest.Member{{Name: "noise", Body: string(noise)}}), true)
	dir := t.TempDir()
	layoutDir := filepath.Join(dir, "layout")
	ocitest.WriteLayout(t, layoutDir, img)
	layoutTar := filepath.Join(dir, "layout.tar")
	ocitest.TarDir(t, layoutDir, layoutTar)
	dockerTar := filepath.Join(dir, "image.tar")
	ocitest.WriteDockerArchive(t, dockerTar, "example.org/test:1", img)
	for _, plain := range []string{layoutTar, dockerTar} {
		for _, c := range compressors {
			packed := compressTo(t, c.tool, c.ext, plain)
			checkSameFiles(t, plain, packed)
		}
	}
}

// An image whose one file is a tar gives that tar as its file, compressed
// or not: an image is no wrapper to unwrap, as a tar holding one archive
// is.
func TestCompressedImageTarOfOneArchive(t *testing.T) {
	noise := make([]byte, 256<<10)
	rand.NewChaCha8([32]byte{2}).Read(noise)
	inner := ocitest.LayerTar(t, []ocitest.Member{{Name: "noise", Body: string(noise)}})
	img := ocitest.ImageOf(t, [][]ocitest.Member{{{Name: "app.tar", Body: string(inner)}}}, true)
	dockerTar := filepath.Join(t.TempDir(), "image.tar")
	ocitest.WriteDockerArchive(t, dockerTar, "example.org/one:1", img)
	checkSameFiles(t, dockerTar, compressTo(t, "gzip", "gz", dockerTar), []string{"--hash", "sha256", "--no-sandbox"})
}

// checkSameFiles checks that hashr-extract gives the same file records
// of packed as of plain, with and without --flatten, in each mode given
// (the default: in-process and in a sandbox child).
func checkSameFiles(t *testing.T, plain, packed string, modes ...[]string) {
	t.Helper()
	if modes == nil {
		modes = [][]string{{"--hash", "sha256"}, {"--hash", "sha256", "--no-sandbox"}}
	}
	for _, mode := range modes {
		for _, flatten := range []bool{false, true} {
			args := slices.Clone(mode)
			if flatten {
				args = append(args, "--flatten")
			}
			want := extract(t, sourceLine(plain), args...)
			got := extract(t, sourceLine(packed), args...)
			if want.status != 0 || got.status != 0 || len(want.files()) == 0 {
				t.Fatalf("%s %v: status %d, %s %v: status %d\n%s\n%s", filepath.Base(plain), args, want.status,
					filepath.Base(packed), args, got.status, describe(want), describe(got))
			}
			if w, g := want.fileLines(t), got.fileLines(t); !slices.Equal(w, g) {
				t.Errorf("%s %v: file records differ from %s's\ngot:  %s\nwant: %s", filepath.Base(packed), args,
					filepath.Base(plain), strings.Join(g, "\n      "), strings.Join(w, "\n      "))
			}
		}
	}
}

// A compressed image tar whose manifest lies past the 64 MiB hashr-scan's
// detection reads of it (a real image: "docker save" writes manifest.json
// after the layers) is the image too, not a tar of blobs.
func TestCompressedImageTarPastDetection(t *testing.T) {
	var big strings.Builder
	for i := 0; big.Len() <= magic.MaxTarWalk; i++ {
		fmt.Fprintf(&big, "line %09d of a file past the detection's reach\n", i)
	}
	layers := append(slices.Clone(ocitest.Layers), []ocitest.Member{{Name: "big", Body: big.String()}})
	img := ocitest.ImageOf(t, layers, false) // uncompressed, as the outer compression then pays
	dockerTar := filepath.Join(t.TempDir(), "image.tar")
	ocitest.WriteDockerArchive(t, dockerTar, "example.org/big:1", img)
	for _, c := range []struct{ tool, ext string }{{"gzip", "gz"}, {"zstd", "zst"}} {
		packed := compressTo(t, c.tool, c.ext, dockerTar)
		checkSameFiles(t, dockerTar, packed, []string{"--hash", "sha256"})
	}
}

// A compressed tar that starts as an image tar does and decompresses to
// far more than it is (a bomb) stops at --max-ratio, as any other does.
func TestCompressedImageTarBomb(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bomb.tar.gz")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	const size = 100 << 20
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/" + strings.Repeat("ab", 32), Size: size, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeros{}, size); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{tw.Close(), zw.Close(), f.Close()} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, mode := range [][]string{nil, {"--no-sandbox"}} {
		spool := t.TempDir()
		o := extract(t, sourceLine(file), append([]string{"--spool", spool, "--max-ratio", "100"}, mode...)...)
		if o.status != 3 || len(o.errors()) != 1 || !strings.Contains(o.errors()[0].Message, "--max-ratio") || len(o.files()) != 0 {
			t.Errorf("%v: want one --max-ratio error record, no files, status 3\n%s", mode, describe(o))
		}
		if names := assertOnlyRegularFiles(t, spool); len(names) != 0 {
			t.Errorf("%v: left behind: %v", mode, names)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
