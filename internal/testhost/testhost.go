// Package testhost gives tests a host of their own on the network: a
// network namespace linked to this machine by a veth pair (package
// nethost), with a TCP server in it. It stands in for "the internet" in
// tests of what an execution environment can reach, and for other
// machines in tests of servers and agents apart: traffic to it leaves the
// machine's own namespace the way traffic to a real outside address
// would, and goes nowhere else. It needs root.
package testhost

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"testing"

	"github.com/paddockhq/paddock/internal/nethost"
)

// Host is a test host: Addr is its address, Gateway this machine's on the
// link to it; Start and Partition are nethost's.
type Host struct {
	*nethost.Host
	// Server is a TCP server at Addr: for each connection it writes the
	// peer address it sees ("from 198.51.100.1:40000\n") and closes.
	Server netip.AddrPort
}

// testNet is TEST-NET-2 (RFC 5737, never a real address): 64 hosts.
var testNet = nethost.Network{Prefix: netip.MustParsePrefix("198.51.100.0/24"), LinkPrefix: "pth", LockDir: "/run/paddock/testhosts"}

// New makes a test host, removed at the end of the test. It skips the test
// where the machine does not allow it (not root, no network namespaces).
func New(t testing.TB) *Host {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("test hosts need root (network namespaces)")
	}
	h, err := testNet.New()
	if errors.Is(err, nethost.ErrNoNamespace) {
		t.Skipf("no network namespace for a test host: %v", err)
	}
	if err != nil {
		t.Fatalf("test host: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	ln, err := h.Listen(netip.AddrPortFrom(h.Addr, 0).String())
	if err != nil {
		t.Fatalf("test host server: %v", err)
	}
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
	return &Host{Host: h, Server: netip.MustParseAddrPort(ln.Addr().String())}
}
