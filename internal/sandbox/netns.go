package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Each EE gets a network namespace of its own, as a microVM has on Lambda:
//
//   - its loopback carries its Runtime API at 127.0.0.1:9001 (the listener
//     is made inside the namespace), and nothing else: the host's loopback,
//     Paddock's ports and other EEs' Runtime APIs are not in it;
//   - a veth pair links it to the host: eth0 inside with the second address
//     of a /30 of its own, the host end (pdkNNNN) with the first, which is
//     its default gateway;
//   - the host NATs what leaves for the outside world (masquerade through
//     the instance's own address) and drops, in nftables rules of its own,
//     anything an EE sends to the host itself or to another EE, and
//     anything from outside that is not an answer to the EE.
//
// Namespaces are made ahead of need by a small pool (see netPool), so a
// default-mode cold start does not wait for one.

// RuntimeAPIAddr is the Runtime API's address inside an EE's network
// namespace, as on Lambda (AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001).
const RuntimeAPIAddr = "127.0.0.1:9001"

// The EEs' addresses: one /30 per EE out of eeNetwork. 10.200/16 is private
// space few hosts route (a host route into it makes the network mechanism
// unavailable, with the route named); it holds 16,384 EEs per host.
var eeNetwork = netip.MustParsePrefix("10.200.0.0/16")

const (
	slotBits  = 2 // a /30 per EE: network, gateway, EE, broadcast
	slotCount = 1 << (32 - 16 - slotBits)
	// hostIfPrefix names the host end of every EE's veth pair, in every
	// Paddock process of the host: the firewall rules match on it.
	hostIfPrefix = "pdk"
)

// eeNet is one EE's network namespace, ready to run a runtime in.
type eeNet struct {
	ns     netns.NsHandle // the namespace, held open by this fd
	slot   *slotLease
	hostIf string
	gw, ee netip.Addr
	ln     net.Listener // the Runtime API's, at RuntimeAPIAddr inside
}

// slotLease is one /30 of eeNetwork held by this process, claimed as
// uidLease claims a uid: by a flock every Paddock process of the host sees.
type slotLease struct {
	n    int
	lock *os.File
}

var slotCursor atomic.Uint32

func slotLockDir() string { return filepath.Join(filepath.Dir(uidLockDir()), "netslots") }

func allocSlot() (*slotLease, error) {
	dir := slotLockDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("address locks: %w", err)
	}
	for tries := 0; tries < slotCount; tries++ {
		// Slot 0 holds the range's network address: skip it.
		n := 1 + int((slotCursor.Add(1)-1)%(slotCount-1))
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(n)), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("address locks: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				continue
			}
			return nil, fmt.Errorf("address lock: %w", err)
		}
		return &slotLease{n: n, lock: f}, nil
	}
	return nil, fmt.Errorf("no free address in %s", eeNetwork)
}

func (l *slotLease) release() {
	if l != nil && l.lock != nil {
		l.lock.Close()
		l.lock = nil
	}
}

// slotAddrs are the gateway's and the EE's addresses of slot n.
func slotAddrs(n int) (gw, ee netip.Addr) {
	base := eeNetwork.Addr().As4()
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(n)<<slotBits
	a := func(x uint32) netip.Addr {
		return netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
	}
	return a(v + 1), a(v + 2)
}

// newEENet makes a network namespace with its veth pair, addresses, routes
// and the Runtime API listener.
func newEENet() (_ *eeNet, err error) {
	slot, err := allocSlot()
	if err != nil {
		return nil, err
	}
	n := &eeNet{slot: slot, ns: -1, hostIf: fmt.Sprintf("%s%04x", hostIfPrefix, slot.n)}
	n.gw, n.ee = slotAddrs(slot.n)
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	var ln net.Listener
	err = onThrowawayThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare network namespace: %w", err)
		}
		ns, err := netns.Get()
		if err != nil {
			return err
		}
		n.ns = ns
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return fmt.Errorf("loopback up: %w", err)
		}
		// No keepalive probes: the runtime is local (see runtimeapi).
		lc := net.ListenConfig{KeepAlive: -1}
		ln, err = lc.Listen(context.Background(), "tcp", RuntimeAPIAddr)
		return err
	})
	if err != nil {
		return nil, err
	}
	n.ln = ln
	if err := n.link(); err != nil {
		return nil, err
	}
	return n, nil
}

// link makes the veth pair and sets its addresses and routes.
func (n *eeNet) link() error {
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: n.hostIf},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(n.ns),
	}
	err := netlink.LinkAdd(veth)
	if errors.Is(err, unix.EEXIST) {
		// Left by a Paddock that died holding this slot: its namespace
		// is still being torn down. The slot is ours now.
		if old, lerr := netlink.LinkByName(n.hostIf); lerr == nil {
			netlink.LinkDel(old) //nolint:errcheck // LinkAdd says if it is still there
		}
		err = netlink.LinkAdd(veth)
	}
	if err != nil {
		return fmt.Errorf("veth %s: %w", n.hostIf, err)
	}
	host, err := netlink.LinkByName(n.hostIf)
	if err != nil {
		return err
	}
	// No IPv6 on the host end: a link-local address there would be a way
	// to the host's services that the IPv4 rules do not name.
	os.WriteFile("/proc/sys/net/ipv6/conf/"+n.hostIf+"/disable_ipv6", []byte("1"), 0) //nolint:errcheck // hosts without IPv6 have no such file
	if err := netlink.AddrAdd(host, &netlink.Addr{IPNet: prefixNet(n.gw)}); err != nil {
		return fmt.Errorf("address %s: %w", n.hostIf, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("up %s: %w", n.hostIf, err)
	}
	h, err := netlink.NewHandleAt(n.ns)
	if err != nil {
		return err
	}
	defer h.Close()
	eth, err := h.LinkByName("eth0")
	if err != nil {
		return err
	}
	if err := h.AddrAdd(eth, &netlink.Addr{IPNet: prefixNet(n.ee)}); err != nil {
		return fmt.Errorf("address eth0: %w", err)
	}
	if err := h.LinkSetUp(eth); err != nil {
		return fmt.Errorf("up eth0: %w", err)
	}
	gw := n.gw.AsSlice()
	if err := h.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: gw}); err != nil {
		return fmt.Errorf("default route: %w", err)
	}
	return nil
}

func prefixNet(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(32-slotBits, 32)}
}

// enter moves the calling (locked) thread into the namespace, so that the
// runtime it forks runs there.
func (n *eeNet) enter() error {
	if err := netns.Set(n.ns); err != nil {
		return fmt.Errorf("enter network namespace: %w", err)
	}
	return nil
}

// close ends the namespace: with its last fd (and process) gone the kernel
// removes it, and the veth pair with it. Deleting the host end takes tens
// of milliseconds (the kernel waits for the network stack to let go of
// it), so it is done in the background, and the address slot is given
// back only after, when its interface name is free again.
func (n *eeNet) close() {
	if n == nil {
		return
	}
	if n.ln != nil {
		n.ln.Close()
	}
	if n.ns >= 0 {
		n.ns.Close()
	}
	closing.Add(1)
	go func() {
		defer closing.Done()
		if l, err := netlink.LinkByName(n.hostIf); err == nil {
			netlink.LinkDel(l) //nolint:errcheck // gone with the namespace anyway
		}
		n.slot.release()
	}()
}

// closing counts the namespaces whose host interface is being deleted.
var closing sync.WaitGroup

// netPool keeps a few network namespaces ready: making one (a namespace,
// a veth pair, two addresses, a route) takes milliseconds, which a
// default-mode cold start should not wait for.
type netPool struct {
	mu      sync.Mutex
	ready   []*eeNet
	filling bool
	target  int
	err     error // the last failure to make one, for get to report
}

// poolTarget is how many namespaces are kept ready: enough for a burst of
// cold starts while the pool refills in the background.
const poolTarget = 4

var pool = &netPool{target: poolTarget}

// get returns a ready namespace, or makes one now when the pool is empty,
// and starts a refill.
func (p *netPool) get() (*eeNet, error) {
	p.mu.Lock()
	var n *eeNet
	if k := len(p.ready); k > 0 {
		n = p.ready[k-1]
		p.ready = p.ready[:k-1]
	}
	p.refillLocked()
	p.mu.Unlock()
	if n != nil {
		return n, nil
	}
	return newEENet()
}

// put gives a ready namespace to the pool (or closes it if the pool is full).
func (p *netPool) put(n *eeNet) {
	p.mu.Lock()
	full := len(p.ready) >= p.target
	if !full {
		p.ready = append(p.ready, n)
	}
	p.mu.Unlock()
	if full {
		n.close()
	}
}

// refillLocked starts one goroutine that fills the pool to its target and
// ends; it runs with p.mu held.
func (p *netPool) refillLocked() {
	if p.filling || len(p.ready) >= p.target {
		return
	}
	p.filling = true
	go func() {
		for {
			p.mu.Lock()
			if len(p.ready) >= p.target {
				p.filling = false
				p.mu.Unlock()
				return
			}
			p.mu.Unlock()
			n, err := newEENet()
			p.mu.Lock()
			if err != nil {
				p.err, p.filling = err, false
				p.mu.Unlock()
				return
			}
			p.ready = append(p.ready, n)
			p.mu.Unlock()
		}
	}()
}

// drain closes the namespaces the pool holds (for tests and shutdown).
func (p *netPool) drain() {
	for {
		p.mu.Lock()
		ready, filling := p.ready, p.filling
		p.ready = nil
		p.mu.Unlock()
		for _, n := range ready {
			n.close()
		}
		if !filling {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

var (
	hostOnce sync.Once
	hostErr  error
)

// hostNetwork sets up the host's side once per process (see setUpHost).
func hostNetwork() error {
	hostOnce.Do(func() { hostErr = setUpHost(); hostOnceDone.Store(true) })
	return hostErr
}

// Shutdown releases what the sandbox holds on the host for the whole
// process: the ready network namespaces and this process's firewall
// tables. Call it when no EE runs any more (paddock up does, last); EEs
// started after it would set the host up again only in a new process.
func Shutdown() error {
	pool.drain()
	closing.Wait()
	if !hostOnceDone.Load() || hostErr != nil {
		return nil
	}
	return tearDownHost()
}

// hostOnceDone reports whether hostNetwork ran.
var hostOnceDone atomic.Bool

// inNetns runs f on a throwaway thread inside namespace ns.
func inNetns(ns netns.NsHandle, f func() error) error {
	return onThrowawayThread(func() error {
		if err := netns.Set(ns); err != nil {
			return err
		}
		return f()
	})
}
