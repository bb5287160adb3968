// Package nethost makes hosts of their own on this machine's network: a
// network namespace linked to this machine by a veth pair, with an
// address of its own, in which a process runs as on another machine (a
// small VM, as far as the network goes). The local instance provider
// runs each instance's agent in one; tests use them as separate machines
// (package testhost). It needs root.
package nethost

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Network is where hosts get their addresses: one /30 per host (slot n
// is Prefix's address 4n: the gateway, this machine's end, is 4n+1, the
// host 4n+2), claimed by a lock file under LockDir that every process of
// the machine sees, and links named LinkPrefix + n.
type Network struct {
	Prefix     netip.Prefix
	LinkPrefix string // at most 9 bytes: link names have 15
	LockDir    string
	FirstSlot  int // slots below it are kept for other uses
}

// Host is one host: Addr is its address, Gateway this machine's on the
// link to it.
type Host struct {
	Addr    netip.Addr
	Gateway netip.Addr

	ns   netns.NsHandle
	link string // this machine's end of the veth pair
	lock *os.File
}

var seq atomic.Uint32

// ErrNoNamespace: this process may not make a network namespace (not
// root, or in a container that forbids it).
var ErrNoNamespace = errors.New("cannot make a network namespace")

// New makes a host on nw.
func (nw Network) New() (*Host, error) {
	lock, n, err := nw.claim()
	if err != nil {
		return nil, err
	}
	h, err := nw.make(n)
	if err != nil {
		lock.Close()
		return nil, err
	}
	h.lock = lock
	return h, nil
}

func (nw Network) make(n int) (*Host, error) {
	base := nw.Prefix.Addr().As4()
	off := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	off += uint32(n) * 4
	gw := netip.AddrFrom4([4]byte{byte(off >> 24), byte(off >> 16), byte(off >> 8), byte(off + 1)})
	addr := gw.Next()
	name := nw.LinkPrefix + strconv.Itoa(n)
	if l, err := netlink.LinkByName(name); err == nil {
		netlink.LinkDel(l) //nolint:errcheck // left by a process that died: the slot's lock is ours now
	}
	var ns netns.NsHandle = -1
	err := onThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return err
		}
		var err error
		if ns, err = netns.Get(); err != nil {
			return err
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		return err
	})
	if err != nil {
		if ns != -1 {
			ns.Close()
		}
		return nil, fmt.Errorf("%w: %v", ErrNoNamespace, err)
	}
	h := &Host{Addr: addr, Gateway: gw, ns: ns, link: name}
	if err := h.link30(n); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// link30 adds the veth pair and the /30 on both ends, and the host's
// default route through this machine.
func (h *Host) link30(n int) error {
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: h.link}, PeerName: "eth0", PeerNamespace: netlink.NsFd(h.ns)}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("veth %s: %w", h.link, err)
	}
	mask := net.CIDRMask(30, 32)
	near, err := netlink.LinkByName(h.link)
	if err != nil {
		return err
	}
	if err := netlink.AddrAdd(near, &netlink.Addr{IPNet: &net.IPNet{IP: h.Gateway.AsSlice(), Mask: mask}}); err != nil {
		return err
	}
	if err := netlink.LinkSetUp(near); err != nil {
		return err
	}
	in, err := netlink.NewHandleAt(h.ns)
	if err != nil {
		return err
	}
	defer in.Close()
	eth, err := in.LinkByName("eth0")
	if err != nil {
		return err
	}
	if err := in.AddrAdd(eth, &netlink.Addr{IPNet: &net.IPNet{IP: h.Addr.AsSlice(), Mask: mask}}); err != nil {
		return err
	}
	if err := in.LinkSetUp(eth); err != nil {
		return err
	}
	return in.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: h.Gateway.AsSlice()})
}

// Anchor puts slot 0's gateway address on this machine's loopback link,
// for a server the hosts reach whatever their link: each host's default
// route leads here, and the machine takes packets for any of its
// addresses on any link. remove takes it away.
func (nw Network) Anchor() (addr netip.Addr, remove func(), err error) {
	base := nw.Prefix.Addr().As4()
	addr = netip.AddrFrom4([4]byte{base[0], base[1], base[2], base[3] + 1})
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return netip.Addr{}, nil, err
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(32, 32)}}
	netlink.AddrDel(lo, a) //nolint:errcheck // left by a process that died
	if err := netlink.AddrAdd(lo, a); err != nil {
		return netip.Addr{}, nil, fmt.Errorf("address %s on lo: %w", addr, err)
	}
	return addr, func() { netlink.AddrDel(lo, a) }, nil //nolint:errcheck // best effort at exit
}

// Partition takes the host's link down (cut) or brings it back: the host
// and this machine stop reaching each other, as when a network partition
// cuts a machine off; connections between them hang.
func (h *Host) Partition(cut bool) error {
	l, err := netlink.LinkByName(h.link)
	if err != nil {
		return err
	}
	if cut {
		return netlink.LinkSetDown(l)
	}
	// The link's address route comes back with it; nothing else to restore.
	return netlink.LinkSetUp(l)
}

// Start starts cmd inside the host's network namespace: the process sees
// only the host's link (Addr, with a route to this machine through
// Gateway) and its own loopback. Start waits for the process itself (do
// not call cmd.Wait): the returned channel gets its exit. The thread that
// forked it lives until then, so a Pdeathsig in cmd.SysProcAttr fires
// when this process dies, not when that thread would have ended.
func (h *Host) Start(cmd *exec.Cmd) (<-chan error, error) {
	started := make(chan error, 1)
	exited := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine, outside the namespace no more
		if err := netns.Set(h.ns); err != nil {
			started <- err
			return
		}
		if err := cmd.Start(); err != nil { // forked from this thread: it inherits the namespace
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return exited, nil
}

// Listen listens on TCP addr inside the host's namespace.
func (h *Host) Listen(addr string) (net.Listener, error) {
	var ln net.Listener
	err := onThread(func() error {
		if err := netns.Set(h.ns); err != nil {
			return err
		}
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln, err
}

// Close removes the host: its link, its namespace (once no process is
// left in it) and its slot.
func (h *Host) Close() error {
	var errs []error
	if l, err := netlink.LinkByName(h.link); err == nil {
		errs = append(errs, netlink.LinkDel(l))
	}
	if h.ns != -1 {
		errs = append(errs, h.ns.Close())
		h.ns = -1
	}
	if h.lock != nil {
		errs = append(errs, h.lock.Close())
		h.lock = nil
	}
	return errors.Join(errs...)
}

// claim takes a free slot, by a flock on its file.
func (nw Network) claim() (*os.File, int, error) {
	if err := os.MkdirAll(nw.LockDir, 0o700); err != nil {
		return nil, 0, err
	}
	slots := 1 << (32 - nw.Prefix.Bits()) / 4
	free := slots - nw.FirstSlot
	if free <= 0 {
		return nil, 0, fmt.Errorf("network %s has no slot past %d", nw.Prefix, nw.FirstSlot)
	}
	start := int(seq.Add(1))
	for i := 0; i < min(free, 4096); i++ {
		n := nw.FirstSlot + (start+i)%free
		f, err := os.OpenFile(filepath.Join(nw.LockDir, strconv.Itoa(n)), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, 0, err
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			return f, n, nil
		}
		f.Close()
	}
	return nil, 0, fmt.Errorf("all the host networks of %s are in use", nw.Prefix)
}

// onThread runs f on an OS thread that ends afterwards, so the namespace
// it enters dies with it.
func onThread(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		done <- f()
	}()
	return <-done
}
