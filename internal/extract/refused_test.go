package extract

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// A refused source (it failed verification upstream) is not opened: it
// passes through with its error and end records as they came, and no
// file record of it is written, however readable its bytes.
func TestRefusedSourceIsNotExtracted(t *testing.T) {
	abs, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "formats", "sample-ustar.tar"))
	uri, _ := json.Marshal(abs)
	stream := `{"type":"source","id":"sample-ustar.tar","uri":` + string(uri) + `,"verified":{"ok":false,"by":"none","detail":"--verify require"},"refused":true}
{"type":"error","stage":"scan","source":` + string(uri) + `,"message":"--verify require"}
{"type":"end","source":` + string(uri) + `,"files":0,"errors":1,"bytes":0}
`
	out := extract(t, stream)
	if out.status != 0 || len(out.files()) != 0 || len(out.lines) != 3 {
		t.Fatalf("exit %d, %d files, output %v\n%s", out.status, len(out.files()), out.lines, out.stderr)
	}
	for i, want := range []string{`"refused":true`, `"stage":"scan"`, `"errors":1`} {
		if !strings.Contains(out.lines[i], want) {
			t.Errorf("line %d %s, want %s", i, out.lines[i], want)
		}
	}
}
