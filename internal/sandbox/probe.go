package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/containerd/cgroups/v3"
	"golang.org/x/sys/unix"
)

var (
	probeOnce sync.Once
	probed    Caps

	warnOnce   sync.Once
	strictMode atomic.Bool
)

// init keeps the main goroutine on the process's main thread for good.
// The sandbox changes the namespaces, root and seccomp filter of threads
// it locks and then lets end; the Go runtime cannot end the main thread,
// so if one of those goroutines ran there it would park the thread
// instead, still changed, and what the kernel shows of the process
// (/proc/self: mountinfo, status) would be that thread's view. Locked to
// main, the main thread never runs one of them.
func init() { runtime.LockOSThread() }

// Probe finds what this host lets Paddock confine EEs with. It tries each
// mechanism once per process (on a thread it then discards, so nothing it
// changes stays) and returns the same answer after.
func Probe() Caps {
	probeOnce.Do(func() { probed = probe() })
	c := probed
	c.Missing = slices.Clone(c.Missing)
	return c
}

// Require applies Paddock's sandbox policy at start. strict (paddock up
// --sandbox=strict) refuses to run with any mechanism missing, and makes a
// failure to confine one EE fail that EE. Otherwise (best-effort) Paddock
// says once, in the log, what it runs without, and runs with the rest.
func Require(strict bool) (Caps, error) {
	c := Probe()
	if strict {
		if len(c.Missing) > 0 {
			return c, fmt.Errorf("--sandbox=strict: this host cannot confine functions fully: %s", strings.Join(c.Missing, "; "))
		}
		strictMode.Store(true)
		return c, nil
	}
	warnOnce.Do(func() {
		for _, m := range c.Missing {
			slog.Warn("sandbox: running without " + m)
		}
	})
	return c, nil
}

// Strict reports whether Require(true) succeeded in this process.
func Strict() bool { return strictMode.Load() }

// Names of the mechanisms, as Missing reports them.
const (
	mechCgroups = "cgroups (memory, CPU and process limits per function)"
	mechCPU     = "CPU quotas (cgroup cpu controller)"
	mechPids    = "process limits (cgroup pids controller)"
	mechUsers   = "a user per function (runtimes run as Paddock's own user)"
	mechPID     = "PID namespaces (functions see and signal each other's processes)"
	mechMount   = "mount namespaces (no read-only host, no private size-limited /tmp, other functions' code reachable by path)"
	mechNNP     = "no_new_privs"
	mechRoot    = "a minimal root (functions see the host's file system, read-only)"
	mechNet     = "network namespaces (functions share the host's network: they reach its loopback, Paddock's ports and each other's Runtime APIs)"
	mechSeccomp = "a seccomp filter (functions may call mount, unshare, bpf, keyctl and the like; the kernel refuses what their user may not do)"
)

func probe() Caps {
	warmUpExec()
	var c Caps
	miss := func(mech string, err error) { c.Missing = append(c.Missing, mech+": "+err.Error()) }

	if err := canSwitchUsers(); err != nil {
		miss(mechUsers, err)
	} else {
		c.Users = true
	}
	if err := onThrowawayThread(tryPIDNamespace); err != nil {
		miss(mechPID, err)
	} else {
		c.PIDNamespace = true
	}
	if err := onThrowawayThread(tryMountNamespace); err != nil {
		miss(mechMount, err)
	} else {
		c.MountNamespace = true
	}
	if !c.MountNamespace {
		miss(mechRoot, errors.New("needs mount namespaces"))
	} else if err := onThrowawayThread(tryMinimalRoot); err != nil {
		miss(mechRoot, err)
	} else {
		c.MinimalRoot = true
	}
	if err := onThrowawayThread(func() error { return unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }); err != nil {
		miss(mechNNP, err)
	} else {
		c.NoNewPrivs = true
	}
	if err := trySeccomp(); err != nil {
		miss(mechSeccomp, err)
	} else {
		c.Seccomp = true
	}
	if err := tryNetwork(); err != nil {
		miss(mechNet, err)
	} else {
		c.Network = true
	}
	c.cloneIntoCgroup = kernelAtLeast(5, 7)
	c.procPerMount = kernelAtLeast(5, 8)

	h, err := findCgroups()
	if err != nil {
		miss(mechCgroups, err)
		return c
	}
	c.cgroups, c.Cgroups = h, h.version
	if !h.has("cpu") {
		miss(mechCPU, errors.New("not available"))
	}
	if !h.has("pids") {
		miss(mechPids, errors.New("not available"))
	}
	return c
}

// findCgroups finds the cgroup hierarchies and checks that this process
// may create cgroups in them.
func findCgroups() (*hierarchies, error) {
	var h *hierarchies
	var err error
	switch cgroups.Mode() {
	case cgroups.Unified:
		h, err = findV2("/sys/fs/cgroup")
	case cgroups.Legacy, cgroups.Hybrid:
		// Hybrid hosts mount v2 too, but with the controllers bound to v1.
		h, err = findV1()
	default:
		return nil, errors.New("no cgroup file system at /sys/fs/cgroup")
	}
	if err != nil {
		return nil, err
	}
	if !h.has("memory") {
		return nil, fmt.Errorf("no cgroup %s memory controller", h.version)
	}
	h.cleanStale()
	// Creating the parents may have been no-ops: try a child.
	probe, err := newCgroup(h, "probe", Limits{})
	if err != nil {
		return nil, err
	}
	if err := probe.remove(); err != nil {
		return nil, err
	}
	return h, nil
}

// canSwitchUsers checks that this process may set a child's uid and gid.
func canSwitchUsers() error {
	if os.Geteuid() == 0 {
		return nil
	}
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if hexCaps, ok := strings.CutPrefix(line, "CapEff:"); ok {
			eff, err := strconv.ParseUint(strings.TrimSpace(hexCaps), 16, 64)
			if err != nil {
				return err
			}
			if need := uint64(1)<<unix.CAP_SETUID | 1<<unix.CAP_SETGID; eff&need == need {
				return nil
			}
		}
	}
	return errors.New("needs root (or CAP_SETUID and CAP_SETGID)")
}

// onThrowawayThread runs f on an OS thread that ends afterwards, so what f
// changes in the thread (namespaces, no_new_privs) dies with it.
func onThrowawayThread(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		done <- f()
	}()
	return <-done
}

func tryPIDNamespace() error {
	// For the calling thread this only sets the namespace of its future
	// children; none follows.
	return unix.Unshare(unix.CLONE_NEWPID | unix.CLONE_NEWIPC)
}

// tryMountNamespace does what enterView needs: a private namespace, a
// read-only host and a tmpfs.
func tryMountNamespace() error {
	if err := unsharePrivateMounts(); err != nil {
		return err
	}
	if err := readOnlyRoot(); err != nil {
		return err
	}
	return unix.Mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=64k")
}

// warmUpExec makes the Go runtime run its one-time checks of process
// creation now. The first os.StartProcess of a process checks that
// clone(CLONE_PIDFD) works by cloning a child that exits at once: done
// from a thread that unshared its PID namespace, that child would be the
// namespace's init, and its exit would leave the runtime's real fork
// nothing but ENOMEM.
func warmUpExec() {
	// Exec of a directory fails in the child, after the checks ran.
	if p, err := os.StartProcess("/", []string{"/"}, &os.ProcAttr{}); err == nil {
		p.Wait() //nolint:errcheck // it cannot have run
	}
}

// tryMinimalRoot pivots into an empty tmpfs, as enterRoot does.
func tryMinimalRoot() error {
	if err := unsharePrivateMounts(); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", rootMount, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=64k"); err != nil {
		return err
	}
	return pivot(rootMount)
}

// trySeccomp loads the filter on a thread that then ends.
func trySeccomp() error {
	if err := checkPolicy(); err != nil {
		return err
	}
	return onThrowawayThread(loadSeccomp)
}

// tryNetwork sets up the host's side and makes one EE namespace, which
// goes into the pool for the first EE.
func tryNetwork() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root")
	}
	if err := hostNetwork(); err != nil {
		return err
	}
	n, err := newEENet()
	if err != nil {
		return err
	}
	pool.put(n)
	return nil
}

// kernelAtLeast compares the running kernel's version.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	rel := unix.ByteSliceToString(u.Release[:])
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return false
	}
	digits := func(s string) int {
		if end := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); end >= 0 {
			s = s[:end]
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	maj, mnr := digits(parts[0]), digits(parts[1])
	return maj > major || maj == major && mnr >= minor
}
