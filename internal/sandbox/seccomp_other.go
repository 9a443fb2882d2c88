//go:build linux && !amd64 && !arm64

package sandbox

// native is nil: there is no filter for this architecture, and
// InstallSeccomp says so.
var native *archFilter
