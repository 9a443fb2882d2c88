//go:build !amd64 || purego

package sha1sha256

// Without the kernel a Digest still works, in Go, so that it can be tested
// everywhere; Available reports false, so hashr does not use it.
const haveKernel = false

func blocks(h1 *[5]uint32, h256 *[8]uint32, p []byte) { blocksGeneric(h1, h256, p) }
