package scan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// twoImageWIM captures two trees as images 1 and 2 of wimFile.
func twoImageWIM(t *testing.T, wimFile string) {
	t.Helper()
	dir := t.TempDir()
	one, two := filepath.Join(dir, "one"), filepath.Join(dir, "two")
	writeTree(t, one, map[string]string{"Windows/notepad.exe": "MZ one\n", "Windows/System32/a.dll": "MZ a\n"})
	writeTree(t, two, map[string]string{"Windows/notepad.exe": "MZ two\n", "Program Files/b.exe": "MZ b\n"})
	if err := os.MkdirAll(filepath.Dir(wimFile), 0o755); err != nil {
		t.Fatal(err)
	}
	runTool(t, "wimlib-imagex", "capture", one, wimFile, "Windows Test Home", "--compress=LZX", "--flags=Core")
	runTool(t, "wimlib-imagex", "append", two, wimFile, "Windows Test Pro", "--flags=Professional")
}

// imageQuickSums is the ground truth of the images' quick_sha256, from
// what wimlib-imagex says of the WIM: its GUID, and its metadata
// resources' SHA-1 in image order.
func imageQuickSums(t *testing.T, wimFile string) []string {
	t.Helper()
	guid := regexp.MustCompile(`GUID\s+=\s+(?:0x)?([0-9a-f]{32})`).FindStringSubmatch(runTool(t, "wimlib-imagex", "info", wimFile, "--header"))
	if guid == nil {
		t.Fatal("wimlib-imagex info --header shows no GUID")
	}
	var sums []string
	blobs := strings.Split(runTool(t, "wimlib-imagex", "info", wimFile, "--blobs"), "\n\n")
	for _, b := range blobs {
		if !strings.Contains(b, "WIM_RESHDR_FLAG_METADATA") {
			continue
		}
		hash := regexp.MustCompile(`Hash\s+=\s+0x([0-9a-f]{40})`).FindStringSubmatch(b)
		key := fmt.Sprintf("wim-image:%s:%d:%s", guid[1], len(sums)+1, hash[1])
		sum := sha256.Sum256([]byte(key))
		sums = append(sums, hex.EncodeToString(sum[:]))
	}
	return sums
}

// TestSplitImages: a WIM and an install ISO, of the layout genisoimage
// -udf writes (the files in both trees) and of Windows media (the files
// in the UDF tree alone, the ISO 9660 tree a README).
func TestSplitImages(t *testing.T) {
	t.Run("bridge", func(t *testing.T) {
		testSplitImages(t, func(t *testing.T, iso, media string) {
			needTool(t, "genisoimage")
			runTool(t, "genisoimage", "-quiet", "-udf", "-R", "-J", "-iso-level", "3", "-o", iso, media)
		})
	})
	t.Run("udf-only-content", func(t *testing.T) {
		testSplitImages(t, func(t *testing.T, iso, media string) { archivetest.UDFBridgeISO(t, iso, media) })
	})
}

// splitImagesRepo makes a repository holding a WIM of two images and an
// installation ISO, made by makeISO from media, whose sources/install.wim
// holds two more.
func splitImagesRepo(t *testing.T, makeISO func(t *testing.T, iso, media string)) (repo, wimFile, media, iso string) {
	t.Helper()
	needTool(t, "wimlib-imagex")
	repo = t.TempDir()
	wimFile = filepath.Join(repo, "install.wim")
	twoImageWIM(t, wimFile)
	media = t.TempDir()
	twoImageWIM(t, filepath.Join(media, "sources", "install.wim"))
	writeTree(t, media, map[string]string{"setup.txt": "run setup.exe\n", "boot/bcd": "boot configuration\n"})
	iso = filepath.Join(repo, "win.iso")
	makeISO(t, iso, media)
	return repo, wimFile, media, iso
}

func testSplitImages(t *testing.T, makeISO func(t *testing.T, iso, media string)) {
	repo, wimFile, media, iso := splitImagesRepo(t, makeISO)
	whole := scan(t, repo)
	if whole.code != 0 || len(whole.sources) != 2 {
		t.Fatalf("without --split-images: status %d, %d sources\n%s", whole.code, len(whole.sources), whole.stderr)
	}
	for _, s := range whole.sources {
		if s.WIMImage != nil || s.Parts != nil {
			t.Errorf("without --split-images, %s has wim_image or parts", s.ID)
		}
	}
	res := scan(t, "--split-images", repo)
	if res.code != 0 {
		t.Fatalf("status %d\n%s", res.code, res.stderr)
	}
	type want struct {
		id, desc string
		image    int
		quick    string
	}
	isoSum := whole.byURI()[iso].QuickSHA256
	rest := sha256.Sum256([]byte("without-wim-images:" + isoSum))
	wimQuick := imageQuickSums(t, wimFile)
	isoQuick := imageQuickSums(t, filepath.Join(media, "sources", "install.wim"))
	wants := []want{
		{"install.wim:1", "Windows Test Home (Core)", 1, wimQuick[0]},
		{"install.wim:2", "Windows Test Pro (Professional)", 2, wimQuick[1]},
		{"win.iso:0", "files outside sources/install.wim", 0, hex.EncodeToString(rest[:])},
		{"win.iso:1", "Windows Test Home (Core) (sources/install.wim)", 1, isoQuick[0]},
		{"win.iso:2", "Windows Test Pro (Professional) (sources/install.wim)", 2, isoQuick[1]},
	}
	if len(res.sources) != len(wants) {
		t.Fatalf("%d sources, want %d: %+v", len(res.sources), len(wants), res.sources)
	}
	for i, w := range wants {
		s := res.sources[i]
		img := -1
		if s.WIMImage != nil {
			img = *s.WIMImage
		}
		if s.ID != w.id || s.Description != w.desc || img != w.image || s.QuickSHA256 != w.quick {
			t.Errorf("source %d: id %q, description %q, wim_image %d, quick_sha256 %s; want %+v", i, s.ID, s.Description, img, s.QuickSHA256, w)
		}
		orig := whole.byURI()[s.URI]
		if s.Format != orig.Format || *s.Size != *orig.Size || s.Repo != orig.Repo {
			t.Errorf("%s: format %s, size %d, repo %s; the whole file's are %s, %d, %s", s.ID, s.Format, *s.Size, s.Repo, orig.Format, *orig.Size, orig.Repo)
		}
	}
	if wimQuick[0] == isoQuick[0] {
		t.Errorf("two WIMs captured apart share a GUID: the test proves nothing")
	}
}

// An install ISO whose UDF tree does not open stays one source: its ISO
// 9660 tree may hold less than the disc, and hashr-extract walks and
// reports it whole.
func TestSplitImagesBrokenUDF(t *testing.T) {
	needTool(t, "wimlib-imagex")
	repo, media := t.TempDir(), t.TempDir()
	twoImageWIM(t, filepath.Join(media, "sources", "install.wim"))
	iso := filepath.Join(repo, "win.iso")
	archivetest.UDFBridgeISO(t, iso, media)
	data, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	const anchor = 256 * 2048
	if data[anchor] != 2 || data[anchor+1] != 0 {
		t.Fatal("no UDF anchor at sector 256")
	}
	clear(data[anchor : anchor+2048])
	for s := len(data)/2048 - 1; s > len(data)/2048-300 && s > 256; s-- {
		if b := data[s*2048 : (s+1)*2048]; b[0] == 2 && b[1] == 0 {
			clear(b)
		}
	}
	if err := os.WriteFile(iso, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res := scan(t, "--split-images", repo)
	if res.code != 0 || len(res.sources) != 1 || res.sources[0].WIMImage != nil || res.sources[0].Format != "udf" {
		t.Fatalf("status %d, sources %+v\n%s", res.code, res.sources, res.stderr)
	}
}

// A split WIM is one source, its parts found by their headers; a set
// missing a part is an error record naming it, and the scan goes on.
func TestSplitWIMParts(t *testing.T) {
	needTool(t, "wimlib-imagex")
	dir := t.TempDir()
	wimFile := filepath.Join(dir, "big.wim")
	tree := filepath.Join(dir, "tree")
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = byte(i * 7919 >> 8)
	}
	writeTree(t, tree, map[string]string{"a.bin": string(big[:100<<10]), "b.bin": string(big[100<<10:]), "c.txt": "c\n"})
	runTool(t, "wimlib-imagex", "capture", tree, wimFile, "Split", "--compress=none")
	runTool(t, "wimlib-imagex", "append", tree, wimFile, "Split again")
	repo := filepath.Join(dir, "repo")
	os.MkdirAll(filepath.Join(repo, "a"), 0o755)
	os.MkdirAll(filepath.Join(repo, "b"), 0o755)
	runTool(t, "wimlib-imagex", "split", wimFile, filepath.Join(repo, "a", "install.swm"), "0.1")
	runTool(t, "wimlib-imagex", "split", wimFile, filepath.Join(repo, "b", "other.swm"), "0.1")
	partsA, _ := filepath.Glob(filepath.Join(repo, "a", "install*.swm"))
	slices.Sort(partsA) // install.swm < install2.swm < install3.swm
	if len(partsA) != 3 {
		t.Fatalf("wimlib-imagex split made %d parts, want 3: %v", len(partsA), partsA)
	}
	os.Remove(filepath.Join(repo, "b", "other2.swm"))

	res := scan(t, repo)
	if res.code != 3 {
		t.Fatalf("status %d, want 3 (a set is missing a part)\n%s", res.code, res.stderr)
	}
	if len(res.sources) != 1 {
		t.Fatalf("%d sources, want 1: %+v", len(res.sources), res.sources)
	}
	s := res.sources[0]
	if s.URI != partsA[0] || s.ID != "install.swm" || !slices.Equal(s.Parts, partsA[1:]) || s.Format != "wim" {
		t.Errorf("source %+v: want uri %s, parts %v", s, partsA[0], partsA[1:])
	}
	if len(res.errors) != 1 || res.errors[0].URI != filepath.Join(repo, "b", "other.swm") ||
		!strings.Contains(res.errors[0].Message, "3 parts, parts 1, 3 given, part 2 missing") {
		t.Errorf("error records %+v: want one for b/other.swm, part 2 missing", res.errors)
	}

	split := scan(t, "--split-images", filepath.Join(repo, "a"))
	if split.code != 0 || len(split.sources) != 2 {
		t.Fatalf("--split-images of a split WIM: status %d, %d sources\n%s", split.code, len(split.sources), split.stderr)
	}
	for i, s := range split.sources {
		if s.ID != fmt.Sprintf("install.swm:%d", i+1) || *s.WIMImage != i+1 || !slices.Equal(s.Parts, partsA[1:]) {
			t.Errorf("image source %d: %+v", i+1, s)
		}
	}
}
