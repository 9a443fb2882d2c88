package wim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive"
	wimtest "github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// splitWIM captures two images of real files (the second with one more
// file) into one LZX WIM, and splits it with wimlib-imagex into parts of
// about a third of its size. It returns the WIM, the parts in part
// order, and the walk both must give.
func splitWIM(t *testing.T, dir string) (string, []string, map[string]string) {
	t.Helper()
	src := wimtest.SourceTree(t)
	second := filepath.Join(dir, "second")
	wimtest.Run(t, "cp", "-a", src, second)
	if err := os.WriteFile(filepath.Join(second, "only-in-2.txt"), []byte("image two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	whole := filepath.Join(dir, "install.wim")
	wimtest.Run(t, "wimlib-imagex", "capture", src, whole, "Windows Test Home", "--compress=LZX", "--flags=Core")
	wimtest.Run(t, "wimlib-imagex", "append", second, whole, "Windows Test Pro", "--flags=Professional")
	parts := wimtest.SplitWIM(t, whole, dir)
	want := wimtest.TreeSums(t, src, "1/")
	for k, v := range wimtest.TreeSums(t, second, "2/") {
		want[k] = v
	}
	return whole, parts, want
}

func openParts(t *testing.T, names ...string) []Part {
	t.Helper()
	var parts []Part
	for _, name := range names {
		f, size := wimtest.OpenFile(t, name)
		parts = append(parts, Part{R: f, Size: size, Name: name})
	}
	return parts
}

func TestGroundTruthSplit(t *testing.T) {
	whole, parts, want := splitWIM(t, t.TempDir())
	w, err := openWIM(t, whole)
	if err != nil {
		t.Fatal(err)
	}
	unsplit, _ := walkAll(t, w)
	wimtest.Compare(t, unsplit, want)

	// Every part, in any order, walks to the same files.
	shuffled := slices.Clone(parts)
	slices.Reverse(shuffled[1:])
	for _, order := range [][]string{parts, shuffled} {
		sw, err := NewSplitWalker(openParts(t, order...))
		if err != nil {
			t.Fatalf("%v: %v", order, err)
		}
		got, images := walkAll(t, sw)
		wimtest.Compare(t, got, want)
		if images["2"] != "Windows Test Pro (Professional)" {
			t.Errorf("image 2 of the split WIM: %q", images["2"])
		}
	}
}

func TestSplitPartsMissing(t *testing.T) {
	_, parts, _ := splitWIM(t, t.TempDir())
	// Part 1 alone, through NewReader and NewSplitReader.
	_, err := NewReader(openParts(t, parts[0])[0].R, openParts(t, parts[0])[0].Size)
	var se *SplitError
	if !errors.As(err, &se) || !errors.Is(err, ErrSplit) {
		t.Fatalf("part 1 alone: %v, want a *SplitError", err)
	}
	if se.Total != len(parts) || !slices.Equal(se.Given, []int{1}) || len(se.Missing) != len(parts)-1 || se.Missing[0] != 2 {
		t.Errorf("part 1 alone: %+v", se)
	}
	// Every part but the second.
	rest := append([]string{parts[0]}, parts[2:]...)
	_, err = NewSplitReader(openParts(t, rest...))
	if !errors.As(err, &se) || !slices.Equal(se.Missing, []int{2}) {
		t.Fatalf("without part 2: %v", err)
	}
	t.Logf("without part 2: %v", err)
	// Without part 1.
	_, err = NewSplitReader(openParts(t, parts[1:]...))
	if !errors.As(err, &se) || !slices.Equal(se.Missing, []int{1}) {
		t.Fatalf("without part 1: %v", err)
	}
	// The same part twice.
	if _, err := NewSplitReader(openParts(t, parts[0], parts[1], parts[1])); err == nil || errors.Is(err, ErrSplit) {
		t.Errorf("part 2 twice: %v, want a corrupt error", err)
	}
}

func TestSplitPartOfAnotherWIM(t *testing.T) {
	dir := t.TempDir()
	_, parts, _ := splitWIM(t, filepath.Join(dir))
	other := filepath.Join(dir, "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	_, otherParts, _ := splitWIM(t, other)
	mixed := append([]string{parts[0], otherParts[1]}, parts[2:]...)
	_, err := NewSplitReader(openParts(t, mixed...))
	if err == nil || errors.Is(err, ErrSplit) {
		t.Fatalf("a part of another WIM: %v, want a GUID mismatch", err)
	}
	var ce *archive.CorruptError
	if !errors.As(err, &ce) {
		t.Errorf("a part of another WIM: %T %v, want an archive.CorruptError", err, err)
	}
	t.Logf("a part of another WIM: %v", err)
}

func TestSplitPartTruncated(t *testing.T) {
	dir := t.TempDir()
	_, parts, _ := splitWIM(t, dir)
	for cut := range []int{0, 1} {
		data, err := os.ReadFile(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		short := filepath.Join(dir, fmt.Sprintf("short%d.swm", cut))
		keep := len(data) / 2
		if cut == 1 {
			keep = headerSize - 10
		}
		if err := os.WriteFile(short, data[:keep], 0o644); err != nil {
			t.Fatal(err)
		}
		files := append([]string{parts[0], short}, parts[2:]...)
		w, err := NewSplitWalker(openParts(t, files...))
		if err == nil {
			// The tables may all be whole: the files' data is not.
			_, err = wimtest.WalkErr(w)
		}
		if err == nil {
			t.Errorf("part 2 cut to %d bytes: no error", keep)
		}
		t.Logf("part 2 cut to %d bytes: %v", keep, err)
	}
}

func TestSelectImage(t *testing.T) {
	whole, parts, want := splitWIM(t, t.TempDir())
	only2 := map[string]string{}
	for k, v := range want {
		if k[0] == '2' {
			only2[k] = v
		}
	}
	w, err := openWIM(t, whole)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SelectImage(2); err != nil {
		t.Fatal(err)
	}
	got, images := walkAll(t, w)
	wimtest.Compare(t, got, only2)
	if len(images) != 1 {
		t.Errorf("images walked: %v", images)
	}
	sw, err := NewSplitWalker(openParts(t, parts...))
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.SelectImage(3); err == nil {
		t.Error("SelectImage(3) of a WIM of 2 images: no error")
	}
	if err := sw.SelectImage(2); err != nil {
		t.Fatal(err)
	}
	got, _ = walkAll(t, sw)
	wimtest.Compare(t, got, only2)
}

func TestReadImageKeys(t *testing.T) {
	whole, parts, _ := splitWIM(t, t.TempDir())
	for _, name := range []string{whole, parts[0]} {
		p := openParts(t, name)[0]
		keys, err := ReadImageKeys(p.R, p.Size)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(keys) != 2 || keys[0].Index != 1 || keys[1].Index != 2 || keys[0].String() == keys[1].String() {
			t.Fatalf("%s: keys %v", name, keys)
		}
		if keys[0].MetadataSHA1 == ([20]byte{}) {
			t.Errorf("%s: no metadata SHA-1", name)
		}
		info, err := ReadPartInfo(p.R, p.Size)
		if err != nil || info.GUID != keys[0].GUID {
			t.Errorf("%s: part info %+v, %v", name, info, err)
		}
	}
	p := openParts(t, parts[1])[0]
	if _, err := ReadImageKeys(p.R, p.Size); !errors.Is(err, ErrSplit) {
		t.Errorf("part 2: %v, want ErrSplit", err)
	}
	info, err := ReadPartInfo(p.R, p.Size)
	if err != nil || info.Part != 2 || info.Total != len(parts) || !info.Split() {
		t.Errorf("part 2: %+v, %v", info, err)
	}
}
