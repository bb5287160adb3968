package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupParent is the cgroup (under each hierarchy's root) that holds, for
// each Paddock process of the host, a cgroup named ownerDir with one child
// per EE. Per process, so that one starting can remove what a Paddock that
// died left (see cleanStale) without touching a live one's.
const cgroupParent = "paddock"

// cfsPeriod is the CPU bandwidth period: the quota is MilliCPU/1000 of it.
// The kernel's default, 100 ms, lets a small function's init (a few ms of
// CPU) run unthrottled within one period; a shorter period (measured: 20
// ms) throttles the init of a 128 MB function (0.072 vCPU) to ~40 ms. The
// price: an EE that used its quota waits up to the rest of the period.
const cfsPeriod = 100000 // µs

// hierarchies is where the cgroup controllers Paddock uses are: for v1 one
// mount point per controller (several controllers may share one), for v2
// the unified mount point and the controllers it may enable.
type hierarchies struct {
	mu      sync.Mutex        // serializes acquire and release
	live    int               // EE cgroups this process holds: its parent goes with the last
	version string            // "v1" or "v2"
	v1      map[string]string // controller → mount point (v1)
	v1Root  map[string]string // controller → the cgroup path its mount shows as its root
	v2      string            // mount point (v2)
	v2Ctl   map[string]bool   // controllers enabled for Paddock's children (v2)
}

// has reports whether the controller is usable.
func (h *hierarchies) has(controller string) bool {
	if h == nil {
		return false
	}
	if h.version == "v1" {
		return h.v1[controller] != ""
	}
	return h.v2Ctl[controller]
}

// v1Controllers are those Paddock sets limits with or reads usage from.
var v1Controllers = []string{"memory", "cpu", "cpuacct", "pids"}

// findV1 reads the v1 hierarchies of the controllers Paddock uses from
// mountinfo. On a systemd host cpu and cpuacct usually share one mount.
func findV1() (*hierarchies, error) {
	data, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, err
	}
	h := &hierarchies{version: "v1", v1: map[string]string{}, v1Root: map[string]string{}}
	for _, line := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 || g[0] != "cgroup" {
			continue
		}
		for _, opt := range strings.Split(g[2], ",") {
			for _, c := range v1Controllers {
				if opt == c && h.v1[c] == "" {
					h.v1[c], h.v1Root[c] = f[4], f[3]
				}
			}
		}
	}
	return h, nil
}

// v1Mounts returns each distinct mount point once.
func (h *hierarchies) v1Mounts() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range v1Controllers {
		if m := h.v1[c]; m != "" && !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// findV2 prepares Paddock's parent cgroup in the unified hierarchy at
// mount and returns which controllers its children get.
func findV2(mount string) (*hierarchies, error) {
	h := &hierarchies{version: "v2", v2: mount, v2Ctl: map[string]bool{}}
	// A v2 cgroup offers its children only the controllers its parent
	// enabled in cgroup.subtree_control: enable them in the root, then in
	// Paddock's parent (which never holds processes itself, as v2 needs).
	parent := filepath.Join(mount, cgroupParent)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	for _, c := range []string{"memory", "cpu", "pids"} {
		writeFile(filepath.Join(mount, "cgroup.subtree_control"), "+"+c)  //nolint:errcheck // what took is read below
		writeFile(filepath.Join(parent, "cgroup.subtree_control"), "+"+c) //nolint:errcheck // what took is read below
	}
	enabled, err := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control"))
	if err != nil {
		return nil, err
	}
	for _, c := range strings.Fields(string(enabled)) {
		h.v2Ctl[c] = true
	}
	return h, nil
}

// mounts are the distinct hierarchies Paddock makes cgroups in.
func (h *hierarchies) mounts() []string {
	if h.version == "v2" {
		return []string{h.v2}
	}
	return h.v1Mounts()
}

// acquire makes sure this process's parent cgroup exists for one more EE
// cgroup.
func (h *hierarchies) acquire() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.ensureParent(); err != nil {
		return err
	}
	h.live++
	return nil
}

// release is called when an EE cgroup is gone. With the last one this
// process's parent goes too: a Paddock process without EEs leaves nothing
// in the host's cgroups.
func (h *hierarchies) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.live--; h.live == 0 {
		for _, m := range h.mounts() {
			unix.Rmdir(filepath.Join(m, cgroupParent, ownerDir)) //nolint:errcheck // a left cgroup keeps it, cleaned as stale later
		}
	}
}

// ensureParent creates this process's parent cgroup. Under h.mu.
func (h *hierarchies) ensureParent() error {
	for _, m := range h.mounts() {
		own := filepath.Join(m, cgroupParent, ownerDir)
		err := os.Mkdir(own, 0o755)
		if errors.Is(err, fs.ErrNotExist) {
			if err = os.MkdirAll(filepath.Join(m, cgroupParent), 0o755); err == nil {
				err = os.Mkdir(own, 0o755)
			}
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		if h.version == "v2" {
			for c := range h.v2Ctl {
				writeFile(filepath.Join(own, "cgroup.subtree_control"), "+"+c) //nolint:errcheck // a controller that does not take stays unused
			}
		}
	}
	return nil
}

// cleanStale removes the cgroups that Paddock processes now gone left
// behind (a crash, kill -9), killing anything still in them. A process
// that dies takes its EEs' runtimes with it (Pdeathsig, and PID 1 of a PID
// namespace takes the rest), but not the cgroups.
func (h *hierarchies) cleanStale() {
	for _, m := range h.mounts() {
		for _, own := range staleOwners(filepath.Join(m, cgroupParent)) {
			ents, _ := os.ReadDir(own)
			for _, e := range ents {
				if e.IsDir() {
					// One hierarchy at a time: as a v2 cgroup, or a v1 one
					// under a single controller's name (only its directory
					// matters to kill and remove).
					d := filepath.Join(own, e.Name())
					old := &cgroup{h: h, dir: d, dirs: map[string]string{"memory": d}}
					old.kill()   //nolint:errcheck // best effort: what survives keeps its cgroup
					old.remove() //nolint:errcheck
				}
			}
			unix.Rmdir(own) //nolint:errcheck // best effort
		}
	}
}

// cgroup is one EE's cgroup.
type cgroup struct {
	h     *hierarchies
	dirs  map[string]string // v1: controller → directory
	dir   string            // v2: directory
	mem   bool              // the memory limit is set
	owned bool              // counted in h.live (not a stale one being cleaned)
}

// newCgroup creates the EE's cgroup, named name, with lim.
func newCgroup(h *hierarchies, name string, lim Limits) (*cgroup, error) {
	if err := h.acquire(); err != nil {
		return nil, fmt.Errorf("cgroup parent: %w", err)
	}
	cg := &cgroup{h: h, owned: true}
	if h.version == "v1" {
		cg.dirs = map[string]string{}
		for _, c := range v1Controllers {
			if m := h.v1[c]; m != "" {
				cg.dirs[c] = filepath.Join(m, cgroupParent, ownerDir, name)
			}
		}
		for _, d := range cg.uniqueDirs() {
			if err := os.Mkdir(d, 0o755); err != nil {
				cg.remove() //nolint:errcheck // best effort after a failed create
				return nil, fmt.Errorf("create cgroup: %w", err)
			}
		}
	} else {
		cg.dir = filepath.Join(h.v2, cgroupParent, ownerDir, name)
		if err := os.Mkdir(cg.dir, 0o755); err != nil {
			cg.remove() //nolint:errcheck // gives the parent back
			return nil, fmt.Errorf("create cgroup: %w", err)
		}
	}
	if err := cg.limit(lim); err != nil {
		cg.remove() //nolint:errcheck // best effort after a failed create
		return nil, err
	}
	return cg, nil
}

func (cg *cgroup) uniqueDirs() []string {
	if cg.h.version == "v2" {
		return []string{cg.dir}
	}
	seen := map[string]bool{}
	var out []string
	for _, c := range v1Controllers {
		if d := cg.dirs[c]; d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// file is the path of a control file of controller.
func (cg *cgroup) file(controller, name string) string {
	if cg.h.version == "v1" {
		return filepath.Join(cg.dirs[controller], name)
	}
	return filepath.Join(cg.dir, name)
}

func (cg *cgroup) limit(lim Limits) error {
	v1 := cg.h.version == "v1"
	if lim.MemoryBytes > 0 && cg.h.has("memory") {
		if v1 {
			if err := writeFile(cg.file("memory", "memory.limit_in_bytes"), strconv.FormatInt(lim.MemoryBytes, 10)); err != nil {
				return fmt.Errorf("memory limit: %w", err)
			}
			// With swap accounting, memory+swap gets the same limit, or the
			// EE could swap out what it cannot keep resident.
			if _, err := os.Stat(cg.file("memory", "memory.memsw.limit_in_bytes")); err == nil {
				if err := writeFile(cg.file("memory", "memory.memsw.limit_in_bytes"), strconv.FormatInt(lim.MemoryBytes, 10)); err != nil {
					return fmt.Errorf("memory+swap limit: %w", err)
				}
			}
		} else {
			if err := writeFile(cg.file("memory", "memory.max"), strconv.FormatInt(lim.MemoryBytes, 10)); err != nil {
				return fmt.Errorf("memory limit: %w", err)
			}
			writeFile(cg.file("memory", "memory.swap.max"), "0") //nolint:errcheck // absent without swap accounting
			// Lambda ends the whole EE when it runs out of memory, not a
			// process the kernel picks inside it.
			writeFile(cg.file("memory", "memory.oom.group"), "1") //nolint:errcheck // absent before Linux 4.19
		}
		cg.mem = true
	}
	if lim.MilliCPU > 0 && cg.h.has("cpu") {
		quota := int64(lim.MilliCPU) * cfsPeriod / 1000
		quota = max(quota, 1000) // the kernel's minimum quota is 1 ms
		if v1 {
			if err := writeFile(cg.file("cpu", "cpu.cfs_period_us"), strconv.Itoa(cfsPeriod)); err != nil {
				return fmt.Errorf("cpu period: %w", err)
			}
			if err := writeFile(cg.file("cpu", "cpu.cfs_quota_us"), strconv.FormatInt(quota, 10)); err != nil {
				return fmt.Errorf("cpu quota: %w", err)
			}
		} else if err := writeFile(cg.file("cpu", "cpu.max"), fmt.Sprintf("%d %d", quota, cfsPeriod)); err != nil {
			return fmt.Errorf("cpu quota: %w", err)
		}
	}
	if lim.Pids > 0 && cg.h.has("pids") {
		if err := writeFile(cg.file("pids", "pids.max"), strconv.FormatInt(lim.Pids, 10)); err != nil {
			return fmt.Errorf("pids limit: %w", err)
		}
	}
	return nil
}

// joinThread moves the calling OS thread (tid) into the EE's v1 cgroups
// and returns how to move it back. A process forked by that thread starts
// in the EE's cgroups, so nothing it forks can escape them: attaching after
// the start would leave a window in which the runtime's first children are
// not confined. (v2 gets the same with CLONE_INTO_CGROUP.) Only this thread
// moves: the v1 "tasks" file takes thread ids, and memory stays charged to
// the Paddock process, whose leader owns the address space.
func (cg *cgroup) joinThread(tid int) (restore func() error, err error) {
	own, err := threadCgroups(tid)
	if err != nil {
		return nil, err
	}
	var back []string
	restore = func() error {
		var first error
		for _, d := range back {
			if err := writeFile(filepath.Join(d, "tasks"), strconv.Itoa(tid)); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	for _, c := range v1Controllers {
		d := cg.dirs[c]
		if d == "" {
			continue
		}
		rel, ok := own[c]
		if !ok {
			restore() //nolint:errcheck // already failing
			return nil, fmt.Errorf("thread %d is in no %s cgroup", tid, c)
		}
		orig := filepath.Join(cg.h.v1[c], strings.TrimPrefix(rel, cg.h.v1Root[c]))
		if err := writeFile(filepath.Join(d, "tasks"), strconv.Itoa(tid)); err != nil {
			restore() //nolint:errcheck // already failing
			return nil, fmt.Errorf("move thread into %s cgroup: %w", c, err)
		}
		back = append(back, orig)
	}
	return restore, nil
}

// threadCgroups returns the v1 cgroup path of thread tid per controller.
func threadCgroups(tid int) (map[string]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/cgroup", tid))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

// attach moves process pid (all its threads) into the cgroup.
func (cg *cgroup) attach(pid int) error {
	for _, d := range cg.uniqueDirs() {
		if err := writeFile(filepath.Join(d, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("attach %d to %s: %w", pid, d, err)
		}
	}
	return nil
}

// openDir opens the v2 cgroup directory for CLONE_INTO_CGROUP.
func (cg *cgroup) openDir() (int, error) {
	return unix.Open(cg.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// oomKills counts the processes the kernel killed for running out of the
// cgroup's memory.
func (cg *cgroup) oomKills() int64 {
	if !cg.h.has("memory") {
		return 0
	}
	name := "memory.events"
	if cg.h.version == "v1" {
		name = "memory.oom_control"
	}
	return statField(cg.file("memory", name), "oom_kill")
}

// usage is the CPU time used by every process that ran in the cgroup, and
// the memory it uses now without the page cache the kernel could drop
// (what Docker and Kubernetes call the working set).
func (cg *cgroup) usage() (cpuSeconds float64, memBytes int64) {
	if cg.h.version == "v1" {
		if cg.h.has("cpuacct") {
			if b, err := os.ReadFile(cg.file("cpuacct", "cpuacct.usage")); err == nil {
				ns, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
				cpuSeconds = float64(ns) / 1e9
			}
		}
		if cg.h.has("memory") {
			if b, err := os.ReadFile(cg.file("memory", "memory.usage_in_bytes")); err == nil {
				memBytes, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
				memBytes -= statField(cg.file("memory", "memory.stat"), "total_inactive_file")
			}
		}
	} else {
		cpuSeconds = float64(statField(cg.file("cpu", "cpu.stat"), "usage_usec")) / 1e6
		if cg.h.has("memory") {
			if b, err := os.ReadFile(cg.file("memory", "memory.current")); err == nil {
				memBytes, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
				memBytes -= statField(cg.file("memory", "memory.stat"), "inactive_file")
			}
		}
	}
	return cpuSeconds, max(memBytes, 0)
}

// procs lists the processes in the cgroup.
func (cg *cgroup) procs() []int {
	var out []int
	seen := map[int]bool{}
	for _, d := range cg.uniqueDirs() {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
				seen[pid] = true
				out = append(out, pid)
			}
		}
	}
	return out
}

// kill ends every process in the cgroup, including any forked while it
// runs, and waits (up to 5 s) until none is left.
func (cg *cgroup) kill() error {
	if cg.h.version == "v2" {
		// cgroup.kill (Linux 5.14) kills the cgroup atomically, forks included.
		writeFile(filepath.Join(cg.dir, "cgroup.kill"), "1") //nolint:errcheck // absent on older kernels: the loop below does it
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Never the caller: on v1 the thread that forked the runtime stays
		// in the cgroup if moving it back failed (Close ends it later).
		pids := slices.DeleteFunc(cg.procs(), func(pid int) bool { return pid == os.Getpid() })
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v survive in the cgroup", pids)
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL) //nolint:errcheck // it may be gone already
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// remove deletes the cgroup. Killed processes leave it once their parent
// reaped them, so a busy cgroup is retried for a while.
func (cg *cgroup) remove() error {
	if cg.owned {
		cg.owned = false
		defer cg.h.release()
	}
	var first error
	for _, d := range cg.uniqueDirs() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := unix.Rmdir(d)
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
				if first == nil {
					first = fmt.Errorf("remove cgroup %s: %w", d, err)
				}
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return first
}

// statField reads "key value" from a flat-keyed control file, 0 if absent.
func statField(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	prefix := []byte(key + " ")
	for sc.Scan() {
		if line := sc.Bytes(); bytes.HasPrefix(line, prefix) {
			n, _ := strconv.ParseInt(string(bytes.TrimSpace(line[len(prefix):])), 10, 64)
			return n
		}
	}
	return 0
}

// writeFile writes a control file (which exists: cgroupfs creates them).
func writeFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
