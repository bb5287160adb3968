package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/vishvananda/netlink"

	"github.com/paddockhq/paddock/internal/platform"
)

// TestLocalProviderRunsAgentProcesses: a server whose local instances are
// `paddock agent` processes, each in a network namespace of its own with
// an address of its own. A version's EEs run on them and invokes cross
// the hop; an agent killed (kill -9) is replaced; when the server stops,
// its agents and their hosts go with it.
func TestLocalProviderRunsAgentProcesses(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the local provider's hosts need root (network namespaces)")
	}
	bin := paddockBinary(t)
	dataDir := t.TempDir()
	p, err := platform.Start(context.Background(), platform.Options{
		DataDir: dataDir, Listen: "127.0.0.1:0",
		AccessKeyID: "AKIDPADDOCKTEST", SecretAccessKey: "paddock-test-secret",
		Provider: "processes", JoinToken: joinToken, AgentPath: bin, LaunchDelay: -1,
	})
	if err != nil {
		t.Fatalf("start paddock server: %v", err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			p.Close()
		}
	})
	waitFor(t, "the server to lead", p.Leading)
	e := &env{t: t, p: p, dataDir: dataDir, lambda: client(p.Endpoint, p.AccessKeyID, p.SecretAccessKey)}
	cp := e.capacityProvider("cp-local")
	e.function("near", cp, fnOpts{example: "echo"})
	e.scale("near", "$LATEST.PUBLISHED", 2, 2)
	if v, st := e.publish("near"); st != types.StateActive {
		logs, _ := filepath.Glob(filepath.Join(dataDir, "instances", "*", "agent.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", l, b)
		}
		t.Fatalf("version %s is %s, want Active", v, st)
	}
	local := netip.MustParsePrefix("198.18.0.0/15")
	hosts := map[string]string{} // host id → address
	for _, h := range p.Static.Hosts() {
		if h.Instance == "" {
			continue
		}
		u := strings.TrimSuffix(strings.TrimPrefix(h.HopURL, "https://"), ":9402")
		if a, err := netip.ParseAddr(u); err != nil || !local.Contains(a) || h.Provider != "local" {
			t.Errorf("host %s: hop %s, provider %s; want an address in %s", h.ID, h.HopURL, h.Provider, local)
		}
		hosts[h.ID] = u
	}
	if len(hosts) == 0 {
		t.Fatalf("no instance host: %+v", p.Static.Hosts())
	}
	t.Logf("instances on hosts %v", hosts)
	for i := range 20 {
		out, err := e.lambda.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("near"), Qualifier: aws.String("1"), Payload: []byte(fmt.Sprintf(`{"n":%d}`, i))})
		if err != nil || out.FunctionError != nil || string(out.Payload) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("invoke %d: %v %v %s", i, err, out.FunctionError, out.Payload)
		}
	}

	// kill -9 one agent: its instance is lost and replaced.
	var victim string
	for id := range hosts {
		victim = id
		break
	}
	pid := agentPID(t, victim)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	waitForLong(t, "the killed agent's instance replaced", 30*time.Second, func() bool {
		ready := 0
		for _, h := range p.Static.Hosts() {
			if h.ID != victim && h.Instance != "" && time.Since(h.LastBeat) < 3*time.Second {
				ready += h.Routed
			}
		}
		return ready >= 2
	})
	t.Logf("agent of %s killed: EEs routed again on other instances after %v", victim, time.Since(killed).Round(time.Millisecond))
	out, err := e.lambda.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("near"), Qualifier: aws.String("1"), Payload: []byte(`{}`)})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("invoke after the replacement: %v %v", err, out)
	}

	// A stopped server leaves no agent and no host link behind.
	p.Close()
	closed = true
	for id := range hosts {
		if pid := findAgent(id); pid != 0 {
			t.Errorf("agent of %s (pid %d) still runs after the server stopped", id, pid)
		}
	}
	links, _ := netlink.LinkList()
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, "plh") {
			t.Errorf("link %s left after the server stopped", l.Attrs().Name)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dataDir, "instances", "*")); len(left) > 0 {
		t.Errorf("instance directories left: %v", left)
	}
}

// agentPID is the pid of the `paddock agent` of host id.
func agentPID(t *testing.T, id string) int {
	t.Helper()
	pid := findAgent(id)
	if pid == 0 {
		t.Fatalf("no agent process of %s", id)
	}
	return pid
}

func findAgent(id string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmdline, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		args := bytes.Split(cmdline, []byte{0})
		if len(args) > 1 && string(args[1]) == "agent" && bytes.Contains(cmdline, []byte("\x00--id\x00"+id+"\x00")) {
			var pid int
			fmt.Sscanf(filepath.Base(d), "%d", &pid)
			return pid
		}
	}
	return 0
}
