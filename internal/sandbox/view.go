package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// enterView gives the calling OS thread a private mount namespace set up
// as the runtime's view of the machine; the runtime forked from the thread
// inherits it. The caller must have locked the thread and must let it end
// afterwards (return from the goroutine without unlocking): a thread with
// its own mounts must never run another goroutine.
//
// The view, much as Lambda's:
//   - every mount of the host is read-only;
//   - /tmp is a tmpfs of its own, of Limits.TmpBytes (also at /var/tmp),
//     and /dev/shm another, so the EE has no writable place shared with
//     other EEs or the host;
//   - the code directory is read-only at its own path, and its siblings
//     (other functions' code) and any directory on the way the EE's user
//     could not search are replaced by empty directories;
//   - /proc shows only the EE's own processes, where the kernel gives each
//     proc mount its own options (Linux 5.8).
func (s *Sandbox) enterView() error {
	code, err := s.privateMounts()
	if err != nil {
		return err
	}
	defer unix.Close(code)
	if err := readOnlyRoot(); err != nil {
		return err
	}
	tmpOpts := "mode=1777"
	if s.lim.TmpBytes > 0 {
		tmpOpts += fmt.Sprintf(",size=%d", s.lim.TmpBytes)
	}
	if err := unix.Mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, tmpOpts); err != nil {
		return fmt.Errorf("mount /tmp: %w", err)
	}
	if isDir("/var/tmp") {
		if err := unix.Mount("/tmp", "/var/tmp", "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("mount /var/tmp: %w", err)
		}
	}
	if isDir("/dev/shm") {
		if err := unix.Mount("tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,size=64m"); err != nil {
			return fmt.Errorf("mount /dev/shm: %w", err)
		}
	}
	if err := s.revealCode(code); err != nil {
		return err
	}
	if s.caps.procPerMount {
		// Best effort: a host whose /proc has parts masked (as in most
		// containers) refuses a new proc mount; the read-only host /proc
		// stays, where other users' environments and memory are closed
		// to the EE anyway.
		if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "hidepid=2"); err == nil {
			s.procHidden = true
		}
	}
	return nil
}

// privateMounts gives the calling thread a mount namespace of its own, from
// which nothing mounted propagates back to the host, and returns an O_PATH
// descriptor of the code directory, opened first: the code may live under
// a directory the view or root is about to cover (the host's /tmp).
func (s *Sandbox) privateMounts() (code int, err error) {
	if err := unsharePrivateMounts(); err != nil {
		return -1, err
	}
	code, err = unix.Open(s.codeDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open code dir: %w", err)
	}
	return code, nil
}

// unsharePrivateMounts gives the calling thread a private mount namespace.
func unsharePrivateMounts() error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	return nil
}

// readOnlyRoot makes every mount of the namespace read-only.
func readOnlyRoot() error {
	err := unix.MountSetattr(-1, "/", unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
	if errors.Is(err, unix.ENOSYS) {
		// Before Linux 5.12 only one mount at a time: the root's.
		err = unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, "")
	}
	if err != nil {
		return fmt.Errorf("read-only root: %w", err)
	}
	return nil
}

// revealCode mounts the code directory (open as code) read-only at its own
// path, so LAMBDA_TASK_ROOT is the same path inside the view and out, and
// makes that path reachable for the EE's user: a directory on the way that
// it may not search, and always the directory holding every function's
// code, is covered by a small empty tmpfs in which only the next step of
// the path is created. Covering a directory the user could not search hides
// nothing it could have seen.
func (s *Sandbox) revealCode(code int) error {
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if s.uid != nil {
		uid, gid = s.uid.uid, s.uid.uid
	}
	target := s.codeDir
	cache := filepath.Dir(target)
	ours := false // cur is in a tmpfs of this view: creating entries touches nothing else
	cur := "/"
	for _, part := range strings.Split(strings.TrimPrefix(target, "/"), "/") {
		next := filepath.Join(cur, part)
		last := next == target
		switch {
		case next == "/tmp" || next == "/var/tmp" || next == "/dev/shm":
			ours = true // mounted fresh above
		case ours:
			if err := os.Mkdir(next, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("code path: %w", err)
			}
		default:
			var st unix.Stat_t
			if err := unix.Lstat(next, &st); err != nil {
				return fmt.Errorf("code path: %w", err)
			}
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return fmt.Errorf("code path: %s is not a directory", next)
			}
			if !last && (next == cache || !searchable(&st, uid, gid)) {
				if err := unix.Mount("tmpfs", next, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=64k,nr_inodes=64"); err != nil {
					return fmt.Errorf("cover %s: %w", next, err)
				}
				ours = true
			}
		}
		cur = next
	}
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", code), target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mount code: %w", err)
	}
	if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("mount code read-only: %w", err)
	}
	return nil
}

// searchable reports whether uid (with only gid as group) may search a
// directory of this mode and owner.
func searchable(st *unix.Stat_t, uid, gid uint32) bool {
	switch {
	case uid == 0:
		return true
	case st.Uid == uid:
		return st.Mode&0o100 != 0
	case st.Gid == gid:
		return st.Mode&0o010 != 0
	default:
		return st.Mode&0o001 != 0
	}
}

// reachable checks that uid may reach path through its parents.
func reachable(path string, uid, gid uint32) error {
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			return err
		}
		if !searchable(&st, uid, gid) {
			return fmt.Errorf("%s (mode %o) is not searchable by other users, so an EE cannot reach %s", dir, st.Mode&0o7777, path)
		}
		if dir == "/" {
			return nil
		}
	}
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}
