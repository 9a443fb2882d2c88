package cli

import (
	"io"
	"os"

	"github.com/hashr-dev/hashr/internal/hugeheap"
)

// Exec is a command's main: it asks for huge pages under the first
// hugeHeap bytes of the heap first, while the heap is fresh
// (hugeheap.Reserve; 0 for none), then runs main over the process's
// arguments and standard streams and exits with its status.
func Exec(hugeHeap int, main func(args []string, stdin io.Reader, stdout, stderr io.Writer) int) {
	hugeheap.Reserve(hugeHeap)
	os.Exit(main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
