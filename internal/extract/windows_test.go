package extract

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
	"github.com/hashr-dev/hashr/internal/formats/iso9660"
	"github.com/hashr-dev/hashr/internal/formats/ole/oletest"
)

// The Windows ground truth: install media and updates built by the Debian
// tools (wimlib-imagex, genisoimage, gcab, wixl) from a directory of real
// files must extract to that directory's (path, sha256) multiset.

// wimSums extracts one source with --hash and returns its sums and
// images by path.
func extractSums(t *testing.T, file string, args ...string) (map[string]string, map[string]string, *runOutput) {
	t.Helper()
	o := extract(t, sourceLine(file), append([]string{"--hash", "sha256"}, args...)...)
	sums, images := map[string]string{}, map[string]string{}
	for p, f := range o.files() {
		sums[p] = f.SHA256
		images[p] = f.Image
	}
	return sums, images, o
}

func withPrefix(m map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[prefix+k] = v
	}
	return out
}

// installFixture is a two-image install.wim and an install ISO holding it
// (with files beside it), built by wimlib-imagex and genisoimage, or laid
// out as Microsoft's media are (layoutUDFOnly).
type installFixture struct {
	first, second string // the images' source directories
	wim, iso      string
	media         string // the ISO's files (its UDF tree)
}

// The layouts of an install ISO: genisoimage -udf writes the files in
// both its trees; Windows media have them in the UDF tree alone, their
// ISO 9660 tree holding a README.TXT that says the disc needs UDF.
const (
	layoutBridge  = "bridge"
	layoutUDFOnly = "udf-only-content"
)

var installLayouts = []string{layoutBridge, layoutUDFOnly}

func buildInstallMedia(t *testing.T) installFixture {
	return buildInstallMediaAs(t, layoutBridge)
}

func buildInstallMediaAs(t *testing.T, layout string) installFixture {
	t.Helper()
	m := installFixture{first: archivetest.SourceTree(t)}
	dir := t.TempDir()
	m.media = filepath.Join(dir, "media")
	for name, data := range map[string]string{
		"setup.txt":            "run setup.exe\n",
		"boot/bcd":             "boot configuration\n",
		"efi/boot/bootx64.efi": "MZ an EFI loader\n",
	} {
		p := filepath.Join(m.media, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(m.media, "sources"), 0o755); err != nil {
		t.Fatal(err)
	}
	m.second = filepath.Join(dir, "second")
	archivetest.Run(t, "cp", "-a", m.first, m.second)
	if err := os.WriteFile(filepath.Join(m.second, "only-in-2.txt"), []byte("image two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.wim = filepath.Join(m.media, "sources", "install.wim")
	archivetest.Run(t, "wimlib-imagex", "capture", m.first, m.wim, "Windows Test Home", "--compress=LZX", "--flags=Core")
	archivetest.Run(t, "wimlib-imagex", "append", m.second, m.wim, "Windows Test Pro", "--flags=Professional")
	m.iso = filepath.Join(dir, "install.iso")
	switch layout {
	case layoutBridge:
		archivetest.Run(t, "genisoimage", "-quiet", "-udf", "-R", "-J", "-iso-level", "3", "-o", m.iso, m.media)
	case layoutUDFOnly:
		archivetest.UDFBridgeISO(t, m.iso, m.media)
		// The fixture is what it claims: its ISO 9660 tree is the README
		// alone, so a walk of that tree would miss every file.
		f, err := os.Open(m.iso)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		w, err := iso9660.NewWalker(f, st.Size())
		if err != nil {
			t.Fatalf("the UDF-only-content disc's ISO 9660 tree: %v", err)
		}
		if names := archivetest.Walk(t, w).Files; len(names) != 1 || names["README.TXT"] == "" {
			t.Fatalf("the ISO 9660 tree holds %v, want README.TXT alone", names)
		}
	default:
		t.Fatalf("layout %q", layout)
	}
	return m
}

// rest is the ground truth of the ISO's files outside its WIM's images:
// its UDF tree, the WIM itself hashed as one file.
func (m installFixture) rest(t *testing.T) map[string]string {
	return archivetest.TreeSums(t, m.media, "")
}

// imageSums is the ground truth of image index of the WIM, under prefix.
func (m installFixture) imageSums(t *testing.T, index int, prefix string) map[string]string {
	dir := m.first
	if index == 2 {
		dir = m.second
	}
	return withPrefix(archivetest.TreeSums(t, dir, fmt.Sprintf("%d/", index)), prefix)
}

func TestGroundTruthInstallISO(t *testing.T) {
	for _, layout := range installLayouts {
		t.Run(layout, func(t *testing.T) {
			m := buildInstallMediaAs(t, layout)
			want := m.imageSums(t, 1, "sources/install.wim!/")
			maps.Copy(want, m.imageSums(t, 2, "sources/install.wim!/"))
			maps.Copy(want, m.rest(t))
			// The default (--max-depth auto) walks an install ISO's images.
			got, _, o := extractSums(t, m.iso)
			if o.status != 0 || len(o.errors()) > 0 {
				t.Fatalf("%s", describe(o))
			}
			archivetest.Compare(t, got, want)
			got, images, o := extractSums(t, m.iso, "--max-depth", "1")
			if o.status != 0 || len(o.errors()) > 0 {
				t.Fatalf("%s", describe(o))
			}
			archivetest.Compare(t, got, want)
			if im := images["sources/install.wim!/1/bin/sed"]; im != "Windows Test Home (Core)" {
				t.Errorf("image of an image-1 file: %q", im)
			}
			if im := images["sources/install.wim!/2/only-in-2.txt"]; im != "Windows Test Pro (Professional)" {
				t.Errorf("image of an image-2 file: %q", im)
			}
		})
	}
}

// breakUDF zeroes the UDF anchors of the disc image in file (at sector
// 256 and the ends), leaving its volume recognition sequence: magic
// still takes it as UDF, but its UDF tree no longer opens.
func breakUDF(t *testing.T, file, out string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	const bs = 2048
	zeroed := 0
	for _, s := range []int{256, len(data)/bs - 1, len(data)/bs - 257} {
		if b := data[s*bs : (s+1)*bs]; s > 0 && b[0] == 2 && b[1] == 0 {
			clear(b)
			zeroed++
		}
	}
	if zeroed == 0 {
		t.Fatalf("%s: no UDF anchor found to break", file)
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A bridge disc whose UDF tree does not open is walked through its ISO
// 9660 tree, with an error record saying so, since that tree may hold
// fewer files (on Windows media, the README alone): the source is not
// taken as done. A disc of which neither tree opens is an error record.
func TestBridgeDiscWithBrokenUDF(t *testing.T) {
	m := buildInstallMediaAs(t, layoutBridge)
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken-udf.iso")
	breakUDF(t, m.iso, broken)
	got, _, o := extractSums(t, broken, "--max-depth", "1")
	msg := o.errorPaths()[""]
	if o.status != 3 || len(o.errors()) != 1 || !strings.Contains(msg, "walking the disc's ISO 9660 tree instead") {
		t.Fatalf("want status 3 and one error record saying the ISO 9660 tree was walked\n%s", describe(o))
	}
	want := m.imageSums(t, 1, "sources/install.wim!/")
	maps.Copy(want, m.imageSums(t, 2, "sources/install.wim!/"))
	maps.Copy(want, m.rest(t))
	archivetest.Compare(t, got, want)

	// Windows layout: the ISO 9660 tree's README is all there is left.
	w := buildInstallMediaAs(t, layoutUDFOnly)
	brokenWin := filepath.Join(dir, "broken-win.iso")
	breakUDF(t, w.iso, brokenWin)
	got, _, o = extractSums(t, brokenWin)
	if o.status != 3 || !strings.Contains(o.errorPaths()[""], "only a README") || len(got) != 1 || got["README.TXT"] == "" {
		t.Fatalf("want status 3, an error record and README.TXT\n%s", describe(o))
	}
	// The same disc inside a zip: the error record names the member.
	zipped := filepath.Join(dir, "media.zip")
	archivetest.Run(t, "zip", "-q", "-j", "-0", zipped, brokenWin)
	got, _, o = extractSums(t, zipped, "--max-depth", "1")
	if o.status != 3 || got["broken-win.iso!/README.TXT"] == "" || !strings.Contains(o.errorPaths()["broken-win.iso"], "walking the disc's ISO 9660 tree instead") {
		t.Fatalf("want status 3 and an error record of broken-win.iso\n%s", describe(o))
	}

	// Neither tree: the primary volume descriptor made another type too
	// (the descriptors still say ISO 9660 and UDF to magic).
	data, err := os.ReadFile(brokenWin)
	if err != nil {
		t.Fatal(err)
	}
	if data[16*2048] != 1 {
		t.Fatalf("no primary volume descriptor at sector 16")
	}
	data[16*2048] = 3
	neither := filepath.Join(dir, "neither.iso")
	if err := os.WriteFile(neither, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, _, o = extractSums(t, neither)
	if o.status != 3 || len(o.errors()) == 0 || len(got) != 0 {
		t.Fatalf("neither tree: want status 3, an error record and no files\n%s", describe(o))
	}
}

func TestGroundTruthESDThroughWimlib(t *testing.T) {
	src := archivetest.SourceTree(t)
	esd := filepath.Join(t.TempDir(), "install.esd")
	archivetest.Run(t, "wimlib-imagex", "capture", src, esd, "ESD", "--solid")
	got, _, o := extractSums(t, esd, "--verbose")
	if o.status != 0 {
		t.Fatalf("%s", describe(o))
	}
	archivetest.Compare(t, got, archivetest.TreeSums(t, src, "1/"))
	if !strings.Contains(o.stderr, "wimlib-imagex export") {
		t.Errorf("--verbose does not say wimlib-imagex was used:\n%s", o.stderr)
	}
}

func TestCorruptWIMIsAnErrorRecord(t *testing.T) {
	src := archivetest.SourceTree(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.wim")
	archivetest.Run(t, "wimlib-imagex", "capture", src, good, "x", "--compress=XPRESS")
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	// Truncated: the tables at the end are gone.
	bad := filepath.Join(dir, "truncated.wim")
	if err := os.WriteFile(bad, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, o := extractSums(t, bad)
	if o.status != 3 || len(o.errors()) == 0 {
		t.Fatalf("truncated WIM: want status 3 and an error record\n%s", describe(o))
	}
	// Damaged compressed data in the middle: some members fail, others
	// are still read.
	mid := append([]byte(nil), data...)
	for i := 4096; i < len(mid)/2; i += 65536 {
		mid[i] ^= 0xff
	}
	damaged := filepath.Join(dir, "damaged.wim")
	if err := os.WriteFile(damaged, mid, 0o644); err != nil {
		t.Fatal(err)
	}
	got, _, o := extractSums(t, damaged)
	if o.status != 3 || len(o.errors()) == 0 || len(got) == 0 {
		t.Fatalf("damaged WIM: want status 3, error records and some files\n%s", describe(o))
	}
}

// gcabDir makes a cabinet of every regular file under dir.
func gcabDir(t *testing.T, dir, out string, compress bool) {
	t.Helper()
	var names []string
	for n := range archivetest.TreeSums(t, dir, "") {
		names = append(names, n)
	}
	args := []string{"-c"}
	if compress {
		args = []string{"-cz"}
	}
	cwd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(cwd)
	archivetest.Run(t, "gcab", append(append(args, out), names...)...)
}

// TestGroundTruthUpdatePackages: a cabinet of cabinets stands in for an
// .msu (MSZIP outside, stored and MSZIP inside), and a WIM holding
// cabinets for the newer WIM-based .msu.
func TestGroundTruthUpdatePackages(t *testing.T) {
	src := archivetest.SourceTree(t)
	dir := t.TempDir()
	payload := filepath.Join(dir, "payload")
	if err := os.MkdirAll(payload, 0o755); err != nil {
		t.Fatal(err)
	}
	gcabDir(t, src, filepath.Join(payload, "Windows10.0-KB5000001-x64.cab"), true)
	gcabDir(t, src, filepath.Join(payload, "SSU-19041.1-x64.cab"), false)
	if err := os.WriteFile(filepath.Join(payload, "WSUSSCAN.txt"), []byte("not a cabinet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	inner := archivetest.TreeSums(t, src, "")
	want := map[string]string{}
	for name, sum := range archivetest.TreeSums(t, payload, "") {
		want[name] = sum
		if strings.HasSuffix(name, ".cab") {
			for k, v := range withPrefix(inner, name+"!/") {
				want[k] = v
			}
		}
	}

	msu := filepath.Join(dir, "windows10.0-kb5000001-x64.msu")
	gcabDir(t, payload, msu, true)
	wimMSU := filepath.Join(dir, "windows11.0-kb5000002-x64.msu")
	archivetest.Run(t, "wimlib-imagex", "capture", payload, wimMSU, "KB5000002", "--compress=LZX")
	// By default (--max-depth auto) as with --max-depth 1: an update is
	// walked to its files.
	for _, args := range [][]string{nil, {"--max-depth", "1"}} {
		got, _, o := extractSums(t, msu, args...)
		if o.status != 0 || len(o.errors()) > 0 {
			t.Fatalf("%v: %s", args, describe(o))
		}
		archivetest.Compare(t, got, want)
		got, _, o = extractSums(t, wimMSU, args...)
		if o.status != 0 || len(o.errors()) > 0 {
			t.Fatalf("%v: %s", args, describe(o))
		}
		archivetest.Compare(t, got, withPrefix(want, "1/"))
	}
	// A WIM not named .msu is install media, its cabinets an image's
	// files; and --max-depth 0 is the update's members alone.
	wim := filepath.Join(dir, "install.wim")
	archivetest.Run(t, "cp", wimMSU, wim)
	members := archivetest.TreeSums(t, payload, "")
	for file, want := range map[string]map[string]string{wim: withPrefix(members, "1/"), msu: members} {
		args := []string{"--max-depth", "0"}
		if file == wim {
			args = nil
		}
		got, _, o := extractSums(t, file, args...)
		if o.status != 0 || len(o.errors()) > 0 {
			t.Fatalf("%s %v: %s", file, args, describe(o))
		}
		archivetest.Compare(t, got, want)
	}
}

// A cabinet inside a cab-based .msu holding a WIM (as a .msu can hold the
// WIM of an update) is the update's: walked by default to the files.
func TestUpdateWIMInCabinetIsWalked(t *testing.T) {
	src := archivetest.SourceTree(t)
	dir := t.TempDir()
	payload, outer := filepath.Join(dir, "payload"), filepath.Join(dir, "outer")
	for _, d := range []string{payload, outer} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	gcabDir(t, src, filepath.Join(payload, "Windows11.0-KB5000004-x64.cab"), true)
	archivetest.Run(t, "wimlib-imagex", "capture", payload, filepath.Join(outer, "Windows11.0-KB5000004-x64.wim"), "KB5000004")
	msu := filepath.Join(dir, "windows11.0-kb5000004-x64.msu")
	gcabDir(t, outer, msu, true)
	got, _, o := extractSums(t, msu)
	if o.status != 0 || len(o.errors()) > 0 {
		t.Fatalf("%s", describe(o))
	}
	want := archivetest.TreeSums(t, outer, "")
	maps.Copy(want, withPrefix(archivetest.TreeSums(t, payload, "1/"), "Windows11.0-KB5000004-x64.wim!/"))
	maps.Copy(want, withPrefix(archivetest.TreeSums(t, src, ""), "Windows11.0-KB5000004-x64.wim!/1/Windows11.0-KB5000004-x64.cab!/"))
	archivetest.Compare(t, got, want)
}

func TestCorruptCabIsAnErrorRecord(t *testing.T) {
	src := archivetest.SourceTree(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.cab")
	gcabDir(t, src, good, true)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.cab")
	mid := append([]byte(nil), data...)
	mid[len(mid)/2] ^= 0xff // a data block's checksum no longer matches
	if err := os.WriteFile(bad, mid, 0o644); err != nil {
		t.Fatal(err)
	}
	got, _, o := extractSums(t, bad)
	if o.status != 3 || len(o.errors()) == 0 || len(got) == 0 {
		t.Fatalf("damaged cabinet: want status 3, error records and the files before the damage\n%s", describe(o))
	}
	if err := os.WriteFile(bad, data[:len(data)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, o := extractSums(t, bad); o.status != 3 || len(o.errors()) == 0 {
		t.Fatalf("truncated cabinet: want status 3 and error records\n%s", describe(o))
	}
}

// TestGroundTruthMSI: an MSI built by wixl; its streams are files, and
// the cabinet embedded in it yields the installed files' bytes.
func TestGroundTruthMSI(t *testing.T) {
	src := archivetest.SourceTree(t)
	sums := archivetest.TreeSums(t, src, "")
	var files []string
	for p := range sums {
		files = append(files, p)
	}
	sort.Strings(files)
	files = files[:15]
	msi, keys := oletest.BuildMSI(t, src, files, files[0])
	// By default (--max-depth auto), an installer's embedded cabinet is
	// walked as with --max-depth 1.
	got, _, o := extractSums(t, msi)
	if o.status != 0 || len(o.errors()) > 0 {
		t.Fatalf("%s", describe(o))
	}
	one, _, o := extractSums(t, msi, "--max-depth", "1")
	if o.status != 0 || len(o.errors()) > 0 {
		t.Fatalf("%s", describe(o))
	}
	archivetest.Compare(t, got, one)
	for _, f := range files {
		if g := got["product.cab!/"+keys[f]]; g != sums[f] {
			t.Errorf("product.cab!/%s (%s): sha256 %q, want %q", keys[f], f, g, sums[f])
		}
	}
	if got["Binary.Payload"] != sums[files[0]] {
		t.Errorf("Binary.Payload: sha256 %q, want %q", got["Binary.Payload"], sums[files[0]])
	}
	for _, name := range []string{"!File", "[5]SummaryInformation", "product.cab"} {
		if got[name] == "" {
			t.Errorf("no file record for the stream %s", name)
		}
	}
}

// TestExpressPayloadIsAnErrorRecord: an express update's .psf is hashed,
// reported as not rebuildable, and the rest of the update goes on.
func TestExpressPayloadIsAnErrorRecord(t *testing.T) {
	dir := t.TempDir()
	payload := filepath.Join(dir, "payload")
	os.MkdirAll(payload, 0o755)
	os.WriteFile(filepath.Join(payload, "Windows10.0-KB5000003-x64.psf"), []byte("PSTREAM\x00 delta bytes"), 0o644)
	os.WriteFile(filepath.Join(payload, "express.psf.cix.xml"), []byte("<Container/>\n"), 0o644)
	msu := filepath.Join(dir, "kb5000003.msu")
	gcabDir(t, payload, msu, true)
	got, _, o := extractSums(t, msu)
	if o.status != 3 {
		t.Fatalf("want status 3\n%s", describe(o))
	}
	errs := o.errorPaths()
	if msg := errs["Windows10.0-KB5000003-x64.psf"]; !strings.Contains(msg, "without Windows") {
		t.Errorf("error record of the .psf: %q (all: %v)", msg, errs)
	}
	if got["Windows10.0-KB5000003-x64.psf"] == "" || got["express.psf.cix.xml"] == "" {
		t.Errorf("files: %v", got)
	}
}
