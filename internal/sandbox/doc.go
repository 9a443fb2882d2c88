// Package sandbox takes from a process what parsing hostile input never
// needs, before it parses: every capability (so that root running hashr
// does not hand root's powers to a parser a source has taken over, nor to
// the decoders it runs), the right to gain privileges through execve
// (no_new_privs), the system calls that reach beyond the process (a
// seccomp filter: mounts, ptrace, kernel modules, keyrings, BPF, sockets,
// namespaces, the clock…), and the file descriptors its caller left open.
//
// Each step applies to every thread of the Go runtime at once (psx, or the
// seccomp filter's TSYNC flag): capabilities and no_new_privs belong to a
// thread, not to the process. All are inherited across execve, so the
// decoders a sandboxed parser runs (xz, 7zz…) get them too.
//
// No library served: libseccomp-golang needs cgo and libseccomp, and the
// filter is a few dozen instructions; the capability steps are three
// system calls.
package sandbox
