package sandbox

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The host's side of EE networking: forwarding on, and nftables rules in
// tables of this process's own (tablePrefix + pid), so that several
// Paddock processes of one host (or test binaries) never touch each
// other's. Every process's rules are the same and match every EE of the
// host by its interface prefix, so removing one process's table leaves the
// others' EEs as confined as before; a table whose process is gone is
// removed by the next Paddock to start.
//
//	table inet paddock_pN {
//	  chain input   { type filter hook input priority 0;   iifname "pdk*" drop }
//	  chain forward { type filter hook forward priority 0;
//	                  iifname "pdk*" oifname "pdk*" drop
//	                  oifname "pdk*" ct state established,related accept
//	                  oifname "pdk*" drop }
//	}
//	table ip paddock_pN {
//	  chain postrouting { type nat hook postrouting priority srcnat;
//	                      ip saddr 10.200.0.0/16 oifname != "pdk*" masquerade }
//	}
//
// The input rule is what keeps an EE from the host itself: Paddock's API
// on any of the host's addresses, the gateway address, other software. It
// is in the inet family, so it covers IPv6 too.
const tablePrefix = "paddock_p"

// setUpHost turns on IPv4 forwarding and installs this process's tables.
func setUpHost() error {
	if err := checkRoutes(); err != nil {
		return err
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0); err != nil {
		return fmt.Errorf("enable IPv4 forwarding: %w", err)
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	removeStaleTables(c)
	name := tablePrefix + strconv.Itoa(os.Getpid())
	filter := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: name})
	accept := nftables.ChainPolicyAccept
	input := c.AddChain(&nftables.Chain{Name: "input", Table: filter, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	forward := c.AddChain(&nftables.Chain{Name: "forward", Table: filter, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	rule := func(t *nftables.Table, ch *nftables.Chain, exprs ...expr.Any) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs})
	}
	drop := &expr.Verdict{Kind: expr.VerdictDrop}
	rule(filter, input, append(ifPrefix(expr.MetaKeyIIFNAME, true), drop)...)
	rule(filter, forward, append(append(ifPrefix(expr.MetaKeyIIFNAME, true), ifPrefix(expr.MetaKeyOIFNAME, true)...), drop)...)
	rule(filter, forward, append(append(ifPrefix(expr.MetaKeyOIFNAME, true), established()...), &expr.Verdict{Kind: expr.VerdictAccept})...)
	rule(filter, forward, append(ifPrefix(expr.MetaKeyOIFNAME, true), drop)...)

	nat := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: name})
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: nat, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	src := eeNetwork.Addr().As4()
	mask := net.CIDRMask(eeNetwork.Bits(), 32)
	rule(nat, post, append(append([]expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: src[:]},
	}, ifPrefix(expr.MetaKeyOIFNAME, false)...), &expr.Masq{})...)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables rules: %w", err)
	}
	return nil
}

// ifPrefix matches (or, with match false, excludes) the EEs' host
// interfaces: nft's `iifname "pdk*"` compares only the prefix's bytes.
func ifPrefix(key expr.MetaKey, match bool) []expr.Any {
	op := expr.CmpOpEq
	if !match {
		op = expr.CmpOpNeq
	}
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: []byte(hostIfPrefix)},
	}
}

// established matches packets of connections already set up (answers to
// what an EE sent).
func established() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

// removeStaleTables deletes the tables of Paddock processes that are gone,
// and a leftover of an earlier process with this one's pid.
func removeStaleTables(c *nftables.Conn) {
	tables, err := c.ListTables()
	if err != nil {
		return
	}
	for _, t := range tables {
		digits, ok := strings.CutPrefix(t.Name, tablePrefix)
		pid, err := strconv.Atoi(digits)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if err := unix.Kill(pid, 0); pid == os.Getpid() || errors.Is(err, unix.ESRCH) {
			c.DelTable(t)
		}
	}
	c.Flush() //nolint:errcheck // best effort: a table another process removed first is fine
}

// tearDownHost removes this process's tables.
func tearDownHost() error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	name := tablePrefix + strconv.Itoa(os.Getpid())
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: name})
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: name})
	return c.Flush()
}

// checkRoutes refuses a host that routes into the EEs' range already
// (other than to EEs): their addresses would collide.
func checkRoutes() error {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.To4() == nil {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		if ones == 0 {
			continue // a default route
		}
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil && strings.HasPrefix(l.Attrs().Name, hostIfPrefix) {
			continue
		}
		ip, _ := netip.AddrFromSlice(r.Dst.IP.To4())
		if netip.PrefixFrom(ip, ones).Overlaps(eeNetwork) {
			return fmt.Errorf("the host routes %s, which overlaps the EEs' addresses %s", r.Dst, eeNetwork)
		}
	}
	return nil
}
