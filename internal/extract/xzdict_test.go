package extract

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashr-dev/hashr/internal/formats/archive/archivetest"
)

// withDictionary rewrites the LZMA2 dictionary size of an xz stream's
// first block (as xz writes it: one filter, its one property byte) and
// the block header's CRC32.
func withDictionary(t *testing.T, stream []byte, prop byte) []byte {
	t.Helper()
	b := bytes.Clone(stream)
	size := (int(b[12]) + 1) * 4
	if b[14] != 0x21 || b[15] != 1 {
		t.Fatalf("block header %x: not one LZMA2 filter", b[12:12+size])
	}
	b[16] = prop
	binary.LittleEndian.PutUint32(b[12+size-4:], crc32.ChecksumIEEE(b[12:12+size-4]))
	return b
}

// A tar.xz whose stream asks for a dictionary over the limit (3 GiB;
// the reference xz decodes it) is refused with a message that says so,
// by each xz decoder, not as "corrupt at byte 0".
func TestXZDictionaryOverTheLimitSaysSo(t *testing.T) {
	archivetest.NeedTool(t, "xz", "tar")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a\n"), 0o644)
	tarXZ := archivetest.Run(t, "sh", "-c", "tar -C "+dir+" -cf - a.txt | xz -T1")
	file := filepath.Join(dir, "bigdict.tar.xz")
	os.WriteFile(file, withDictionary(t, []byte(tarXZ), 39), 0o644)
	if err := exec.Command("xz", "--test", file).Run(); err != nil {
		t.Fatalf("xz --test rejects the fixture: %v", err)
	}
	for _, path := range []string{os.Getenv("PATH"), t.TempDir()} {
		t.Setenv("PATH", path) // the xz programs, then none: the Go decoder
		o := extract(t, sourceLine(file), "--hash", "sha256")
		msg := o.errorPaths()[""]
		if o.status != 3 || !strings.Contains(msg, "dictionary of 3072 MiB") || strings.Contains(msg, "corrupt") {
			t.Errorf("PATH %q: error %q, want one naming the dictionary and the limit, not corruption\n%s", path, msg, describe(o))
		}
	}
}
