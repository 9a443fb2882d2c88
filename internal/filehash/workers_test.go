package filehash

import (
	"runtime"
	"testing"

	"github.com/hashr-dev/hashr/internal/digest"
)

// Files are hashed two per CPU: with one per CPU the CPUs idled over
// trees of small files.
func TestWorkersTwoPerCPU(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	set, err := digest.Parse("sha256,sha1")
	if err != nil {
		t.Fatal(err)
	}
	for _, cpus := range []int{1, 2, 3} {
		runtime.GOMAXPROCS(cpus)
		if got := Workers(set); got != 2*cpus {
			t.Errorf("%d CPUs: %d files hashed at once, want %d", cpus, got, 2*cpus)
		}
	}
}
