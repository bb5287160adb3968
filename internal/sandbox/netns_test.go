package sandbox

import (
	"bufio"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/testhost"
)

// withNetwork sets up the host side for EE namespaces, or skips.
func withNetwork(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("EE network namespaces need root")
	}
	if err := hostNetwork(); err != nil {
		t.Skipf("no EE networking on this host: %v", err)
	}
}

// dialFrom dials addr from inside n's namespace.
func dialFrom(n *eeNet, addr string) (string, error) {
	var line string
	err := inNetns(n.ns, func() error {
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		line, err = bufio.NewReader(c).ReadString('\n')
		if err != nil && line == "" {
			return err
		}
		return nil
	})
	return strings.TrimSpace(line), err
}

func TestEENetworkReachesOutsideOnly(t *testing.T) {
	withNetwork(t)
	peer := testhost.New(t)
	a, err := newEENet()
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	b, err := newEENet()
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()

	// The outside world answers, and sees the host's address (NAT).
	got, err := dialFrom(a, peer.Server.String())
	if err != nil {
		t.Fatalf("EE to the outside: %v", err)
	}
	if want := "from " + peer.Gateway.String() + ":"; !strings.HasPrefix(got, want) {
		t.Errorf("the outside saw %q, want %q... (masqueraded)", got, want)
	}

	// A server on the host's loopback and on the host's other addresses.
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("host\n"))
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	for _, addr := range []string{
		net.JoinHostPort("127.0.0.1", itoa(port)),           // its own loopback: nothing there
		net.JoinHostPort(a.gw.String(), itoa(port)),         // the gateway is the host
		net.JoinHostPort(peer.Gateway.String(), itoa(port)), // another address of the host
		net.JoinHostPort(b.ee.String(), "9001"),             // another EE
		net.JoinHostPort(b.gw.String(), itoa(port)),         // another EE's gateway
	} {
		if got, err := dialFrom(a, addr); err == nil {
			t.Errorf("EE reached %s: %q", addr, got)
		}
	}
	// Its own Runtime API listener is on its own loopback.
	if a.ln.Addr().String() != RuntimeAPIAddr {
		t.Errorf("Runtime API at %s, want %s", a.ln.Addr(), RuntimeAPIAddr)
	}
	go func() {
		c, err := a.ln.Accept()
		if err == nil {
			c.Write([]byte("runtime api\n"))
			c.Close()
		}
	}()
	if got, err := dialFrom(a, RuntimeAPIAddr); err != nil || got != "runtime api" {
		t.Errorf("own Runtime API: %q, %v", got, err)
	}
	if got, err := dialFrom(b, RuntimeAPIAddr); err == nil {
		t.Errorf("EE b reached a's Runtime API listener: %q", got)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func BenchmarkNewEENet(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	if err := hostNetwork(); err != nil {
		b.Skip(err)
	}
	for i := 0; i < b.N; i++ {
		n, err := newEENet()
		if err != nil {
			b.Fatal(err)
		}
		n.close()
	}
}
