package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// EEs run as uids (and gids of the same number) from this range. They need
// no /etc/passwd entry. The range sits in the part of the 32-bit uid space
// that systemd's allocation scheme leaves unassigned (above the container
// range, below the "foreign" one), so it does not collide with users,
// DynamicUser services or the subordinate ranges of rootless containers
// (which start at 100000).
const (
	uidBase  = 0x70000000
	uidCount = 1 << 16
)

// uidCursor is where this process looks for a free uid next. Moving on
// rather than reusing the lowest free uid keeps a uid unused for as long as
// possible after its EE ended.
var uidCursor atomic.Uint32

// uidLease is one uid held by this process: the flock on its lock file is
// the claim, so two Paddock processes on one host (or two test binaries)
// never hand the same uid to two EEs.
type uidLease struct {
	uid  uint32
	lock *os.File
}

// uidLockDir holds one lock file per uid in use. It must be shared by every
// Paddock process of the host, whatever its data dir.
func uidLockDir() string {
	if st, err := os.Stat("/run"); err == nil && st.IsDir() {
		return "/run/paddock/uids"
	}
	return filepath.Join(os.TempDir(), "paddock-uids")
}

// allocUID claims a free uid of the range.
func allocUID() (*uidLease, error) {
	dir := uidLockDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("uid locks: %w", err)
	}
	for tries := 0; tries < uidCount; tries++ {
		uid := uidBase + (uidCursor.Add(1)-1)%uidCount
		f, err := os.OpenFile(filepath.Join(dir, strconv.FormatUint(uint64(uid), 10)), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("uid locks: %w", err)
		}
		// flock locks belong to the open file: a second open of the same
		// file, in this process or another, cannot take it while f holds it.
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				continue
			}
			return nil, fmt.Errorf("uid lock: %w", err)
		}
		return &uidLease{uid: uid, lock: f}, nil
	}
	return nil, fmt.Errorf("no free uid in %d..%d", uidBase, uidBase+uidCount-1)
}

// release gives the uid back. The lock file stays: removing it would race
// with another process opening it.
func (l *uidLease) release() {
	if l != nil && l.lock != nil {
		l.lock.Close()
		l.lock = nil
	}
}

// ownerDir names this process's directory in a parent that every Paddock
// process of the host shares (cgroups, Caps.Dir).
var ownerDir = "p" + strconv.Itoa(os.Getpid())

// staleOwners lists the owner directories of parent whose process is gone,
// or is this one: a leftover of an earlier process with the same pid, for
// this process looks before it makes anything there.
func staleOwners(parent string) []string {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		digits, ok := strings.CutPrefix(e.Name(), "p")
		pid, err := strconv.Atoi(digits)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if err := unix.Kill(pid, 0); pid == os.Getpid() || errors.Is(err, unix.ESRCH) {
			out = append(out, filepath.Join(parent, e.Name()))
		}
	}
	return out
}
