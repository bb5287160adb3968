// Package sandbox confines the runtime process of an execution environment
// (EE) on Linux, with what the host allows:
//
//   - a cgroup per EE (v1 or v2): the memory limit is the function's
//     memory, the CPU quota its vCPUs, and a pids limit stops fork bombs;
//   - a uid and gid of its own (no root, no supplementary groups), with
//     no_new_privs so no set-uid binary gives privileges back;
//   - its own PID and IPC namespaces: it sees and signals only its own
//     processes, and when the runtime ends every process it left ends too;
//   - its own mount namespace: a read-only host, its code read-only, other
//     functions' code and the agent's data out of sight, a private,
//     size-limited tmpfs at /tmp, and a /proc showing only its processes.
//
// Probe finds what the host allows (once per process); Require turns that
// into Paddock's start-up policy (--sandbox=strict refuses a partial
// sandbox, best-effort says once what is missing). Each EE then gets a
// Sandbox: Prepare, Start the runtime through it, Close when it ended.
//
// What it does not do yet: the EE shares the host's network namespace, so
// it can reach anything on loopback, other EEs' Runtime APIs included; its
// /tmp is memory, so it counts against the function's memory (Lambda's is
// disk); and a runtime that is not a Go program, being PID 1 of its
// namespace, ignores SIGTERM unless it handles it, so it is stopped with
// SIGKILL after the shutdown grace period.
package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Caps is what the host lets Paddock confine EEs with.
type Caps struct {
	Cgroups        string // "v1", "v2", or "" without usable cgroups
	Users          bool   // EEs can run as users of their own (root, or CAP_SETUID and CAP_SETGID)
	PIDNamespace   bool   // and in their own PID and IPC namespaces
	MountNamespace bool   // and in their own mount namespace
	NoNewPrivs     bool   // and with no_new_privs
	// MinimalRoot: the mount namespace's root is a fresh one holding only
	// what a runtime needs (rootfs.go), not the host's, read-only.
	MinimalRoot bool
	// Network: each EE has a network namespace of its own, its Runtime
	// API on its own loopback, and the outside world through NAT (netns.go).
	Network bool
	// Seccomp: the runtime runs under the seccomp filter of seccomp.go.
	Seccomp bool
	// Missing says, one line per mechanism, what the EEs run without and
	// why ("cgroups (...): permission denied").
	Missing []string

	// Dir is where, on a host without mount namespaces, each EE gets a
	// directory of its own: its TMPDIR and, when it runs as its own user,
	// a private copy of its code. The agent sets it to <data dir>/sandbox;
	// empty means os.TempDir()/paddock-sandbox.
	Dir string

	cgroups         *hierarchies
	cloneIntoCgroup bool // clone3 with CLONE_INTO_CGROUP (Linux 5.7)
	procPerMount    bool // each proc mount has its own options (Linux 5.8)
}

// Limits bound one EE.
type Limits struct {
	MemoryBytes int64 // memory (and memory+swap) limit; the kernel kills the EE past it
	MilliCPU    int   // CPU quota in thousandths of a CPU
	Pids        int64 // most processes and threads at once
	TmpBytes    int64 // size of its /tmp
}

// Sandbox confines one EE's runtime process.
type Sandbox struct {
	caps    Caps
	name    string // unique on the host: names its cgroup and directory
	lim     Limits
	codeDir string // the code, on the host (symlinks resolved)
	taskDir string // the code, as the runtime sees it
	mounts  []Mount
	dir     string // the EE's directory on the host, without a mount namespace
	tmpDir  string // its TMPDIR on the host, without a mount namespace
	tmpfs   bool   // tmpDir is a tmpfs mounted here
	cg      *cgroup
	uid     *uidLease
	net     *eeNet // its network namespace, with Caps.Network

	// procHidden: /proc in the EE's view shows only its own processes.
	procHidden bool

	release    chan struct{} // closed by Close: the thread that started the runtime may end
	threadDone chan struct{} // closed when that thread's goroutine returned

	closeOnce sync.Once
	closeErr  error
}

// Mount is a host directory the EE reads besides its code: its runtime
// client, its interpreter, its layers.
type Mount struct {
	Host string // on the host
	At   string // where the EE sees it in a minimal root (/var/runtime, /var/lang, /opt)
}

// Prepare makes what EE id needs before its runtime starts: its cgroup with
// lim, its uid, and (without a mount namespace) its directories. codeDir
// holds the function's extracted code; the EE only reads it, and the
// mounts, read-only at their At in a minimal root (elsewhere the EE reads
// them at their Host path: see Path).
func (c Caps) Prepare(id string, lim Limits, codeDir string, mounts ...Mount) (_ *Sandbox, err error) {
	// The view mounts the code at its real path, which must not go
	// through symlinks.
	dir, err := filepath.EvalSymlinks(codeDir)
	if err == nil {
		dir, err = filepath.Abs(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("code dir: %w", err)
	}
	s := &Sandbox{caps: c, name: uniqueName(id), lim: lim, codeDir: dir, taskDir: dir, mounts: mounts}
	defer func() {
		if err != nil {
			s.Close() //nolint:errcheck // undoing a half-made sandbox; err says why
		}
	}()
	if c.Users {
		if s.uid, err = allocUID(); err != nil {
			return nil, err
		}
	}
	if c.Cgroups != "" && c.cgroups != nil {
		if s.cg, err = newCgroup(c.cgroups, s.name, lim); err != nil {
			return nil, err
		}
	}
	if c.Network {
		if s.net, err = pool.get(); err != nil {
			return nil, fmt.Errorf("network namespace: %w", err)
		}
	}
	switch {
	case c.MountNamespace && c.MinimalRoot:
		s.taskDir = TaskRoot
	case !c.MountNamespace:
		if err := s.makeDirs(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// uniqueName is id with a random suffix: EE ids are unique in one Paddock,
// but cgroups and directories are shared by every Paddock of the host (and
// by test binaries running at once).
func uniqueName(id string) string {
	b := make([]byte, 4)
	rand.Read(b) //nolint:errcheck // never fails on Linux
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, id)
	return safe + "-" + hex.EncodeToString(b)
}

// makeDirs gives the EE, on a host without mount namespaces, a directory
// of its own under Caps.Dir: tmp (its TMPDIR, a tmpfs of TmpBytes if this
// process may mount one) and, when it runs as its own user, task: a copy of
// its code made of hard links, which only it can reach (the code cache
// itself is closed to other users).
func (s *Sandbox) makeDirs() error {
	base := s.caps.Dir
	if base == "" {
		base = filepath.Join(os.TempDir(), "paddock-sandbox")
	}
	if _, done := cleanedDirs.LoadOrStore(base, true); !done {
		cleanStaleDirs(base)
	}
	own := filepath.Join(base, ownerDir)
	// Modes are set, not left to the umask (paddock up runs with 077):
	// the EEs' users must search these directories.
	if err := os.MkdirAll(own, 0o711); err != nil {
		return fmt.Errorf("sandbox dir: %w", err)
	}
	for _, d := range []string{base, own} {
		if err := os.Chmod(d, 0o711); err != nil {
			return fmt.Errorf("sandbox dir: %w", err)
		}
	}
	s.dir = filepath.Join(own, s.name)
	if err := os.Mkdir(s.dir, 0o750); err != nil {
		s.dir = "" // not ours to remove
		return fmt.Errorf("sandbox dir: %w", err)
	}
	if err := os.Chmod(s.dir, 0o750); err != nil {
		return fmt.Errorf("sandbox dir: %w", err)
	}
	s.tmpDir = filepath.Join(s.dir, "tmp")
	if err := os.Mkdir(s.tmpDir, 0o700); err != nil {
		return fmt.Errorf("sandbox tmp: %w", err)
	}
	if s.uid == nil {
		return nil
	}
	uid := int(s.uid.uid)
	if err := os.Chown(s.dir, 0, uid); err != nil {
		return fmt.Errorf("sandbox dir: %w", err)
	}
	if err := os.Chown(s.tmpDir, uid, uid); err != nil {
		return fmt.Errorf("sandbox tmp: %w", err)
	}
	opts := fmt.Sprintf("mode=0700,uid=%d,gid=%d", uid, uid)
	if s.lim.TmpBytes > 0 {
		opts += fmt.Sprintf(",size=%d", s.lim.TmpBytes)
	}
	// Without CAP_SYS_ADMIN the directory stays, without a size limit.
	s.tmpfs = unix.Mount("tmpfs", s.tmpDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts) == nil
	s.taskDir = filepath.Join(s.dir, "task")
	if err := linkTree(s.codeDir, s.taskDir); err != nil {
		return fmt.Errorf("sandbox code: %w", err)
	}
	return reachable(s.taskDir, s.uid.uid, s.uid.uid)
}

// cleanedDirs holds the Caps.Dir values cleanStaleDirs has been run on.
var cleanedDirs sync.Map

// cleanStaleDirs removes the EE directories that Paddock processes now gone
// left under base, unmounting their tmpfs first.
func cleanStaleDirs(base string) {
	for _, own := range staleOwners(base) {
		ents, _ := os.ReadDir(own)
		for _, e := range ents {
			unix.Unmount(filepath.Join(own, e.Name(), "tmp"), unix.MNT_DETACH) //nolint:errcheck // not every one was mounted
		}
		os.RemoveAll(own) //nolint:errcheck // best effort
	}
}

// linkTree recreates the tree at src under dst with hard links to its files
// (copies across file systems). Directories are root's, mode 0755: the EE
// reads them and cannot change them. The linked files keep the cache's
// owner and modes (0644 or 0755: codezip never makes them writable by
// others), so the EE cannot change them either.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if err := os.Mkdir(to, 0o755); err != nil {
				return err
			}
			return os.Chmod(to, 0o755) // whatever the umask
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, to)
		case d.Type().IsRegular():
			if os.Link(path, to) == nil {
				return nil
			}
			return copyFile(path, to)
		default:
			return nil // codezip makes no devices, fifos or sockets
		}
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TaskDir is the code directory as the runtime sees it: its working
// directory and LAMBDA_TASK_ROOT.
func (s *Sandbox) TaskDir() string { return s.taskDir }

// Path is where the runtime sees m: At in a minimal root, else (no
// sandbox, or the host's own root) its Host path.
func (s *Sandbox) Path(m Mount) string {
	if s != nil && s.caps.MountNamespace && s.caps.MinimalRoot {
		return m.At
	}
	return m.Host
}

// Env is what the runtime's environment needs on top of Lambda's: TMPDIR
// when its private tmp is not at /tmp.
func (s *Sandbox) Env() []string {
	if s.tmpDir == "" {
		return nil
	}
	return []string{"TMPDIR=" + s.tmpDir}
}

// Listener is the EE's Runtime API listener, at RuntimeAPIAddr in its own
// network namespace, or nil when it has none (then the caller listens on
// the host's loopback).
func (s *Sandbox) Listener() net.Listener {
	if s == nil || s.net == nil {
		return nil
	}
	return s.net.ln
}

// UID is the user the runtime runs as, and false when it runs as Paddock's.
func (s *Sandbox) UID() (uint32, bool) {
	if s.uid == nil {
		return 0, false
	}
	return s.uid.uid, true
}

// HasCgroup reports whether the EE has a cgroup, so that OOMKilled and
// Usage mean something.
func (s *Sandbox) HasCgroup() bool { return s.cg != nil }

// MemoryEnforced reports whether the kernel enforces the memory limit.
func (s *Sandbox) MemoryEnforced() bool { return s.cg != nil && s.cg.mem }

// Apply sets the process attributes of cmd that need no preparation in the
// parent: the EE's user (with no supplementary groups), its own process
// group and death with Paddock. Start calls Apply.
func (s *Sandbox) Apply(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	a := cmd.SysProcAttr
	a.Setpgid = true
	if a.Pdeathsig == 0 {
		// os/exec sets it in the child after the uid change (which would
		// clear it), and it reaches PID 1 of a child namespace as well.
		a.Pdeathsig = syscall.SIGKILL
	}
	if s.uid != nil {
		a.Credential = &syscall.Credential{Uid: s.uid.uid, Gid: s.uid.uid, Groups: []uint32{}}
	}
}

// Start starts cmd (which Apply configures) confined in the sandbox.
//
// Two things cannot be asked of os/exec: no_new_privs, and mounts done
// inside the child before it runs the runtime. Both are properties a child
// inherits from the thread that forks it, so Start forks from an OS thread
// of its own: locked to one goroutine, it joins the EE's v1 cgroups, enters
// a new mount namespace set up as the EE's view, sets no_new_privs, and
// starts cmd. That thread is never used for anything else: it waits until
// Close, because the kernel sends Pdeathsig when the thread that forked the
// child ends (not the process), and then ends with its goroutine.
func (s *Sandbox) Start(cmd *exec.Cmd) error {
	s.Apply(cmd)
	type started struct {
		tid     int
		restore func() error
		joined  bool
		err     error
	}
	res := make(chan started, 1)
	s.release = make(chan struct{})
	s.threadDone = make(chan struct{})
	go func() {
		defer close(s.threadDone)
		// Never unlocked: when this goroutine returns, the Go runtime ends
		// the thread instead of reusing it with the EE's namespace and
		// no_new_privs.
		runtime.LockOSThread()
		r := started{tid: unix.Gettid()}
		r.restore, r.joined, r.err = s.startOnThread(cmd, r.tid)
		res <- r
		if r.err == nil {
			<-s.release
		}
	}()
	r := <-res
	if r.restore != nil && r.err == nil {
		// The thread is parked: back to Paddock's cgroups, or the EE's
		// cgroup could never be removed (and its pids count would be one
		// too high). After a failure it ends instead, which leaves them.
		if err := r.restore(); err != nil {
			slog.Warn("sandbox: moving the starting thread out of the EE's cgroup", "ee", s.name, "err", err)
		}
	}
	if r.err != nil {
		close(s.release)
		<-s.threadDone
		s.release = nil
		return r.err
	}
	if s.cg != nil && !r.joined {
		// The runtime was not started inside its cgroup: attach it now.
		// Anything it forked in the microseconds before stays outside.
		if err := s.Attach(cmd.Process.Pid); err != nil {
			// Unconfined, it must not run: the caller sees a failed start.
			cmd.Process.Kill() //nolint:errcheck // it may have exited
			cmd.Wait()         //nolint:errcheck // reaped here, as the caller will not
			return err
		}
	}
	return nil
}

// startOnThread runs on Start's locked thread, and sets it up in the
// order runc's init does, each step one the next may need: the cgroup
// (v1), the network namespace, new PID, IPC and UTS namespaces for the
// children, the mount namespace and its root, no_new_privs and the seccomp
// filter last, since it forbids the calls the steps before make. Then it
// forks the runtime, which inherits all of it. joined reports whether the
// process starts inside its cgroup.
//
// In a new PID namespace the runtime is PID 1: the kernel delivers it only
// the signals it has a handler for (the Go runtime installs one for SIGTERM
// and exits), its orphans are reparented to it, and when it exits every
// process left in the namespace is killed.
func (s *Sandbox) startOnThread(cmd *exec.Cmd, tid int) (restore func() error, joined bool, err error) {
	if s.cg != nil {
		switch {
		case s.cg.h.version == "v1":
			restore, err = s.cg.joinThread(tid)
			if err != nil {
				slog.Warn("sandbox: the runtime starts outside its cgroup and is attached after", "ee", s.name, "err", err)
			}
			joined = err == nil
		case s.caps.cloneIntoCgroup && !s.caps.Seccomp:
			// The filter answers clone3 with ENOSYS (seccomp.go), so with
			// it the runtime is attached right after it starts instead.
			fd, err := s.cg.openDir()
			if err != nil {
				return nil, false, &SetupError{fmt.Errorf("open cgroup: %w", err)}
			}
			defer unix.Close(fd)
			cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
			joined = true
		}
	}
	if s.net != nil {
		if err := s.net.enter(); err != nil {
			return restore, false, &SetupError{err}
		}
	}
	if s.caps.PIDNamespace {
		// For this thread only its future children's namespaces: the one
		// it forks next is PID 1 of a new one.
		if err := unix.Unshare(unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS); err != nil {
			return restore, false, &SetupError{fmt.Errorf("unshare PID, IPC and UTS namespaces: %w", err)}
		}
		// Lambda's EEs are named by their address; the host's name is none
		// of the function's business.
		name := "localhost"
		if s.net != nil {
			name = s.net.ee.String()
		}
		if err := unix.Sethostname([]byte(name)); err != nil {
			return restore, false, &SetupError{fmt.Errorf("hostname: %w", err)}
		}
	}
	if s.caps.MountNamespace {
		enter := s.enterView
		if s.caps.MinimalRoot {
			enter = s.enterRoot
		}
		if err := enter(); err != nil {
			return restore, false, &SetupError{err}
		}
	}
	switch {
	case s.caps.Seccomp:
		if err := loadSeccomp(); err != nil {
			return restore, false, &SetupError{err}
		}
	case s.caps.NoNewPrivs:
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return restore, false, &SetupError{fmt.Errorf("no_new_privs: %w", err)}
		}
	}
	return restore, joined, cmd.Start()
}

// SetupError is a failure to set up the sandbox itself, before the runtime
// was started: Paddock's or the host's fault, not the function's (a
// missing or unrunnable bootstrap fails in cmd.Start and is not one).
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return "sandbox: " + e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// Attach moves process pid into the EE's cgroup. Start does it when the
// process could not be started inside it.
func (s *Sandbox) Attach(pid int) error {
	if s.cg == nil {
		return nil
	}
	return s.cg.attach(pid)
}

// OOMKilled reports whether the kernel killed a process of the EE for
// going past its memory limit.
func (s *Sandbox) OOMKilled() bool {
	return s.cg != nil && s.cg.mem && s.cg.oomKills() > 0
}

// Usage is the CPU time of every process that ran in the EE, and the memory
// it holds now (without page cache the kernel could drop). Unlike /proc of
// the runtime's pid, it counts its children too. Zeros without a cgroup.
func (s *Sandbox) Usage() (cpuSeconds float64, memBytes int64) {
	if s.cg == nil {
		return 0, 0
	}
	return s.cg.usage()
}

// ProcHidden reports whether /proc in the EE's view shows only its own
// processes.
func (s *Sandbox) ProcHidden() bool { return s.procHidden }

// Close kills every process left in the EE's cgroup, lets the thread that
// started it end (which frees its mount namespace and with it its /tmp),
// removes the cgroup and the EE's directories, and gives its uid back. It
// is safe to call more than once and on a half-made Sandbox.
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.cg != nil {
			if err := s.cg.kill(); err != nil {
				errs = append(errs, err)
			}
		}
		if s.release != nil {
			close(s.release)
			<-s.threadDone
		}
		if s.cg != nil {
			if err := s.cg.remove(); err != nil {
				errs = append(errs, err)
			}
		}
		if s.tmpfs {
			if err := unix.Unmount(s.tmpDir, unix.MNT_DETACH); err != nil {
				errs = append(errs, fmt.Errorf("unmount %s: %w", s.tmpDir, err))
			}
		}
		if s.dir != "" {
			if err := os.RemoveAll(s.dir); err != nil {
				errs = append(errs, err)
			}
		}
		s.uid.release()
		s.net.close()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
