package bridge

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// tree.udf is genisoimage -udf -R of a tree (scripts/mkfsseeds.sh): a
// bridge disc with both trees.
func seed(t *testing.T) []byte {
	data, err := os.ReadFile(filepath.Join("..", "udf", "testdata", "tree.udf"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestOpen(t *testing.T) {
	data := seed(t)
	tree, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil || tree.Format != "udf" || tree.UDFErr != nil {
		t.Fatalf("a bridge disc: %+v, %v; want its UDF tree", tree, err)
	}
	// Every UDF anchor zeroed: the ISO 9660 tree, and why.
	const bs = 2048
	for s := 256; s < len(data)/bs; s++ {
		if b := data[s*bs : (s+1)*bs]; b[0] == 2 && b[1] == 0 && b[12] == byte(s) {
			clear(b)
		}
	}
	tree, err = Open(bytes.NewReader(data), int64(len(data)))
	if err != nil || tree.Format != "iso9660" || tree.UDFErr == nil {
		t.Fatalf("a bridge disc without UDF anchors: %+v, %v; want its ISO 9660 tree and the UDF error", tree, err)
	}
	// Neither tree: the UDF tree's error.
	data[16*bs] = 3 // no primary volume descriptor
	if tree, err = Open(bytes.NewReader(data), int64(len(data))); err == nil {
		t.Fatalf("neither tree opens, yet %+v", tree)
	}
}
