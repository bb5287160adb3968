package sandbox

import (
	"fmt"
	"sync"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"
)

// The runtime's seccomp filter, in the spirit of Docker's default profile
// but as a deny list: what a tenant's code never needs and what lets it
// reach past its box. Everything else is allowed, so any runtime (Go,
// Node.js, Python, the JVM) runs unchanged.
//
// Allowed on purpose: ptrace and process_vm_readv/writev, as Docker allows
// them on Linux 4.8+; an EE has its own PID namespace and its own uid, so
// the only processes it can name or trace are its own.

// deniedSyscalls fail with EPERM.
var deniedSyscalls = []string{
	// New namespaces (user namespaces above all: the door to most kernel
	// attack surface) and entering others'.
	"unshare", "setns",
	// Mounts and the root.
	"mount", "umount2", "pivot_root", "chroot",
	"fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
	// The kernel itself: BPF programs, modules, keyrings, perf counters,
	// kexec, reboot, swap, clocks, accounting, the kernel log, quotas.
	"bpf", "perf_event_open",
	"init_module", "finit_module", "delete_module", "create_module",
	"keyctl", "add_key", "request_key",
	"kexec_load", "kexec_file_load", "reboot",
	"swapon", "swapoff",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"acct", "syslog", "quotactl", "quotactl_fd", "lookup_dcookie", "nfsservctl",
	// File handles bypass the mount namespace (the "shocker" escape).
	"open_by_handle_at", "name_to_handle_at",
	// Raw I/O ports, old and rarely needed calls with a history of bugs.
	"iopl", "ioperm", "uselib", "vhangup", "userfaultfd",
	// io_uring bypasses this filter (its operations are not syscalls);
	// runtimes fall back to plain syscalls when it is refused.
	"io_uring_setup", "io_uring_enter", "io_uring_register",
}

// cloneNamespaceFlags are the flags of clone(2) that make namespaces.
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// policy is the filter as go-seccomp-bpf assembles it.
func policy() seccomp.Policy {
	return seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls: []seccomp.SyscallGroup{
			{Action: seccomp.ActionErrno, Names: deniedSyscalls},
			{
				// clone's flags are its first argument on x86_64 and arm64.
				Action: seccomp.ActionErrno,
				NamesWithCondtions: []seccomp.NameWithConditions{{
					Name: "clone",
					Conditions: seccomp.ArgumentConditions{
						{Argument: 0, Operation: seccomp.BitsSet, Value: cloneNamespaceFlags},
					},
				}},
			},
			{
				// clone3 passes its flags in memory, out of a filter's
				// reach: ENOSYS makes glibc and other callers fall back to
				// clone, which the rule above checks (Docker does the same).
				Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS),
				Names:  []string{"clone3"},
			},
		},
	}
}

var (
	filterOnce sync.Once
	filterErr  error
)

// checkPolicy assembles the policy once, so a host whose architecture the
// library does not know finds out at probe time.
func checkPolicy() error {
	filterOnce.Do(func() {
		p := policy()
		_, filterErr = p.Assemble()
	})
	return filterErr
}

// loadSeccomp installs the filter on the calling thread (not the process:
// no TSYNC), so the runtime forked from it, and everything it starts,
// inherits it. It sets no_new_privs first, which the kernel requires of an
// unprivileged caller and which Paddock wants anyway.
func loadSeccomp() error {
	if err := seccomp.LoadFilter(seccomp.Filter{NoNewPrivs: true, Policy: policy()}); err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	return nil
}
