package cpio

import (
	"bytes"
	"fmt"
)

// strippedArchive builds an archive the way RPM writes one with files
// over 4 GiB: 07070X headers naming file indexes, then a newc trailer.
// Files 1 and 2 are hard links whose data is stored with file 3.
func strippedArchive() []byte {
	var b bytes.Buffer
	pad := func() {
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	member := func(index int, data string) {
		fmt.Fprintf(&b, "07070X%08x", index)
		pad()
		b.WriteString(data)
		pad()
	}
	member(0, "hello")
	member(1, "")
	member(2, "")
	member(3, "abc")
	fmt.Fprintf(&b, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x", 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, len("TRAILER!!!")+1, 0)
	b.WriteString("TRAILER!!!\x00")
	pad()
	return b.Bytes()
}
