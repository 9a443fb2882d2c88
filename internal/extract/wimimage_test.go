package extract

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// selectedSource is a source record of file with wim_image (when image
// is not nil) and parts, as hashr-scan --split-images writes one.
func selectedSource(file string, image *int, parts ...string) string {
	rec := map[string]any{"type": "source", "uri": file, "id": filepath.Base(file)}
	if image != nil {
		rec["wim_image"] = *image
		rec["id"] = fmt.Sprintf("%s:%d", filepath.Base(file), *image)
	}
	if len(parts) > 0 {
		rec["parts"] = parts
	}
	b, _ := json.Marshal(rec)
	return string(b) + "\n"
}

func extractSelected(t *testing.T, line string, args ...string) (map[string]string, *runOutput) {
	t.Helper()
	o := extract(t, line, append([]string{"--hash", "sha256"}, args...)...)
	sums := map[string]string{}
	for p, f := range o.files() {
		sums[p] = f.SHA256
	}
	return sums, o
}

func intp(n int) *int { return &n }

// sandboxModes runs f in the sandbox (Landlock where the kernel has it)
// and without it, with args.
func sandboxModes(t *testing.T, f func(t *testing.T, args ...string), args ...string) {
	t.Run("sandbox", func(t *testing.T) { f(t, args...) })
	t.Run("no-sandbox", func(t *testing.T) { f(t, append([]string{"--no-sandbox"}, args...)...) })
}

// The ground truth is of the WIM's files, not walked into: a WIM's
// members are at depth 0, an ISO's WIM's at depth 1.
var (
	wimDepth = []string{"--max-depth", "0"}
	isoDepth = []string{"--max-depth", "1"}
)

// A source of one image of a WIM holds that image's files alone, at the
// paths a walk of every image gives them; the images' sources together
// hold what the WIM's source does.
func TestWIMImageSources(t *testing.T) {
	m := buildInstallMedia(t)
	all, o := extractSelected(t, sourceLine(m.wim), wimDepth...)
	if o.status != 0 {
		t.Fatalf("%s", describe(o))
	}
	sandboxModes(t, func(t *testing.T, args ...string) {
		union := map[string]string{}
		for index := 1; index <= 2; index++ {
			got, o := extractSelected(t, selectedSource(m.wim, intp(index)), args...)
			if o.status != 0 || len(o.errors()) > 0 {
				t.Fatalf("image %d: %s", index, describe(o))
			}
			archivetest.Compare(t, got, m.imageSums(t, index, ""))
			maps.Copy(union, got)
		}
		archivetest.Compare(t, union, all)

		for _, tc := range []struct {
			image int
			want  string
		}{
			{3, "wim_image 3: the WIM has no such image: its images are 1: Windows Test Home (Core); 2: Windows Test Pro (Professional)"},
			{0, "wim_image 0 stands for an install ISO without its install image, but the source is a WIM"},
		} {
			got, o := extractSelected(t, selectedSource(m.wim, intp(tc.image)), args...)
			if o.status != 3 || len(got) != 0 || !strings.Contains(o.errorPaths()[""], tc.want) {
				t.Errorf("wim_image %d: want status 3, no files and an error record %q\n%s", tc.image, tc.want, describe(o))
			}
		}
	}, wimDepth...)
}

// An install ISO splits into a source per image of its install.wim and
// one of the rest of it (wim_image 0): the WIM file itself and the files
// beside it. Together they hold what the ISO's source does.
func TestInstallISOImageSources(t *testing.T) {
	for _, layout := range installLayouts {
		t.Run(layout, func(t *testing.T) { testInstallISOImageSources(t, buildInstallMediaAs(t, layout)) })
	}
	// An ISO without an install image has no image to select.
	plain := fixture(t, "tree.iso")
	if _, o := extractSelected(t, selectedSource(plain, intp(1))); o.status != 3 ||
		!strings.Contains(o.errorPaths()[""], "wim_image 1: the ISO holds no sources/install.wim or sources/install.esd") {
		t.Errorf("wim_image of an ISO without an install image:\n%s", describe(o))
	}
	if _, o := extractSelected(t, selectedSource(fixture(t, "tree.zip"), intp(1))); o.status != 3 ||
		!strings.Contains(o.errorPaths()[""], "the source has wim_image 1, but it is a zip, neither a WIM nor an install ISO") {
		t.Errorf("wim_image of a zip:\n%s", describe(o))
	}
}

func testInstallISOImageSources(t *testing.T, m installFixture) {
	all, o := extractSelected(t, sourceLine(m.iso), isoDepth...)
	if o.status != 0 {
		t.Fatalf("%s", describe(o))
	}
	sandboxModes(t, func(t *testing.T, args ...string) {
		union := map[string]string{}
		for index := 1; index <= 2; index++ {
			got, o := extractSelected(t, selectedSource(m.iso, intp(index)), args...)
			if o.status != 0 || len(o.errors()) > 0 {
				t.Fatalf("image %d: %s", index, describe(o))
			}
			archivetest.Compare(t, got, m.imageSums(t, index, "sources/install.wim!/"))
			maps.Copy(union, got)
		}
		rest, o := extractSelected(t, selectedSource(m.iso, intp(0)), args...)
		if o.status != 0 || len(o.errors()) > 0 {
			t.Fatalf("image 0: %s", describe(o))
		}
		archivetest.Compare(t, rest, m.rest(t))
		maps.Copy(union, rest)
		archivetest.Compare(t, union, all)

		got, o := extractSelected(t, selectedSource(m.iso, intp(5)), args...)
		if o.status != 3 || len(got) != 0 || !strings.Contains(o.errorPaths()[""], "wim_image 5: the WIM has no such image: its images are 1: ") {
			t.Errorf("wim_image 5 of the ISO: want status 3, no files and an error record naming the images\n%s", describe(o))
		}
	}, isoDepth...)
}

// splitWIM cuts the WIM into parts of about a third of its size with
// wimlib-imagex split, and returns their paths in part order.
func splitWIM(t *testing.T, wimFile string) []string {
	t.Helper()
	return archivetest.SplitWIM(t, wimFile, t.TempDir())
}

// cutShort writes the first half of the file name as a file called
// base, and returns its path.
func cutShort(t *testing.T, name, base string) string {
	t.Helper()
	cut := filepath.Join(t.TempDir(), base)
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cut, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	return cut
}

// A split WIM's source (part 1, the others as parts) holds what the
// whole WIM's does, one image of it too; a part missing, of another
// WIM, or cut short is an error record.
func TestSplitWIM(t *testing.T) {
	m := buildInstallMedia(t)
	parts := splitWIM(t, m.wim)
	whole, o := extractSelected(t, sourceLine(m.wim), wimDepth...)
	if o.status != 0 {
		t.Fatalf("%s", describe(o))
	}
	other := filepath.Join(t.TempDir(), "other.wim")
	archivetest.Run(t, "wimlib-imagex", "capture", m.second, other, "Other", "--compress=LZX")
	otherParts := splitWIM(t, other)
	lzmsWIM := filepath.Join(t.TempDir(), "lzms.wim")
	archivetest.Run(t, "wimlib-imagex", "capture", m.first, lzmsWIM, "LZMS", "--compress=LZMS")
	lzms := splitWIM(t, lzmsWIM)
	truncated := cutShort(t, parts[1], "install2.swm")
	sandboxModes(t, func(t *testing.T, args ...string) {
		got, o := extractSelected(t, selectedSource(parts[0], nil, parts[1:]...), args...)
		if o.status != 0 || len(o.errors()) > 0 {
			t.Fatalf("%s", describe(o))
		}
		archivetest.Compare(t, got, whole)
		// Given in any order.
		reversed := slices.Clone(parts[1:])
		slices.Reverse(reversed)
		got, o = extractSelected(t, selectedSource(parts[0], intp(2), reversed...), args...)
		if o.status != 0 || len(o.errors()) > 0 {
			t.Fatalf("image 2: %s", describe(o))
		}
		archivetest.Compare(t, got, m.imageSums(t, 2, ""))

		for _, tc := range []struct {
			what  string
			parts []string
			want  string
		}{
			{"part 2 missing", parts[2:], fmt.Sprintf("%d parts, parts 1, 3", len(parts))},
			{"no parts", nil, "part 1 given, parts 2, 3"},
			{"a part of another WIM", append([]string{otherParts[1]}, parts[2:]...), "is not a part of the split WIM"},
			{"part 2 cut short", append([]string{truncated}, parts[2:]...), "install2.swm"},
		} {
			got, o := extractSelected(t, selectedSource(parts[0], nil, tc.parts...), args...)
			if o.status != 3 || len(got) != 0 || !strings.Contains(o.errorPaths()[""], tc.want) {
				t.Errorf("%s: want status 3, no files and an error record saying %q\n%s", tc.what, tc.want, describe(o))
			}
			t.Logf("%s: %s", tc.what, o.errorPaths()[""])
		}
		// LZMS, which wimlib-imagex converts, given the other parts.
		got, o = extractSelected(t, selectedSource(lzms[0], nil, lzms[1:]...), args...)
		if o.status != 0 || len(o.errors()) > 0 {
			t.Fatalf("LZMS: %s", describe(o))
		}
		archivetest.Compare(t, got, m.imageSums(t, 1, ""))
		if _, o := extractSelected(t, selectedSource(fixture(t, "tree.zip"), nil, parts[1])); o.status != 3 ||
			!strings.Contains(o.errorPaths()[""], "the source has parts, as a split WIM has, but it is a zip") {
			t.Errorf("parts of a zip:\n%s", describe(o))
		}
	}, wimDepth...)
}
