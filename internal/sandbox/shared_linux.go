package sandbox

import (
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// A shared child parses several sources in turn, each handed to it as an
// open file over a socket (SCM_RIGHTS), under a CPU limit of its own.

// ReceivedFile is the one file descriptor a message on a shared
// child's socket carried (its control bytes, oob): the next source.
func ReceivedFile(oob []byte) (*os.File, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			return nil, err
		}
		fds = append(fds, got...)
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("%d file descriptors, not 1", len(fds))
	}
	return os.NewFile(uintptr(fds[0]), "source"), nil
}

// LimitSourceCPU sets the soft CPU limit to what this process has used
// plus one source's share (--sandbox-cpu); the hard limit, set once,
// bounds the whole child.
func LimitSourceCPU(perSource int64) error {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return fmt.Errorf("reading the CPU time used: %w", err)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CPU, &lim); err != nil {
		return fmt.Errorf("reading the CPU time limit: %w", err)
	}
	used := uint64(ru.Utime.Sec + ru.Stime.Sec + 1)
	lim.Cur = min(used+uint64(max(perSource, 1)), lim.Max)
	if err := unix.Setrlimit(unix.RLIMIT_CPU, &lim); err != nil {
		return fmt.Errorf("setting the CPU time limit: %w", err)
	}
	return nil
}

// receiveJob waits for a shared child's next source, and sets its CPU
// limit; a nil job when the parent closed the socket.
func receiveJob(buf, oob []byte, perSourceCPU int64) (*SharedJob, *os.File, error) {
	n, oobn, _, _, err := unix.Recvmsg(SharedJobFD, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the next source: %w", err)
	}
	if n == 0 && oobn == 0 {
		return nil, nil, nil
	}
	f, err := ReceivedFile(oob[:oobn])
	if err != nil {
		return nil, nil, fmt.Errorf("the next source's file: %w", err)
	}
	var sj SharedJob
	if err := json.Unmarshal(buf[:n], &sj); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("the next source: %w", err)
	}
	if err := LimitSourceCPU(perSourceCPU); err != nil {
		f.Close()
		return nil, nil, err
	}
	return &sj, f, nil
}
