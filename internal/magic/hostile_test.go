package magic

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// arMagic starts every ar archive (the detector is in package formats).
const arMagic = "!<arch>\n"

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(formatsDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func detectWithin(t *testing.T, data []byte, limit time.Duration) Result {
	t.Helper()
	start := time.Now()
	res := DetectBytes(data)
	if d := time.Since(start); d > limit {
		t.Errorf("Detect took %v on %d bytes, want under %v", d, len(data), limit)
	}
	return res
}

func TestDetectSmallAndEmpty(t *testing.T) {
	for _, data := range [][]byte{nil, {0}, []byte("0123456789"), bytes.Repeat([]byte{0xff}, 10),
		[]byte("PK\x03\x04"), []byte("\x1f\x8b\x08"), []byte("BZh9"), []byte("\xfd7zXZ\x00"),
		[]byte("KDMV"), []byte("conectix"), []byte("070701"), []byte("\xc7\x71")} {
		if got := DetectBytes(data); got.Known() {
			t.Errorf("Detect(%q) = %v, want unknown", data, got)
		}
	}
	if got := DetectBytes([]byte(arMagic)); got.Format != Ar {
		t.Errorf("an empty ar archive: Detect = %v, want ar", got)
	}
}

// Every fixture cut short anywhere: no panic, no error, no hang.
func TestDetectTruncatedFixtures(t *testing.T) {
	cuts := []int{1, 2, 4, 6, 8, 13, 26, 60, 68, 100, 148, 257, 300, 511, 512, 513, 1024, 1100,
		2047, 4096, 32768, 32770, 32775, 34816, 40000, 65535}
	for _, fx := range readExpected(t) {
		if fx.origin != "committed" || fx.format == OCI && !bytes.HasSuffix([]byte(fx.name), []byte(".tar")) {
			continue
		}
		data := readFixture(t, fx.name)
		for _, n := range cuts {
			if n < len(data) {
				detectWithin(t, data[:n], 2*time.Second)
			}
		}
	}
}

func TestTarChecksum(t *testing.T) {
	block := readFixture(t, "sample.tar")[:512]
	if got := DetectBytes(block); got.Format != Tar {
		t.Fatalf("first block of sample.tar: Detect = %v, want tar", got)
	}
	bad := bytes.Clone(block)
	bad[1] ^= 0x20 // a name byte: the stored checksum no longer matches
	if got := DetectBytes(bad); got.Known() {
		t.Errorf("tar header with a bad checksum: Detect = %v, want unknown", got)
	}
	noDigits := bytes.Clone(block)
	copy(noDigits[148:156], "        ")
	if got := DetectBytes(noDigits); got.Known() {
		t.Errorf("tar header with an empty checksum: Detect = %v, want unknown", got)
	}
}

func TestCorruptCompressedStreams(t *testing.T) {
	tgz := readFixture(t, "sample.tar.gz")
	corrupt := bytes.Clone(tgz)
	for i := 20; i < len(corrupt); i += 7 {
		corrupt[i] ^= 0x5a
	}
	detectWithin(t, corrupt, 2*time.Second)
	// A gzip header, then garbage.
	garbage := append([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"), bytes.Repeat([]byte{0xa5}, 100_000)...)
	if got := detectWithin(t, garbage, 2*time.Second); got.Known() {
		t.Errorf("gzip header with garbage: Detect = %v, want unknown", got)
	}
	for _, name := range []string{"sample.tar.bz2", "sample.tar.xz", "sample.tar.zst", "sample.tar.lz4", "sample.tar.lzma", "ext2.img.gz"} {
		data := readFixture(t, name)
		for n := 1; n < len(data); n += 37 {
			detectWithin(t, data[:n], 2*time.Second)
		}
		flipped := bytes.Clone(data)
		flipped[len(flipped)/2] ^= 0xff
		detectWithin(t, flipped, 2*time.Second)
	}
}

// An xz or lzma header may ask for a 1.5 GiB dictionary; detection must
// not allocate it.
func TestHugeDictionaryIsCapped(t *testing.T) {
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("xz is not installed")
	}
	tarBytes := readFixture(t, "sample.tar")
	for _, args := range [][]string{
		{"--lzma2=dict=1536MiB", "-c"},
		{"--format=lzma", "--lzma1=dict=1536MiB", "-c"},
	} {
		cmd := exec.Command("xz", args...)
		cmd.Stdin = bytes.NewReader(tarBytes)
		packed, err := cmd.Output()
		if err != nil {
			t.Fatalf("xz %v: %v", args, err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		got := DetectBytes(packed)
		runtime.ReadMemStats(&after)
		if got.Format != Tar {
			t.Errorf("xz %v: Detect = %v, want tar", args, got)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 100<<20 {
			t.Errorf("xz %v: Detect allocated %d MiB", args, alloc>>20)
		}
	}
}

// A compressed tar that looks like a container image but goes on and on is
// a tar once MaxTarWalk bytes are read.
func TestCompressedTarWalkIsBounded(t *testing.T) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	const blobSize = 4 * MaxTarWalk
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/big", Size: blobSize, Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeroReader{}, blobSize); err != nil {
		t.Fatal(err)
	}
	writeTarFile(t, tw, "manifest.json", `[{"Config":"c.json","RepoTags":null,"Layers":["l.tar"]}]`)
	tw.Close()
	zw.Close()
	if got := detectWithin(t, buf.Bytes(), 5*time.Second); got != (Result{Tar, Gzip}) {
		t.Errorf("Detect = %v, want tar+gzip", got)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func writeTarFile(t *testing.T, tw *tar.Writer, name, content string) {
	t.Helper()
	if err := tw.WriteHeader(&tar.Header{Name: name, Size: int64(len(content)), Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(tw, content); err != nil {
		t.Fatal(err)
	}
}

func makeTar(t *testing.T, files ...string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		writeTarFile(t, tw, files[i], files[i+1])
	}
	tw.Close()
	return buf.Bytes()
}

func TestContainerTars(t *testing.T) {
	const layout = `{"imageLayoutVersion":"1.0.0"}`
	cases := []struct {
		name  string
		files []string
		want  string
	}{
		{"docker", []string{"manifest.json", `[{"Config":"a.json","RepoTags":["x:1"],"Layers":["l.tar"]}]`}, DockerArchive},
		{"docker saved by ID", []string{"./manifest.json", `[{"Config":"a.json","RepoTags":null,"Layers":[]}]`}, DockerArchive},
		{"manifest without layers", []string{"manifest.json", `[{"Config":"a.json"}]`}, Tar},
		{"manifest not a list", []string{"manifest.json", `{"Config":"a.json","Layers":[]}`}, Tar},
		{"manifest not JSON", []string{"manifest.json", `[{"Config":`}, Tar},
		{"oci", []string{"oci-layout", layout, "index.json", `{}`}, OCI},
		{"oci without index", []string{"oci-layout", layout}, Tar},
		{"oci with a bad layout file", []string{"oci-layout", `[]`, "index.json", `{}`}, Tar},
		{"docker and oci", []string{"oci-layout", layout, "index.json", `{}`,
			"manifest.json", `[{"Config":"blobs/sha256/aa","RepoTags":null,"Layers":[]}]`}, DockerArchive},
		{"manifest after other files", []string{"etc/passwd", "root", "manifest.json",
			`[{"Config":"a.json","Layers":[]}]`}, Tar},
		{"manifest in a subdirectory", []string{"sub/manifest.json", `[{"Config":"a.json","Layers":[]}]`}, Tar},
		{"crane's config name first", []string{"sha256:" + strings.Repeat("ab", 32), "{}",
			"manifest.json", `[{"Config":"sha256:` + strings.Repeat("ab", 32) + `","Layers":[]}]`}, DockerArchive},
		{"sha256: name that is not a digest", []string{"sha256:xyz", "{}",
			"manifest.json", `[{"Config":"a.json","Layers":[]}]`}, Tar},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := makeTar(t, c.files...)
			if got := DetectBytes(data); got.Format != c.want {
				t.Errorf("Detect = %v, want %s", got, c.want)
			}
		})
	}
}

func TestTarEntryBound(t *testing.T) {
	var files []string
	for i := range maxTarEntries + 10 {
		files = append(files, fmt.Sprintf("blobs/sha256/%d", i), "x")
	}
	files = append(files, "oci-layout", `{"imageLayoutVersion":"1.0.0"}`, "index.json", "{}")
	if got := detectWithin(t, makeTar(t, files...), 5*time.Second); got.Format != Tar {
		t.Errorf("Detect = %v, want tar (the OCI files are past the entry bound)", got)
	}
}

func sector0(parts ...[4]uint32) []byte {
	b := make([]byte, 512)
	for i, p := range parts {
		e := b[446+16*i:]
		e[0] = byte(p[0])
		e[4] = byte(p[1])
		binary.LittleEndian.PutUint32(e[8:], p[2])
		binary.LittleEndian.PutUint32(e[12:], p[3])
	}
	b[510], b[511] = 0x55, 0xaa
	return b
}

func TestMBRValidation(t *testing.T) {
	const sectors = 2048
	disk := func(mbr []byte) []byte {
		img := make([]byte, sectors*512)
		copy(img, mbr)
		return img
	}
	cases := []struct {
		name string
		mbr  []byte
		want string
	}{
		{"one partition", sector0([4]uint32{0x80, 0x83, 1, sectors - 1}), Disk},
		{"two partitions", sector0([4]uint32{0, 0x83, 1, 100}, [4]uint32{0, 0x07, 101, 200}), Disk},
		{"signature only", sector0(), ""},
		{"bad boot flag", sector0([4]uint32{0x12, 0x83, 1, 100}), ""},
		{"past the end", sector0([4]uint32{0, 0x83, 1, sectors * 2}), ""},
		{"overlapping", sector0([4]uint32{0, 0x83, 1, 100}, [4]uint32{0, 0x83, 50, 100}), ""},
		{"starts at the MBR", sector0([4]uint32{0, 0x83, 0, 100}), ""},
		{"empty partition", sector0([4]uint32{0, 0x83, 10, 0}), ""},
		{"protective MBR claiming more", sector0([4]uint32{0, 0xee, 1, 0xffffffff}), Disk},
	}
	for _, c := range cases {
		if got := DetectBytes(disk(c.mbr)); got.Format != c.want {
			t.Errorf("%s: Detect = %v, want %q", c.name, got, c.want)
		}
	}
}

func TestGPTValidation(t *testing.T) {
	img := readFixture(t, "gpt.img")
	clear(img[:512]) // no protective MBR: only the GPT header can make it a disk
	if got := DetectBytes(img); got.Format != Disk {
		t.Fatalf("GPT without MBR: Detect = %v, want disk", got)
	}
	img[512+40] ^= 1 // first usable LBA: the header CRC no longer matches
	if got := DetectBytes(img); got.Known() {
		t.Errorf("GPT with a bad CRC: Detect = %v, want unknown", got)
	}
	// Fix the CRC: valid again.
	size := binary.LittleEndian.Uint32(img[512+12:])
	hdr := img[512 : 512+int(size)]
	binary.LittleEndian.PutUint32(hdr[16:], 0)
	binary.LittleEndian.PutUint32(hdr[16:], crc32.ChecksumIEEE(hdr))
	if got := DetectBytes(img); got.Format != Disk {
		t.Errorf("GPT with a recomputed CRC: Detect = %v, want disk", got)
	}
}

func TestHandMadeHeaders(t *testing.T) {
	be := make([]byte, 96)
	copy(be, "sqsh")
	binary.BigEndian.PutUint16(be[28:], 3)
	le := make([]byte, 96)
	copy(le, "hsqs")
	binary.LittleEndian.PutUint16(le[28:], 4)
	badVersion := bytes.Clone(le)
	binary.LittleEndian.PutUint16(badVersion[28:], 9)

	gnuDeb := []byte(arMagic + "debian-binary/  0           0     0     100644  4         `\n2.0\n")
	bsdDeb := []byte(arMagic + "debian-binary   0           0     0     100644  4         `\n2.0\n")
	badAr := []byte(arMagic + "debian-binary   0           0     0     100644  4         XX2.0\n")

	vhd := make([]byte, 4096)
	footer := vhd[len(vhd)-512:]
	copy(footer, "conectix")
	binary.BigEndian.PutUint32(footer[60:], 2) // fixed
	var sum uint32
	for _, c := range footer {
		sum += uint32(c)
	}
	binary.BigEndian.PutUint32(footer[64:], ^sum)
	badVHD := bytes.Clone(vhd)
	badVHD[len(badVHD)-100] = 1

	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"big-endian squashfs", be, Squashfs},
		{"little-endian squashfs", le, Squashfs},
		{"squashfs version 9", badVersion, ""},
		{"GNU-style deb", gnuDeb, Deb},
		{"deb", bsdDeb, Deb},
		{"ar member header without its end", badAr, ""},
		{"empty zip", append([]byte("PK\x05\x06"), make([]byte, 18)...), Zip},
		{"VHD footer", vhd, VHD},
		{"VHD footer with a bad checksum", badVHD, ""},
		{"vmdk descriptor", []byte("# Disk DescriptorFile\nversion=1\n"), VMDK},
		{"qcow2 version 7", []byte("QFI\xfb\x00\x00\x00\x07"), ""},
		{"cpio binary with an unterminated name", append([]byte{0xc7, 0x71}, bytes.Repeat([]byte{1}, 40)...), ""},
		{"odc cpio with a non-octal field", []byte("070707" + "0000009" + string(bytes.Repeat([]byte{'0'}, 80))), ""},
	}
	for _, c := range cases {
		if got := DetectBytes(c.data); got.Format != c.want {
			t.Errorf("%s: Detect = %v, want %q", c.name, got, c.want)
		}
	}
}

func TestUnknownSize(t *testing.T) {
	iso := readFixture(t, "sample.iso")
	res, err := Detect(bytes.NewReader(iso), -1)
	if err != nil || res.Format != ISO9660 {
		t.Errorf("Detect(size -1) = %v, %v; want iso9660", res, err)
	}
}

type failingReader struct{ err error }

func (f failingReader) ReadAt([]byte, int64) (int, error) { return 0, f.err }

func TestReadErrorsAreReported(t *testing.T) {
	eio := errors.New("input/output error")
	if _, err := Detect(failingReader{eio}, 1<<20); !errors.Is(err, eio) {
		t.Errorf("Detect on a failing reader: err = %v, want %v", err, eio)
	}
}

func TestIsOCILayoutDir(t *testing.T) {
	dir := t.TempDir()
	check := func(want bool) {
		t.Helper()
		got, err := IsOCILayoutDir(dir)
		if err != nil || got != want {
			t.Errorf("IsOCILayoutDir = %v, %v; want %v", got, err, want)
		}
	}
	check(false)
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("oci-layout", `{"imageLayoutVersion":"1.0.0"}`)
	check(false) // no index.json
	write("index.json", `{"schemaVersion":2,"manifests":[]}`)
	check(true)
	write("oci-layout", `not json`)
	check(false)
	if got, err := IsOCILayoutDir(filepath.Join(dir, "missing")); got || err != nil {
		t.Errorf("IsOCILayoutDir(missing) = %v, %v", got, err)
	}
}

// A docker archive's head tells nothing (its manifest.json comes after
// the layers), at whatever block it is cut, a header's start included;
// an ordinary tar's first entry, the end of a whole tar, and bytes that
// are no tar do.
func TestMayBeImageTar(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	docker := makeTar(t, hex+"/layer.tar", strings.Repeat("x", 3000), hex+".json", "{}",
		"manifest.json", `[{"Config":"`+hex+`.json","Layers":["`+hex+`/layer.tar"]}]`)
	manifestAt := bytes.Index(docker, []byte("manifest.json"))
	for cut := 512; cut < manifestAt; cut += 512 {
		if !MayBeImageTar(docker[:cut]) {
			t.Errorf("docker archive cut at %d: MayBeImageTar false, want true", cut)
		}
	}
	for _, c := range []struct {
		name string
		head []byte
	}{
		{"whole docker archive", docker},
		{"ordinary tar", makeTar(t, "etc/passwd", "root", hex+"/layer.tar", strings.Repeat("x", 3000))[:1024]},
		{"no tar", bytes.Repeat([]byte("not a tar "), 200)},
		{"empty", nil},
	} {
		if MayBeImageTar(c.head) {
			t.Errorf("%s: MayBeImageTar true, want false", c.name)
		}
	}
}
