// Package testhost gives tests a host of their own on the network: a
// network namespace linked to this machine by a veth pair, with a TCP
// server in it. It stands in for "the internet" in tests of what an
// execution environment can reach: traffic to it leaves the machine's own
// namespace the way traffic to a real outside address would, and goes
// nowhere else. It needs root.
package testhost

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Host is a test host: Addr is its address, Gateway this machine's on the
// link to it.
type Host struct {
	Addr    netip.Addr
	Gateway netip.Addr
	// Server is a TCP server at Addr: for each connection it writes the
	// peer address it sees ("from 198.51.100.1:40000\n") and closes.
	Server netip.AddrPort

	ns   netns.NsHandle
	link string // this machine's end of the veth pair
}

// Partition takes the host's link down (up false) or brings it back: the
// host and this machine stop reaching each other, as when a network
// partition cuts a machine off; connections between them hang.
func (h *Host) Partition(cut bool) error {
	l, err := netlink.LinkByName(h.link)
	if err != nil {
		return err
	}
	if cut {
		return netlink.LinkSetDown(l)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return err
	}
	// The link's address route comes back with it; nothing else to restore.
	return nil
}

// Start starts cmd inside the host's network namespace: the process sees
// only the host's link (Addr, with a route to this machine through
// Gateway) and its own loopback. It is how tests run a second machine's
// daemon. Start waits for the process itself (do not call cmd.Wait): the
// returned channel gets its exit. The thread that forked it lives until
// then, so a Pdeathsig in cmd.SysProcAttr fires when the test process
// dies, not when that thread would have ended.
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

var seq atomic.Uint32

// New makes a test host, removed at the end of the test. It skips the test
// where the machine does not allow it (not root, no network namespaces).
func New(t testing.TB) *Host {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("test hosts need root (network namespaces)")
	}
	// 198.51.100.0/24 is TEST-NET-2 (RFC 5737): never a real address. One
	// /30 per host, claimed by a lock file so that test binaries running
	// at once do not collide.
	n := claim(t)
	gw := netip.AddrFrom4([4]byte{198, 51, 100, byte(n*4 + 1)})
	addr := gw.Next()
	name := fmt.Sprintf("pth%d", n)
	var ns netns.NsHandle = -1
	var ln net.Listener
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
		t.Skipf("no network namespace for a test host: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: "eth0", PeerNamespace: netlink.NsFd(ns)}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("test host veth: %v", err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkDel(l) //nolint:errcheck // gone with the namespace anyway
		}
	})
	host, err := netlink.LinkByName(name)
	must(t, err)
	must(t, netlink.AddrAdd(host, &netlink.Addr{IPNet: &net.IPNet{IP: gw.AsSlice(), Mask: net.CIDRMask(30, 32)}}))
	must(t, netlink.LinkSetUp(host))
	h, err := netlink.NewHandleAt(ns)
	must(t, err)
	defer h.Close()
	eth, err := h.LinkByName("eth0")
	must(t, err)
	must(t, h.AddrAdd(eth, &netlink.Addr{IPNet: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(30, 32)}}))
	must(t, h.LinkSetUp(eth))
	must(t, h.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: gw.AsSlice()}))
	must(t, onThread(func() error {
		if err := netns.Set(ns); err != nil {
			return err
		}
		var err error
		ln, err = (&net.ListenConfig{}).Listen(context.Background(), "tcp", netip.AddrPortFrom(addr, 0).String())
		return err
	}))
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				w := bufio.NewWriter(c)
				fmt.Fprintf(w, "from %s\n", c.RemoteAddr())
				w.Flush()
			}()
		}
	}()
	return &Host{Addr: addr, Gateway: gw, Server: netip.MustParseAddrPort(ln.Addr().String()), ns: ns, link: name}
}

// claim takes one of the 64 /30s of TEST-NET-2 for the test, by a flock
// every process of the machine sees; the lock goes with the test.
func claim(t testing.TB) int {
	dir := "/run/paddock/testhosts"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatalf("test host: %v", err)
	}
	start := int(seq.Add(1))
	for i := 0; i < 64; i++ {
		n := (start + i) % 64
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(n)), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatalf("test host: %v", err)
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			t.Cleanup(func() { f.Close() })
			return n
		}
		f.Close()
	}
	t.Fatal("test host: all 64 test networks are in use")
	return 0
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("test host: %v", err)
	}
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
