package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/paddockhq/paddock/internal/testhost"
)

// isolationResult is what the hostile function answers to steal, dial and
// probe (see testdata/hostile).
type isolationResult struct {
	Error       string   `json:"error"`
	Open        []string `json:"open"`
	APIs        []string `json:"apis"`
	Stolen      int      `json:"stolen"`
	Data        string   `json:"data"`
	Seccomp     string   `json:"seccomp"`
	UnshareUser string   `json:"unshare_user"`
	Root        []string `json:"root"`
	RuntimeAPI  string   `json:"runtime_api"`
}

func (e *env) askIsolation(name, payload string) isolationResult {
	e.t.Helper()
	var r isolationResult
	out, err := e.invoke(name, "", payload)
	if err != nil {
		e.t.Fatalf("invoke %s %s: %v", name, payload, err)
	}
	if err := json.Unmarshal(out.Payload, &r); err != nil || out.FunctionError != nil {
		e.t.Fatalf("invoke %s %s: %s %v (%s)", name, payload, out.Payload, err, aws.ToString(out.FunctionError))
	}
	return r
}

// TestIsolationNoFunctionReachesAnother is issue 11's attack: a function
// scans loopback and polls /next on every port it finds while another
// function serves a steady stream of invokes. It must receive no foreign
// invoke; every caller must get the answer its own function wrote; the
// victim keeps all of its slots.
func TestIsolationNoFunctionReachesAnother(t *testing.T) {
	needs(t, "network namespaces", func(c sandbox.Caps) bool { return c.Network })
	e := start(t)
	e.activeFunction("victim", fnOpts{maxConcurrency: 16})
	e.zipFunction("thief", hostileCode(t, "thief"), 256, 60)

	// A steady stream of invokes of the victim, each with its own payload.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, wrong atomic.Int64
	var firstWrong atomic.Value
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				payload := fmt.Sprintf(`{"worker":%d,"n":%d}`, w, i)
				out, err := e.invoke("victim", "1", payload)
				sent.Add(1)
				if err != nil || out.FunctionError != nil || string(out.Payload) != payload {
					wrong.Add(1)
					if err == nil {
						firstWrong.CompareAndSwap(nil, fmt.Sprintf("%s for %s", out.Payload, payload))
					} else {
						firstWrong.CompareAndSwap(nil, err.Error())
					}
				}
			}
		}()
	}

	// The API port, on the host's addresses the thief could route to.
	_, apiPort, _ := net.SplitHostPort(strings.TrimPrefix(e.p.Endpoint, "http://"))
	hosts := append([]string{"127.0.0.1"}, hostAddrs(t)...)
	r := e.askIsolation("thief", `{"steal":{"hosts":["127.0.0.1"],"ms":3000}}`)
	far := e.askIsolation("thief", fmt.Sprintf(`{"steal":{"hosts":%s,"ports":[%s,9001],"ms":500}}`, jsonList(hosts), apiPort))
	close(stop)
	wg.Wait()

	t.Logf("victim: %d invokes; thief found open %v %v, Runtime APIs %v %v", sent.Load(), r.Open, far.Open, r.APIs, far.APIs)
	if r.Stolen+far.Stolen > 0 || len(r.APIs)+len(far.APIs) > 0 {
		t.Errorf("the thief received %d invokes from %v", r.Stolen+far.Stolen, append(r.APIs, far.APIs...))
	}
	if len(r.Open)+len(far.Open) > 0 {
		t.Errorf("the thief reached %v", append(r.Open, far.Open...))
	}
	if sent.Load() == 0 || wrong.Load() > 0 {
		t.Errorf("%d of %d victim invokes got an answer its function did not write; first: %v", wrong.Load(), sent.Load(), firstWrong.Load())
	}
	// The victim keeps every slot: nothing held, the whole limit there.
	waitFor(t, "the victim's slots all free", func() bool {
		for _, v := range e.fetchStatus().Versions {
			if v.Key == "victim:1" {
				return v.InFlight == 0 && v.Limit == 3*16
			}
		}
		return false
	})
	e.neighbourAnswers("victim")
}

// hostAddrs are this machine's own IPv4 addresses, other than loopback
// and the EEs' and test hosts' links.
func hostAddrs(t *testing.T) []string {
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ifc := range ifaces {
		if strings.HasPrefix(ifc.Name, "pdk") || strings.HasPrefix(ifc.Name, "pth") || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				out = append(out, n.IP.String())
			}
		}
	}
	return out
}

func jsonList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// TestIsolationOutboundOnly: a function reaches the outside world (a test
// host in a namespace of its own, through Paddock's NAT) and nothing of the
// host: not its loopback, not the API port on any of its addresses.
func TestIsolationOutboundOnly(t *testing.T) {
	needs(t, "network namespaces", func(c sandbox.Caps) bool { return c.Network })
	peer := testhost.New(t)
	e := start(t)
	e.zipFunction("out", hostileCode(t, "out"), 256, 30)

	r := e.askIsolation("out", fmt.Sprintf(`{"dial":%q}`, peer.Server))
	if r.Error != "" || !strings.HasPrefix(r.Data, "from "+peer.Gateway.String()+":") {
		t.Fatalf("dial the outside %s: %+v, want an answer seen from %s (NAT)", peer.Server, r, peer.Gateway)
	}
	_, apiPort, _ := net.SplitHostPort(strings.TrimPrefix(e.p.Endpoint, "http://"))
	for _, host := range append([]string{"127.0.0.1"}, hostAddrs(t)...) {
		addr := net.JoinHostPort(host, apiPort)
		if r := e.askIsolation("out", fmt.Sprintf(`{"dial":%q}`, addr)); r.Error == "" {
			t.Errorf("the function reached the API port at %s: %+v", addr, r)
		}
	}
}

// TestIsolationInsideTheBox: what a function finds about itself.
func TestIsolationInsideTheBox(t *testing.T) {
	c := needs(t, "a full sandbox", func(c sandbox.Caps) bool { return len(c.Missing) == 0 })
	e := start(t)
	e.zipFunction("box", hostileCode(t, "box"), 256, 30)
	r := e.askIsolation("box", `{"probe":true}`)
	if r.Seccomp != "2" {
		t.Errorf("Seccomp: %q, want 2", r.Seccomp)
	}
	if !strings.Contains(r.UnshareUser, "operation not permitted") {
		t.Errorf("unshare(CLONE_NEWUSER): %q, want EPERM", r.UnshareUser)
	}
	if r.RuntimeAPI != sandbox.RuntimeAPIAddr {
		t.Errorf("AWS_LAMBDA_RUNTIME_API=%q, want %s", r.RuntimeAPI, sandbox.RuntimeAPIAddr)
	}
	var want []string
	for _, d := range []string{"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "opt", "proc", "sbin", "tmp", "usr", "var"} {
		if _, err := os.Lstat("/" + d); err == nil || !slices.Contains([]string{"bin", "lib", "lib32", "lib64", "libx32", "sbin"}, d) {
			want = append(want, d)
		}
	}
	if c.MinimalRoot && !slices.Equal(r.Root, want) {
		t.Errorf("/ holds %v, want %v", r.Root, want)
	}
	for _, p := range []string{"/home", "/root", "/srv", "/var/lib", e.dataDir, "/sys/fs/cgroup"} {
		if res, _ := e.ask("box", fmt.Sprintf(`{"read":%q}`, p+"/x")); !strings.Contains(res.Error, "no such file") {
			t.Errorf("%s: %q, want it absent", p, res.Error)
		}
	}
}

// TestIsolationHeldInvokesGiveTheirSlotsBack: a worker that takes an invoke
// and never answers holds its slot only until the invoke's deadline plus a
// short grace; an EE whose workers are all held that way is replaced, so
// the version's capacity always comes back.
func TestIsolationHeldInvokesGiveTheirSlotsBack(t *testing.T) {
	e := start(t)
	e.activeFunction("holder", fnOpts{example: "sleep", maxConcurrency: 4, timeout: 1})
	inFlight := func() int {
		for _, v := range e.fetchStatus().Versions {
			if v.Key == "holder:1" {
				return v.InFlight
			}
		}
		return -1
	}
	hold := func(n int) {
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := e.invoke("holder", "1", `{"sleep_ms":600000}`)
				if err != nil || !strings.Contains(string(out.Payload), "Task timed out") {
					t.Errorf("a held invoke: %v %s, want it timed out", err, out.Payload)
				}
			}()
		}
		wg.Wait()
	}
	// Two held invokes: the handlers sleep on, their slots come back.
	hold(2)
	waitFor(t, "the held invokes' slots back", func() bool { return inFlight() == 0 })

	// Every slot held: the EEs can run nothing more, and are replaced.
	hold(3 * 4)
	held := time.Now()
	// At least the 3 it had: the scaler may have added one for the saturation.
	for inFlight() != 0 || readyEEs(e, "holder:1") < 3 {
		if time.Since(held) > time.Minute {
			t.Fatalf("a minute after every slot was held: %d in flight, %d EEs ready", inFlight(), readyEEs(e, "holder:1"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("every slot back and 3 or more EEs ready %v after the invokes timed out", time.Since(held).Round(time.Millisecond))
	waitFor(t, "an invoke answered again", func() bool {
		out, err := e.invoke("holder", "1", `{"sleep_ms":1}`)
		return err == nil && out.FunctionError == nil
	})
}
