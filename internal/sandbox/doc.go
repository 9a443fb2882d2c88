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
//
// It also runs the children hashr-extract parses sources in: the job a
// child is given (Job), starting one and forwarding its messages (Proc),
// checking the records it sends back (SourceLines), the pool of shared
// children that parse several sources each (Pool, ServeShared), and what
// a dead child's error record says (Classify, a Failure whose Cause is
// one of the Err sentinels). The child itself is ChildMain, which
// hashr-extract runs when ChildEnv is set: it walks each source with
// unpack.Run, as hashr-extract does with --no-sandbox. This package
// knows nothing of hashr-extract's flags or output (package extract).
package sandbox
