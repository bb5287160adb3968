package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// The EE's root: a fresh tmpfs that the starting thread pivots into, as
// runc and Firecracker's jailer do, holding only what a runtime needs:
//
//	/usr /bin /sbin /lib* the host's system directories, read-only
//	/etc                  the files a process needs (resolver, CA
//	                      certificates, the dynamic linker's cache, ...),
//	                      read-only, with a passwd and group of its own
//	/var/task             its code, read-only (LAMBDA_TASK_ROOT)
//	/opt                  the function's layers, read-only (empty without)
//	/var/runtime          a managed runtime's client, read-only
//	/var/lang             its interpreter's install root, read-only
//	/tmp                  its own tmpfs of Limits.TmpBytes
//	/dev                  null, zero, full, random, urandom, tty, and its
//	                      own /dev/shm
//	/proc                 a proc that shows only its own processes
//
// The root itself is read-only. Nothing else of the host is there: not
// /home, /root, /srv, /var/lib, the host's /opt or /tmp, the cgroup file
// system, other functions' code or Paddock's data dir.

// TaskRoot is where an EE's code is in its minimal root, as on Lambda.
const TaskRoot = "/var/task"

// systemDirs are the host directories every runtime needs, read-only. A
// symlink (on merged-/usr hosts /bin is usr/bin) is recreated as one.
var systemDirs = []string{"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"}

// etcEntries are what a process needs from /etc: name resolution, time
// zone, CA certificates, the dynamic linker's configuration, and the
// alternatives and JVM configuration that Debian's runtime packages link
// through. A pattern may match nothing on a given host.
var etcEntries = []string{
	"resolv.conf", "nsswitch.conf", "host.conf", "gai.conf", "protocols", "services", "networks",
	"localtime", "timezone", "ld.so.cache", "ld.so.conf", "ld.so.conf.d",
	"ssl", "pki", "ca-certificates", "ca-certificates.conf", "crypto-policies",
	"alternatives", "os-release", "mime.types", "java-*",
}

// rootMount is where the new root is assembled before the pivot, in the
// thread's private mount namespace (the host's directory is only covered
// there).
const rootMount = "/tmp"

// enterRoot gives the calling, locked thread a private mount namespace
// whose root is the EE's minimal root. The thread must end afterwards, as
// with enterView.
func (s *Sandbox) enterRoot() error {
	code, err := s.privateMounts()
	if err != nil {
		return err
	}
	defer unix.Close(code)
	// Like the code, the other mounts are opened before the root covers
	// /tmp, where their directories may be.
	var mounts []int
	defer func() {
		for _, fd := range mounts {
			unix.Close(fd)
		}
	}()
	for _, m := range s.mounts {
		fd, err := unix.Open(m.Host, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s for %s: %w", m.Host, m.At, err)
		}
		mounts = append(mounts, fd)
	}
	// The thread has its own umask now (unshare gave it its own fs
	// state): the modes below are meant exactly, whatever Paddock's is.
	unix.Umask(0)
	if err := s.buildRoot(rootMount, code, mounts); err != nil {
		return err
	}
	if err := pivot(rootMount); err != nil {
		return err
	}
	// The runtime's own files are created as on any Linux.
	unix.Umask(0o022)
	return nil
}

// buildRoot assembles the root at r, with the code (the descriptor code)
// and s.mounts (their descriptors, in order).
func (s *Sandbox) buildRoot(r string, code int, mounts []int) error {
	if err := unix.Mount("tmpfs", r, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m,nr_inodes=4096"); err != nil {
		return fmt.Errorf("root tmpfs: %w", err)
	}
	for _, d := range systemDirs {
		if err := mirror("/"+d, filepath.Join(r, d)); err != nil {
			return err
		}
	}
	if err := s.buildEtc(filepath.Join(r, "etc")); err != nil {
		return err
	}
	for _, d := range []string{"var", "var/task", "opt", "tmp", "dev", "proc"} {
		if err := os.Mkdir(filepath.Join(r, d), 0o755); err != nil {
			return fmt.Errorf("root: %w", err)
		}
	}
	task := filepath.Join(r, "var/task")
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", code), task, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mount code: %w", err)
	}
	if err := readOnly(task, false); err != nil {
		return fmt.Errorf("mount code read-only: %w", err)
	}
	for i, m := range s.mounts {
		if err := bindAt(fmt.Sprintf("/proc/self/fd/%d", mounts[i]), filepath.Join(r, m.At)); err != nil {
			return fmt.Errorf("mount %s: %w", m.At, err)
		}
	}
	tmpOpts := "mode=1777"
	if s.lim.TmpBytes > 0 {
		tmpOpts += ",size=" + strconv.FormatInt(s.lim.TmpBytes, 10)
	}
	if err := unix.Mount("tmpfs", filepath.Join(r, "tmp"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, tmpOpts); err != nil {
		return fmt.Errorf("mount /tmp: %w", err)
	}
	if err := buildDev(filepath.Join(r, "dev")); err != nil {
		return err
	}
	proc := filepath.Join(r, "proc")
	if s.caps.procPerMount && unix.Mount("proc", proc, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "hidepid=2") == nil {
		s.procHidden = true
		return nil
	}
	// A host whose /proc has parts masked (most containers) refuses a new
	// proc mount: its /proc, read-only, where other users' environments
	// and memory are closed to the EE's user anyway.
	if err := unix.Mount("/proc", proc, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	return readOnly(proc, true)
}

// mirror recreates the host path src at dst: a symlink as the same
// symlink, a directory as a read-only recursive bind mount of it, nothing
// when src does not exist.
func mirror(src, dst string) error {
	st, err := os.Lstat(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		link, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(link, dst)
	}
	return bindReadOnly(src, dst, st.IsDir())
}

// bindReadOnly bind-mounts src (a directory, with what is mounted under
// it, or a file) read-only at dst, which it creates.
func bindReadOnly(src, dst string, dir bool) error {
	if dir {
		if err := os.Mkdir(dst, 0o755); err != nil {
			return err
		}
	} else if err := os.WriteFile(dst, nil, 0o644); err != nil {
		return err
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	if err := readOnly(dst, dir); err != nil {
		return fmt.Errorf("bind %s read-only: %w", src, err)
	}
	return nil
}

// bindAt bind-mounts the host directory src read-only at dst, making dst
// and its parents in the root as needed (/opt is there already).
func bindAt(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(dst); err == nil {
		if err := os.Remove(dst); err != nil { // an empty directory of the root's own
			return err
		}
	}
	return bindReadOnly(src, dst, true)
}

// readOnly makes the mount at path read-only, nosuid and nodev, with
// everything mounted under it when recursive.
func readOnly(path string, recursive bool) error {
	if recursive {
		err := unix.MountSetattr(-1, path, unix.AT_RECURSIVE,
			&unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV})
		if !errors.Is(err, unix.ENOSYS) {
			return err
		}
		// Before Linux 5.12: the top mount only.
	}
	return unix.Mount("", path, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "")
}

// buildEtc makes the root's /etc: the host's entries a process needs
// (symlinks resolved, since their targets may be outside the root), and a
// passwd, group and hosts of the EE's own.
func (s *Sandbox) buildEtc(etc string) error {
	// The files made here are open for writing on the root's mount for a
	// moment; a fork elsewhere in Paddock in that moment would hold a copy
	// of the descriptor until its exec, and the root could not be made
	// read-only (EBUSY). syscall.ForkLock keeps forks out meanwhile.
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	if err := os.Mkdir(etc, 0o755); err != nil {
		return err
	}
	for _, pat := range etcEntries {
		matches, _ := filepath.Glob(filepath.Join("/etc", pat))
		for _, m := range matches {
			real, err := filepath.EvalSymlinks(m)
			if err != nil {
				continue // a dangling link: the host has none either
			}
			st, err := os.Stat(real)
			if err != nil || !(st.IsDir() || st.Mode().IsRegular()) {
				continue
			}
			if err := bindReadOnly(real, filepath.Join(etc, filepath.Base(m)), st.IsDir()); err != nil {
				return err
			}
		}
	}
	uid := os.Getuid()
	if s.uid != nil {
		uid = int(s.uid.uid)
	}
	id := strconv.Itoa(uid)
	// Lambda's runtimes run as sbx_user1051.
	files := map[string]string{
		"passwd": "root:x:0:0:root:/root:/sbin/nologin\nsbx_user1051:x:" + id + ":" + id + "::/tmp:/sbin/nologin\n",
		"group":  "root:x:0:\nsbx_user1051:x:" + id + ":\n",
		"hosts":  "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// devices are the character devices of the root's /dev: major, minor.
var devices = []struct {
	name         string
	major, minor uint32
}{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

// buildDev makes a minimal /dev at dev.
func buildDev(dev string) error {
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755,size=64k,nr_inodes=64"); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	for _, d := range devices {
		if err := unix.Mknod(filepath.Join(dev, d.name), unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
			return fmt.Errorf("/dev/%s: %w", d.name, err)
		}
	}
	for name, target := range map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
	} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,size=64m"); err != nil {
		return fmt.Errorf("mount /dev/shm: %w", err)
	}
	return nil
}

// pivot makes r the thread's root and lets go of the host's, which leaves
// the mount namespace with nothing but what buildRoot put there.
func pivot(r string) error {
	if err := unix.Chdir(r); err != nil {
		return err
	}
	// pivot_root(".", ".") stacks the old root on the new one, where it is
	// detached at once: no directory for it is needed (runc's way).
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the host's root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if err := readOnly("/", false); err != nil {
		return fmt.Errorf("read-only root: %w", err)
	}
	return nil
}
