package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary doubles as the confined process: copied into a code
// directory as "bootstrap" (the host's /tmp, where go test keeps it, is out
// of the sandbox's view) and run with SANDBOX_HELPER set.
func TestMain(m *testing.M) {
	if action := os.Getenv("SANDBOX_HELPER"); action != "" {
		os.Exit(helper(action))
	}
	os.Exit(m.Run())
}

// facts is what the helper reports about its situation.
type facts struct {
	UID, GID, PID int
	Groups        []int
	NoNewPrivs    string
	Cwd           string
	TmpDir        string
	Errors        map[string]string // what it tried, and the error ("" if it worked)
	ProcEntries   int
	Cgroup        string
	Seccomp       string
	Root          []string // the names in /
	Hostname      string
}

func helper(action string) int {
	switch action {
	case "facts":
		f := facts{UID: os.Getuid(), GID: os.Getgid(), PID: os.Getpid(), TmpDir: os.TempDir(), Errors: map[string]string{}}
		f.Groups, _ = os.Getgroups()
		f.Cwd, _ = os.Getwd()
		if st, err := os.ReadFile("/proc/self/status"); err == nil {
			for _, l := range strings.Split(string(st), "\n") {
				if v, ok := strings.CutPrefix(l, "NoNewPrivs:"); ok {
					f.NoNewPrivs = strings.TrimSpace(v)
				}
				if v, ok := strings.CutPrefix(l, "Seccomp:"); ok {
					f.Seccomp = strings.TrimSpace(v)
				}
			}
		}
		cg, _ := os.ReadFile("/proc/self/cgroup")
		f.Cgroup = string(cg)
		try := func(what string, err error) {
			f.Errors[what] = ""
			if err != nil {
				f.Errors[what] = err.Error()
			}
		}
		if ents, err := os.ReadDir("/"); err == nil {
			for _, e := range ents {
				f.Root = append(f.Root, e.Name())
			}
		}
		f.Hostname, _ = os.Hostname()
		try("unshare user", onNewThread(func() error { return unix.Unshare(unix.CLONE_NEWUSER) }))
		try("mount", unix.Mount("tmpfs", os.TempDir(), "tmpfs", 0, ""))
		try("write tmp", os.WriteFile(filepath.Join(os.TempDir(), "x"), []byte("x"), 0o600))
		try("write code", os.WriteFile(filepath.Join(f.Cwd, "new"), []byte("x"), 0o600))
		try("write etc", os.WriteFile("/etc/paddock-sandbox-test", []byte("x"), 0o600))
		_, err := os.ReadFile(filepath.Join(f.Cwd, "data.txt"))
		try("read code", err)
		for _, p := range strings.Split(os.Getenv("SANDBOX_READ"), ":") {
			if p != "" {
				_, err := os.ReadFile(p)
				try("read "+p, err)
			}
		}
		if pid, err := strconv.Atoi(os.Getenv("SANDBOX_SIGNAL")); err == nil {
			try("signal", syscall.Kill(pid, 0))
		}
		if ents, err := os.ReadDir("/proc"); err == nil {
			for _, e := range ents {
				if _, err := strconv.Atoi(e.Name()); err == nil {
					f.ProcEntries++
				}
			}
		}
		json.NewEncoder(os.Stdout).Encode(f) //nolint:errcheck
		return 0
	case "alloc":
		var hold [][]byte
		for i := 0; i < 1024; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = 1
			}
			hold = append(hold, b)
		}
		fmt.Println(len(hold))
		return 0
	case "fork":
		n := 0
		var err error
		for ; n < 5000; n++ {
			c := exec.Command("/bin/sleep", "30")
			if err = c.Start(); err != nil {
				break
			}
		}
		fmt.Printf("%d %v\n", n, err)
		return 0
	case "spin":
		end := time.Now().Add(time.Second)
		for time.Now().Before(end) {
		}
		return 0
	case "sleep":
		time.Sleep(time.Minute)
		return 0
	}
	return 2
}

// onNewThread runs f on a thread of its own (unshare(CLONE_NEWUSER) needs a
// single-threaded caller only for the process; a thread may try).
func onNewThread(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		done <- f()
	}()
	return <-done
}

// codeDir makes a code directory with the test binary as bootstrap and a
// data file.
func codeDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "code", "abc123")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := copyFile(self, filepath.Join(dir, "bootstrap")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "bootstrap"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.txt"), []byte("code"), 0o644); err != nil {
		t.Fatal(err)
	}
	// As the agent does: the cache (every function's code) is root's alone.
	if err := os.Chmod(filepath.Dir(dir), 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// full skips unless this host allows every mechanism.
func full(t *testing.T) Caps {
	t.Helper()
	c := Probe()
	if len(c.Missing) > 0 {
		t.Skipf("this host does not allow a full sandbox (run as root on Linux): %s", strings.Join(c.Missing, "; "))
	}
	return c
}

// run starts the helper in s and returns its output once it exits.
func run(t *testing.T, s *Sandbox, action string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(s.TaskDir(), "bootstrap"))
	cmd.Dir = s.TaskDir()
	cmd.Env = append(append([]string{"SANDBOX_HELPER=" + action, "PATH=/usr/bin:/bin"}, s.Env()...), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := s.Start(cmd); err != nil {
		t.Fatalf("start: %v", err)
	}
	err := cmd.Wait()
	return out.String(), err
}

func TestProbeIsConsistent(t *testing.T) {
	c := Probe()
	t.Logf("caps: %+v", c)
	all := c.Cgroups != "" && c.Users && c.PIDNamespace && c.MountNamespace && c.NoNewPrivs
	if all != (len(c.Missing) == 0) && c.Cgroups == "" {
		t.Fatalf("Missing %q does not match the caps %+v", c.Missing, c)
	}
	if _, err := Require(false); err != nil {
		t.Fatalf("best-effort refused: %v", err)
	}
	_, err := Require(true)
	if (err != nil) != (len(c.Missing) > 0) {
		t.Fatalf("strict: %v with missing %q", err, c.Missing)
	}
	if err != nil && !strings.Contains(err.Error(), c.Missing[0]) {
		t.Fatalf("strict error does not say what is missing: %v", err)
	}
}

func TestSandboxedProcessIsConfined(t *testing.T) {
	c := full(t)
	code := codeDir(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := c.Prepare("ee-confined", Limits{MemoryBytes: 256 << 20, MilliCPU: 500, Pids: 64, TmpBytes: 8 << 20}, code)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	uid, _ := s.UID()
	out, err := run(t, s, "facts", "SANDBOX_READ="+secret+":/proc/1/environ", "SANDBOX_SIGNAL="+strconv.Itoa(os.Getpid()))
	if err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
	var f facts
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	t.Logf("facts: %+v", f)
	if f.UID != int(uid) || f.GID != int(uid) || f.UID < uidBase || len(f.Groups) > 1 {
		t.Errorf("runs as %d:%d groups %v, want its own uid %d and no other group", f.UID, f.GID, f.Groups, uid)
	}
	if f.PID != 1 {
		t.Errorf("pid %d, want 1 in its own PID namespace", f.PID)
	}
	if f.NoNewPrivs != "1" {
		t.Errorf("NoNewPrivs %q", f.NoNewPrivs)
	}
	if f.Cwd != s.TaskDir() {
		t.Errorf("cwd %q, want the code dir %q", f.Cwd, s.TaskDir())
	}
	if f.Seccomp != "2" {
		t.Errorf("Seccomp: %q, want 2 (filtered)", f.Seccomp)
	}
	if e := f.Errors["unshare user"]; !strings.Contains(e, "operation not permitted") {
		t.Errorf("unshare(CLONE_NEWUSER): %q, want EPERM", e)
	}
	if got, want := strings.Join(f.Root, " "), strings.Join(minimalRoot(), " "); c.MinimalRoot && got != want {
		t.Errorf("/ holds %q, want %q", got, want)
	}
	if f.Hostname == hostname() {
		t.Errorf("hostname %q is the host's", f.Hostname)
	}
	want := map[string]bool{"write tmp": true, "read code": true, "write code": false, "write etc": false,
		"read " + secret: false, "read /proc/1/environ": false, "signal": false, "mount": false}
	for what, ok := range want {
		e, tried := f.Errors[what]
		if !tried || (e == "") != ok {
			t.Errorf("%s: error %q, want success %v", what, e, ok)
		}
	}
	if !strings.Contains(f.Cgroup, "/"+cgroupParent+"/"+ownerDir+"/"+s.name) {
		t.Errorf("not in its cgroup: %s", f.Cgroup)
	}
	if s.ProcHidden() && f.ProcEntries > 2 {
		t.Errorf("/proc shows %d processes, want only its own", f.ProcEntries)
	}
	// The host's /tmp did not get the file the helper wrote to its own.
	if _, err := os.Stat(filepath.Join(os.TempDir(), "x")); err == nil {
		t.Logf("note: %s exists on the host (another program's?)", filepath.Join(os.TempDir(), "x"))
	}
	// The starting thread is back out of the cgroup.
	for _, d := range s.cg.uniqueDirs() {
		if b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs")); strings.TrimSpace(string(b)) != "" {
			t.Errorf("%s still holds %q after the helper exited", d, b)
		}
	}
	dirs := s.cg.uniqueDirs()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s left after Close: %v", d, err)
		}
	}
}

// TestCodeOutsideTmp: with the code cache outside /tmp (as under
// /var/lib/paddock), the EE reaches its code at its own path, through a
// parent it may search or one it may not, and never sees its siblings.
func TestCodeOutsideTmp(t *testing.T) {
	c := full(t)
	for _, mode := range []os.FileMode{0o755, 0o700} {
		t.Run(mode.String(), func(t *testing.T) {
			data, err := os.MkdirTemp("/", "paddock-sandbox-test-")
			if err != nil {
				t.Skipf("cannot make a directory outside /tmp: %v", err)
			}
			defer os.RemoveAll(data)
			if err := os.Chmod(data, mode); err != nil {
				t.Fatal(err)
			}
			code := filepath.Join(data, "code", "mine")
			sibling := filepath.Join(data, "code", "theirs")
			for _, d := range []string{code, sibling} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(d, "data.txt"), []byte(filepath.Base(d)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := copyFile(filepath.Join(codeDir(t), "bootstrap"), filepath.Join(code, "bootstrap")); err != nil {
				t.Fatal(err)
			}
			os.Chmod(filepath.Join(code, "bootstrap"), 0o755) //nolint:errcheck
			s, err := c.Prepare("ee-outside", Limits{MemoryBytes: 256 << 20, Pids: 64}, code)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			out, err := run(t, s, "facts", "SANDBOX_READ="+filepath.Join(sibling, "data.txt"))
			if err != nil {
				t.Fatalf("helper: %v: %s", err, out)
			}
			var f facts
			if err := json.Unmarshal([]byte(out), &f); err != nil {
				t.Fatalf("helper output %q: %v", out, err)
			}
			if f.Cwd != s.TaskDir() || f.Errors["read code"] != "" || f.Errors["write code"] == "" {
				t.Errorf("cwd %s, errors %v: want its code at %s, read-only", f.Cwd, f.Errors, code)
			}
			if e := f.Errors["read "+filepath.Join(sibling, "data.txt")]; e == "" {
				t.Errorf("read a sibling's code")
			}
		})
	}
}

func TestMemoryLimitKillsAndIsReported(t *testing.T) {
	c := full(t)
	s, err := c.Prepare("ee-oom", Limits{MemoryBytes: 64 << 20, Pids: 64}, codeDir(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := run(t, s, "alloc")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("allocating 1 GiB under a 64 MiB limit: %v %s", err, out)
	}
	if !s.OOMKilled() {
		t.Fatal("OOMKilled is false after the kernel killed it")
	}
}

func TestPidsLimitStopsAForkBomb(t *testing.T) {
	c := full(t)
	s, err := c.Prepare("ee-fork", Limits{MemoryBytes: 512 << 20, Pids: 40}, codeDir(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := run(t, s, "fork")
	t.Logf("fork bomb: %s (%v)", strings.TrimSpace(out), err)
	n, _ := strconv.Atoi(strings.Fields(out + " x")[0])
	if n >= 40 || !strings.Contains(out, "resource temporarily unavailable") {
		t.Fatalf("forked %d under a limit of 40: %s", n, out)
	}
	// The helper exited, and as PID 1 took its children with it.
	if left := s.cg.procs(); len(left) != 0 {
		t.Errorf("processes left after PID 1 exited: %v", left)
	}
}

func TestCPUQuotaAndUsage(t *testing.T) {
	c := full(t)
	s, err := c.Prepare("ee-cpu", Limits{MemoryBytes: 256 << 20, MilliCPU: 200, Pids: 64}, codeDir(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	if out, err := run(t, s, "spin"); err != nil {
		t.Fatalf("spin: %v %s", err, out)
	}
	wall := time.Since(start).Seconds()
	cpu, mem := s.Usage()
	t.Logf("spun for %.2fs wall, %.2fs CPU, %d bytes held", wall, cpu, mem)
	if cpu <= 0 || cpu/wall > 0.35 {
		t.Fatalf("CPU %.2fs over %.2fs: want about 20%% (the quota)", cpu, wall)
	}
}

func TestCloseKillsWhatIsLeft(t *testing.T) {
	c := full(t)
	s, err := c.Prepare("ee-close", Limits{MemoryBytes: 256 << 20, Pids: 64}, codeDir(t))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(s.TaskDir(), "bootstrap"))
	cmd.Dir = s.TaskDir()
	cmd.Env = []string{"SANDBOX_HELPER=sleep"}
	if err := s.Start(cmd); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("the process outlived Close")
	}
	for _, d := range s.cg.uniqueDirs() {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s left: %v", d, err)
		}
	}
}

// TestWithoutMountNamespace is the fallback for hosts that allow users but
// not mount namespaces: a private hard-linked copy of the code, TMPDIR on a
// private tmpfs.
func TestWithoutMountNamespace(t *testing.T) {
	c := full(t)
	c.MountNamespace = false
	code := codeDir(t)
	// The EE must reach Dir: make the test's temporary directories
	// searchable (not readable) by others, as the agent does the data dir.
	base := filepath.Join(t.TempDir(), "sandbox")
	for d := filepath.Dir(base); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o711) //nolint:errcheck
	}
	c.Dir = base
	s, err := c.Prepare("ee-nomnt", Limits{MemoryBytes: 256 << 20, Pids: 64, TmpBytes: 4 << 20}, code)
	if err != nil {
		t.Fatal(err)
	}
	if s.TaskDir() == code || !strings.HasPrefix(s.TaskDir(), filepath.Join(base, ownerDir)) {
		t.Fatalf("task dir %s, want a private one under %s", s.TaskDir(), base)
	}
	out, err := run(t, s, "facts", "SANDBOX_READ="+filepath.Join(code, "data.txt"))
	if err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
	var f facts
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	t.Logf("facts: %+v", f)
	if f.TmpDir != s.tmpDir || f.Errors["write tmp"] != "" || f.Errors["read code"] != "" {
		t.Errorf("tmp %s (want %s), errors %v", f.TmpDir, s.tmpDir, f.Errors)
	}
	if f.Errors["write code"] == "" || f.Errors["read "+filepath.Join(code, "data.txt")] == "" {
		t.Errorf("the EE could write its code or read the cache: %v", f.Errors)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(s.tmpDir, &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		t.Errorf("TMPDIR is not a tmpfs: %v", err)
	}
	dir := s.dir
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left after Close", dir)
	}
}

// TestCgroupV2 runs what it can of the v2 code on a hybrid host's unified
// mount (which has no controllers): create, start inside it with
// CLONE_INTO_CGROUP, kill and remove.
func TestCgroupV2(t *testing.T) {
	c := full(t)
	mount := "/sys/fs/cgroup"
	if c.Cgroups == "v1" {
		mount = "/sys/fs/cgroup/unified"
	}
	var st unix.Statfs_t
	if err := unix.Statfs(mount, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Skipf("no cgroup v2 mount at %s", mount)
	}
	h, err := findV2(mount)
	if err != nil {
		t.Skipf("cgroup v2 at %s: %v", mount, err)
	}
	c.cgroups, c.Cgroups = h, "v2"
	s, err := c.Prepare("ee-v2", Limits{MemoryBytes: 256 << 20, MilliCPU: 500, Pids: 64}, codeDir(t))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(s.TaskDir(), "bootstrap"))
	cmd.Dir = s.TaskDir()
	cmd.Env = []string{"SANDBOX_HELPER=sleep"}
	if err := s.Start(cmd); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", cmd.Process.Pid))
	if !strings.Contains(string(b), "0::/"+cgroupParent+"/"+ownerDir+"/"+s.name) {
		t.Errorf("the process did not start in its v2 cgroup: %s", b)
	}
	t.Logf("controllers enabled: %v; memory limited: %v", h.v2Ctl, s.MemoryEnforced())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait() //nolint:errcheck // killed
	if _, err := os.Stat(s.cg.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup %s left", s.cg.dir)
	}
}

func TestStaleCgroupsAreRemoved(t *testing.T) {
	c := full(t)
	// A pid that is gone: a process that ran and was reaped.
	gone := exec.Command("/bin/true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	var stale []string
	for _, m := range c.cgroups.mounts() {
		d := filepath.Join(m, cgroupParent, fmt.Sprintf("p%d", gone.Process.Pid), "ee-left")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		stale = append(stale, filepath.Dir(d))
	}
	// And one of a live process, which stays.
	live := filepath.Join(c.cgroups.mounts()[0], cgroupParent, "p1", "ee-live")
	if err := os.MkdirAll(live, 0o755); err != nil {
		t.Fatal(err)
	}
	defer func() { os.Remove(live); os.Remove(filepath.Dir(live)) }()
	c.cgroups.cleanStale()
	for _, d := range stale {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale %s left: %v", d, err)
		}
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live process's cgroup was removed: %v", err)
	}
}

func TestUIDsAreDistinct(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for the uid lock directory")
	}
	a, err := allocUID()
	if err != nil {
		t.Fatal(err)
	}
	b, err := allocUID()
	if err != nil {
		t.Fatal(err)
	}
	if a.uid == b.uid {
		t.Fatalf("two leases of uid %d", a.uid)
	}
	// Another open of a held lock (as another process would) fails.
	f, err := os.Open(filepath.Join(uidLockDir(), strconv.FormatUint(uint64(a.uid), 10)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err == nil {
		t.Fatal("a held uid could be locked again")
	}
	a.release()
	b.release()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatalf("a released uid stays locked: %v", err)
	}
}

// minimalRoot is what / of an EE should hold on this host: the system
// directories it has, and the root's own.
func minimalRoot() []string {
	names := []string{"dev", "etc", "opt", "proc", "tmp", "var"}
	for _, d := range systemDirs {
		if _, err := os.Lstat("/" + d); err == nil {
			names = append(names, d)
		}
	}
	slices.Sort(names)
	return names
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// TestStartsWhileOthersFork: Paddock forks all the time (other EEs, other
// commands) while an EE's root is built. A fork that copies the descriptor
// of a file being written into the root would keep the root from being
// made read-only; starting must not fail for it.
func TestStartsWhileOthersFork(t *testing.T) {
	c := full(t)
	code := codeDir(t)
	stop := make(chan struct{})
	var forkers sync.WaitGroup
	for range 4 {
		forkers.Add(1)
		go func() {
			defer forkers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				exec.Command("/bin/true").Run() //nolint:errcheck // only the forks matter
			}
		}()
	}
	defer func() { close(stop); forkers.Wait() }()
	for i := 0; i < 150; i++ {
		s, err := c.Prepare("ee-forks", Limits{MemoryBytes: 256 << 20, Pids: 64}, code)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(filepath.Join(s.TaskDir(), "bootstrap"))
		cmd.Dir = s.TaskDir()
		cmd.Env = []string{"SANDBOX_HELPER=none"}
		err = s.Start(cmd)
		if err == nil {
			cmd.Wait() //nolint:errcheck // exits 2 at once
		}
		s.Close()
		if err != nil {
			t.Fatalf("start %d while other processes fork: %v", i, err)
		}
	}
}

// TestStartErrorsSayWhoseFault: a sandbox that cannot be set up is a
// SetupError (the platform's fault); a runtime that cannot be executed is
// not (the function's).
func TestStartErrorsSayWhoseFault(t *testing.T) {
	c := full(t)
	for _, tc := range []struct {
		name    string
		breakIt func(code string) // what goes wrong, after Prepare
		setup   bool
	}{
		{"code dir gone", func(code string) { os.RemoveAll(code) }, true},
		{"bootstrap gone", func(code string) { os.Remove(filepath.Join(code, "bootstrap")) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := codeDir(t)
			s, err := c.Prepare("ee-fault", Limits{MemoryBytes: 256 << 20, Pids: 64}, code)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			tc.breakIt(code)
			cmd := exec.Command(filepath.Join(s.TaskDir(), "bootstrap"))
			cmd.Dir = s.TaskDir()
			err = s.Start(cmd)
			var se *SetupError
			if err == nil || errors.As(err, &se) != tc.setup {
				t.Fatalf("Start: %v (a SetupError: %v), want an error that is one: %v", err, errors.As(err, &se), tc.setup)
			}
		})
	}
}
