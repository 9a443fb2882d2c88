package testcorpus

import (
	"os"
	"testing"
)

// The corpus script is the project's own: a test that needs the corpus
// finds it in the clone, with nothing beside it.
func TestScriptIsInTheClone(t *testing.T) {
	fi, err := os.Stat(Script())
	if err != nil {
		t.Fatalf("the corpus script: %v", err)
	}
	if fi.Mode()&0o111 == 0 {
		t.Errorf("%s is not executable (%v)", Script(), fi.Mode())
	}
}
