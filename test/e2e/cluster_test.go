package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/nats-io/nats.go"

	"github.com/paddockhq/paddock/internal/fleet"
	"github.com/paddockhq/paddock/internal/joinauth"
	"github.com/paddockhq/paddock/internal/logs"
	"github.com/paddockhq/paddock/internal/platform"
	"github.com/paddockhq/paddock/internal/testhost"
)

// cluster is a Paddock server whose instances are agents, each a process
// of its own on a test host of its own (a network namespace linked to
// this machine): separate machines, as far as the network goes.
type cluster struct {
	*env
	t     *testing.T
	bin   string
	token string
	join  string // the engine URLs agents join ("": the platform's)
	hosts []*testhost.Host

	mu     sync.Mutex
	agents map[int]*exec.Cmd
	exited map[int]<-chan error
	logs   map[int]string
	dirs   map[int]string // agent i's data dir, kept across its restarts (its key is there)
}

const joinToken = "test-join-token"

func startCluster(t *testing.T, agents int) *cluster {
	t.Helper()
	hosts := make([]*testhost.Host, agents)
	for i := range hosts {
		hosts[i] = testhost.New(t) // skips the test where the machine cannot make one
	}
	bin := paddockBinary(t)
	dataDir := t.TempDir()
	p, err := platform.Start(context.Background(), platform.Options{
		DataDir: dataDir, Listen: "127.0.0.1:0",
		AccessKeyID: "AKIDPADDOCKTEST", SecretAccessKey: "paddock-test-secret",
		Provider: "static", EngineListen: hosts[0].Gateway.String() + ":0", JoinToken: joinToken,
	})
	if err != nil {
		t.Fatalf("start paddock server: %v", err)
	}
	c := &cluster{env: &env{t: t, p: p, dataDir: dataDir, lambda: client(p.Endpoint, p.AccessKeyID, p.SecretAccessKey)},
		t: t, bin: bin, token: joinToken, hosts: hosts, agents: map[int]*exec.Cmd{}, exited: map[int]<-chan error{}, logs: map[int]string{}}
	t.Cleanup(func() {
		p.Close()
		c.stopAll()
		if t.Failed() {
			c.dumpLogs()
		}
	})
	for i := range hosts {
		c.startAgent(i)
	}
	waitFor(t, fmt.Sprintf("%d hosts joined", agents), func() bool { return len(p.Static.Hosts()) == agents })
	// The hop is TLS by default: every invoke these tests send crosses it.
	for _, h := range p.Static.Hosts() {
		if !strings.HasPrefix(h.HopURL, "https://") {
			t.Fatalf("host %s serves its hop at %s, want https://", h.ID, h.HopURL)
		}
	}
	return c
}

func hostID(i int) string { return fmt.Sprintf("h-test-%d", i) }

// startAgent runs `paddock agent` on test host i.
func (c *cluster) startAgent(i int) { c.t.Helper(); c.startAgentWith(i, c.token) }

// startAgentWith runs `paddock agent` on test host i with a join token.
func (c *cluster) startAgentWith(i int, token string) {
	c.t.Helper()
	h := c.hosts[i]
	c.mu.Lock()
	if c.dirs == nil {
		c.dirs = map[int]string{}
	}
	if c.dirs[i] == "" {
		c.dirs[i] = filepath.Join(c.t.TempDir(), "agent")
	}
	dir := c.dirs[i]
	c.mu.Unlock()
	logPath := filepath.Join(c.t.TempDir(), "agent.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		c.t.Fatal(err)
	}
	join := c.join
	if join == "" {
		join = c.p.EngineURL
	}
	cmd := exec.Command(c.bin, "agent", "--join", join, "--token", token, "--id", hostID(i),
		"--instance-type", "m7i.xlarge", "--listen", h.Addr.String()+":9402", "--data-dir", dir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	exited, err := h.Start(cmd)
	if err != nil {
		c.t.Fatalf("start agent %d: %v", i, err)
	}
	c.mu.Lock()
	c.agents[i], c.exited[i], c.logs[i] = cmd, exited, logPath
	c.mu.Unlock()
}

// kill ends agent i with SIGKILL, as a host that dies: its EE processes
// go with it.
func (c *cluster) kill(i int) {
	c.mu.Lock()
	cmd := c.agents[i]
	delete(c.agents, i)
	c.mu.Unlock()
	if cmd != nil {
		cmd.Process.Kill() //nolint:errcheck
		<-c.exited[i]
	}
}

func (c *cluster) stopAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cmd := range c.agents {
		cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
	}
	for i, cmd := range c.agents {
		select {
		case <-c.exited[i]:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill() //nolint:errcheck
			<-c.exited[i]
		}
		delete(c.agents, i)
	}
}

func (c *cluster) dumpLogs() {
	for i, path := range c.logs {
		b, _ := os.ReadFile(path)
		c.t.Logf("agent %d log:\n%s", i, b)
	}
}

// boundHosts is the joined hosts bound to an instance, by host id.
func (c *cluster) boundHosts() map[string]string {
	out := map[string]string{}
	for _, h := range c.p.Static.Hosts() {
		if h.Instance != "" {
			out[h.ID] = h.Instance
		}
	}
	return out
}

// TestClusterServesAcrossHosts: a server and four agents on test hosts of
// their own. An LMI version's EEs spread over three hosts, invokes cross
// the network to them, concurrency is the sum of theirs and past it the
// API throttles; when a host dies (kill -9 of its agent and its EEs) its
// EEs come back on the spare host within 10 s, the other invokes carry on.
func TestClusterServesAcrossHosts(t *testing.T) {
	c := startCluster(t, 4)
	cp := c.capacityProvider("cp-spread")
	c.function("spread", cp, fnOpts{example: "sleep", maxConcurrency: 4})
	// Three EEs, no more: the autoscaler would add some under the load below.
	c.scale("spread", "$LATEST.PUBLISHED", 3, 3)
	if v, st := c.publish("spread"); st != types.StateActive {
		t.Fatalf("version %s is %s, want Active", v, st)
	}
	if n := len(c.boundHosts()); n != 3 {
		t.Fatalf("%d hosts bound, want 3 (the version's EEs spread over 3 instances)", n)
	}
	for i := 0; i < 20; i++ {
		out, err := c.invoke("spread", "1", `{"sleep_ms":1}`)
		if err != nil || out.FunctionError != nil {
			t.Fatalf("invoke %d: %v %+v", i, err, out)
		}
	}

	// 12 slots on 3 hosts: 12 long invokes are admitted, the 13th throttled.
	hold, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var held atomic.Int32
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := c.lambda.Invoke(hold, &lambda.InvokeInput{FunctionName: aws.String("spread"), Qualifier: aws.String("1"), Payload: []byte(`{"sleep_ms":2500}`)})
			if err == nil && out.FunctionError == nil {
				held.Add(1)
			}
		}()
	}
	time.Sleep(800 * time.Millisecond)
	_, err := c.invoke("spread", "1", `{"sleep_ms":1}`)
	apiError(t, err, "TooManyRequestsException")
	var tm *types.TooManyRequestsException
	if !asErr(err, &tm) || tm.Reason != types.ThrottleReasonConcurrentInvocationLimitExceeded {
		t.Fatalf("throttle: %+v, want Reason ConcurrentInvocationLimitExceeded", tm)
	}
	wg.Wait()
	cancel()
	if held.Load() != 12 {
		t.Fatalf("%d of 12 invokes that filled the slots succeeded", held.Load())
	}

	// A host dies while invokes run.
	var victim int = -1
	bound := c.boundHosts()
	for i := range c.hosts {
		if _, ok := bound[hostID(i)]; ok {
			victim = i
			break
		}
	}
	stop := make(chan struct{})
	var ok, failed atomic.Int32
	var firstErr atomic.Value
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				out, err := c.invoke("spread", "1", `{"sleep_ms":20}`)
				switch {
				case err == nil && out.FunctionError == nil:
					ok.Add(1)
				default:
					failed.Add(1)
					if err == nil {
						err = fmt.Errorf("function error %s: %s", aws.ToString(out.FunctionError), out.Payload)
					}
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	killed := time.Now()
	c.kill(victim)
	waitFor(t, "the dead host's EEs replaced", func() bool {
		b := c.boundHosts()
		_, stillBound := b[hostID(victim)]
		return !stillBound && len(b) == 3 && readyEEs(c.env, "spread:1") == 3
	})
	replacedIn := time.Since(killed)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("host %s killed: EEs replaced in %v; %d invokes ok, %d failed during the fault (first: %v)",
		hostID(victim), replacedIn, ok.Load(), failed.Load(), firstErr.Load())
	if replacedIn > 10*time.Second {
		t.Errorf("replacement took %v, want under 10s", replacedIn)
	}
	// Only the invokes in flight on the dead host may fail: 4 callers hold
	// at most 4, and throttles while the capacity is down count too.
	if failed.Load() > 4 {
		t.Errorf("%d invokes failed during the fault (first: %v), want at most the 4 in flight", failed.Load(), firstErr.Load())
	}
	for i := 0; i < 20; i++ {
		if out, err := c.invoke("spread", "1", `{"sleep_ms":1}`); err != nil || out.FunctionError != nil {
			t.Fatalf("invoke %d after the replacement: %v %+v", i, err, out)
		}
	}
	m := scrapeMetrics(t, c.p.Endpoint+"/metrics")
	if v := m.value("paddock_instances_lost_total", nil); v != 1 {
		t.Errorf("paddock_instances_lost_total %v, want 1", v)
	}
	if v := m.value("paddock_leader", nil); v != 1 {
		t.Errorf("paddock_leader %v on the only server, want 1", v)
	}
	if v := m.value("paddock_hop_errors_total", map[string]string{"kind": "broken"}); v != float64(failed.Load()) {
		t.Errorf("paddock_hop_errors_total{kind=broken} %v, want the %d invokes that failed", v, failed.Load())
	}
	if v := m.value("paddock_cluster_hosts", map[string]string{"state": "silent"}); v != 1 {
		t.Errorf("paddock_cluster_hosts{state=silent} %v, want the dead host", v)
	}
	if !strings.HasPrefix(c.p.EngineURL, "nats://") {
		t.Errorf("engine URL %q", c.p.EngineURL)
	}
}

// routedEEs is the EEs the server routes invokes to, summed over hosts.
func (c *cluster) routedEEs() int {
	n := 0
	for _, h := range c.p.Static.Hosts() {
		n += h.Routed
	}
	return n
}

// TestClusterPartitionedAgent: an agent whose link goes down loses its
// lease: the server stops routing to it, and its EEs start on the spare
// host. When the link comes back the agent finds its EEs unassigned and
// stops them: at no time are more EEs routed than the version's maximum.
func TestClusterPartitionedAgent(t *testing.T) {
	c := startCluster(t, 4)
	cp := c.capacityProvider("cp-part")
	c.function("part", cp, fnOpts{})
	c.scale("part", "$LATEST.PUBLISHED", 3, 3)
	if v, st := c.publish("part"); st != types.StateActive {
		t.Fatalf("version %s is %s, want Active", v, st)
	}
	victim := -1
	bound := c.boundHosts()
	for i := range c.hosts {
		if _, ok := bound[hostID(i)]; ok {
			victim = i
			break
		}
	}
	cut := time.Now()
	if err := c.hosts[victim].Partition(true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the partitioned host's EEs replaced", func() bool {
		b := c.boundHosts()
		_, stillBound := b[hostID(victim)]
		return !stillBound && len(b) == 3 && readyEEs(c.env, "part:1") == 3 && c.routedEEs() == 3
	})
	t.Logf("host %s cut off: EEs replaced in %v", hostID(victim), time.Since(cut))
	for i := 0; i < 10; i++ {
		if out, err := c.invoke("part", "1", `{}`); err != nil || out.FunctionError != nil {
			t.Fatalf("invoke %d during the partition: %v", i, err)
		}
	}

	healed := time.Now()
	if err := c.hosts[victim].Partition(false); err != nil {
		t.Fatal(err)
	}
	most := 0
	var rejoined time.Duration
	for time.Since(healed) < 15*time.Second {
		most = max(most, c.routedEEs())
		var h *fleet.HostStatus
		for _, hs := range c.p.Static.Hosts() {
			if hs.ID == hostID(victim) {
				h = &hs
			}
		}
		if h != nil && time.Since(h.LastBeat) < time.Second && h.EEs == 0 {
			rejoined = time.Since(healed)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rejoined == 0 {
		t.Fatalf("the healed host did not come back without EEs within 15s: %+v", c.p.Static.Hosts())
	}
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		most = max(most, c.routedEEs())
	}
	t.Logf("link back: the agent rejoined with its stale EEs stopped in %v; at most %d EEs routed", rejoined, most)
	if most > 3 {
		t.Errorf("%d EEs routed at once after the partition healed, want at most the version's 3", most)
	}
	for i := 0; i < 10; i++ {
		if out, err := c.invoke("part", "1", `{}`); err != nil || out.FunctionError != nil {
			t.Fatalf("invoke %d after the partition: %v", i, err)
		}
	}
}

// TestClusterRevokedJoinToken: an agent that joins with a token made by
// `paddock token create` is shut out by `paddock token revoke`: the agent
// ends with an error that says so, the servers stop routing to it, it
// cannot join again, and agents of other tokens carry on.
func TestClusterRevokedJoinToken(t *testing.T) {
	c := startCluster(t, 2)
	keys := []string{"AWS_ACCESS_KEY_ID=" + c.p.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + c.p.SecretAccessKey, "PADDOCK_ENDPOINT=" + c.p.Endpoint}
	token, stderr, err := runPaddock(t, c.bin, keys, "token", "create", "--description", "rack 7")
	if err != nil {
		t.Fatalf("paddock token create: %v\n%s", err, stderr)
	}
	token = strings.TrimSpace(token)
	id, _, ok := strings.Cut(token, ".")
	if !ok || !strings.Contains(stderr, id) {
		t.Fatalf("paddock token create printed %q (stderr %q)", token, stderr)
	}
	// Agent 1 comes back with the new token (same data dir: the same key).
	c.mu.Lock()
	cmd, exited := c.agents[1], c.exited[1]
	delete(c.agents, 1)
	c.mu.Unlock()
	cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
	<-exited
	c.startAgentWith(1, token)
	fresh := func(id string) bool {
		for _, h := range c.p.Static.Hosts() {
			if h.ID == id {
				return time.Since(h.LastBeat) < fleet.HeartbeatTimeout
			}
		}
		return false
	}
	waitFor(t, "agent 1 to rejoin with the new token", func() bool { return fresh(hostID(1)) })

	list, stderr, err := runPaddock(t, c.bin, keys, "token", "list")
	if err != nil || !strings.Contains(list, "bootstrap") || !strings.Contains(list, id) || !strings.Contains(list, "rack 7") || strings.Contains(list, "revoked") {
		t.Fatalf("paddock token list = %q, %v (%s)", list, err, stderr)
	}
	if strings.Contains(list, token) {
		t.Fatalf("paddock token list shows a token's secret: %q", list)
	}

	revokedAt := time.Now()
	if out, stderr, err := runPaddock(t, c.bin, keys, "token", "revoke", id); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("paddock token revoke = %q, %v (%s)", out, err, stderr)
	}
	c.mu.Lock()
	exited = c.exited[1]
	c.mu.Unlock()
	select {
	case err := <-exited:
		if err == nil {
			t.Error("the shut-out agent exited 0")
		}
		c.mu.Lock()
		delete(c.agents, 1)
		c.mu.Unlock()
	case <-time.After(10 * time.Second):
		t.Fatal("the agent of a revoked token still runs 10s after the revocation")
	}
	t.Logf("agent shut out %v after the revocation", time.Since(revokedAt).Round(time.Millisecond))
	log, _ := os.ReadFile(c.logs[1])
	if !strings.Contains(string(log), "revoked") {
		t.Errorf("the agent's log does not say why it ended:\n%s", log)
	}
	waitFor(t, "the servers to stop counting on host 1", func() bool { return !fresh(hostID(1)) })
	if !fresh(hostID(0)) {
		t.Error("the agent of the bootstrap token stopped beating")
	}
	if out, _, err := runPaddock(t, c.bin, keys, "token", "list"); err != nil || !strings.Contains(out, "revoked") {
		t.Errorf("paddock token list after the revocation = %q, %v", out, err)
	}
	// Neither the revoked token nor another one lets it back in.
	for _, tok := range []string{token, joinToken} {
		c.startAgentWith(1, tok)
		c.mu.Lock()
		exited = c.exited[1]
		c.mu.Unlock()
		select {
		case err := <-exited:
			if err == nil {
				t.Error("a refused agent exited 0")
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("an agent bound to a revoked token joined again (token %.8s...)", tok)
		}
		c.mu.Lock()
		delete(c.agents, 1)
		c.mu.Unlock()
	}
	if out, _ := os.ReadFile(c.logs[1]); !strings.Contains(string(out), "refused") {
		t.Errorf("a refused agent's log does not say so:\n%s", out)
	}
	if _, stderr, err := runPaddock(t, c.bin, keys, "token", "revoke", "jt-nosuch"); err == nil || !strings.Contains(stderr, "ResourceNotFoundException") {
		t.Errorf("revoking an unknown token: %v, %s", err, stderr)
	}

	// Forgetting the host lets it in again: its records go from every
	// server, and its id is free for an agent to bind. A host that beats,
	// or that nothing knows, is refused.
	for _, tc := range []struct{ host, want string }{
		{hostID(0), "ResourceConflictException"},
		{"h-nosuch", "ResourceNotFoundException"},
	} {
		if _, stderr, err := runPaddock(t, c.bin, keys, "host", "forget", tc.host); err == nil || !strings.Contains(stderr, tc.want) {
			t.Errorf("paddock host forget %s: %v, %s (want %s)", tc.host, err, stderr, tc.want)
		}
	}
	// On the wire: AWS's error shape, status and type, and a message that says what to do.
	for _, tc := range []struct {
		host, typ, msg string
		status         int
	}{
		{hostID(0), "ResourceConflictException", "Host " + hostID(0) + " is joined and its agent beats: stop the agent before the servers forget the host.", 409},
		{"h-nosuch", "ResourceNotFoundException", "Host not found: h-nosuch", 404},
	} {
		resp := c.env.signedDo("DELETE", "/paddock/v1/hosts/"+tc.host, "")
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct{ Message string }
		json.Unmarshal(body, &e) //nolint:errcheck // checked below
		if resp.StatusCode != tc.status || resp.Header.Get("X-Amzn-ErrorType") != tc.typ || e.Message != tc.msg {
			t.Errorf("DELETE /paddock/v1/hosts/%s = %d %s %s, want %d %s %q", tc.host, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body, tc.status, tc.typ, tc.msg)
		}
	}
	if out, stderr, err := runPaddock(t, c.bin, keys, "host", "forget", hostID(1)); err != nil || !strings.Contains(out, "forgotten") {
		t.Fatalf("paddock host forget %s = %q, %v (%s)", hostID(1), out, err, stderr)
	}
	known := func(id string) bool {
		for _, h := range c.p.Static.Hosts() {
			if h.ID == id {
				return true
			}
		}
		return false
	}
	waitFor(t, "the servers to forget host 1", func() bool { return !known(hostID(1)) })
	c.startAgentWith(1, joinToken)
	waitFor(t, "the forgotten host to join again with the bootstrap token", func() bool { return fresh(hostID(1)) })
	if !fresh(hostID(0)) {
		t.Error("host 0 stopped beating while host 1 was forgotten")
	}
}

// TestClusterFunctionLogs: what an EE on an agent prints reaches the log
// stream (the agent sends it to the servers, which write it for the
// functions the host runs) with the invoke's platform lines, and
// `paddock logs` shows it, as for an EE of the server's own.
func TestClusterFunctionLogs(t *testing.T) {
	c := startCluster(t, 1)
	cp := c.capacityProvider("cp-logs")
	c.function("chatter", cp, fnOpts{example: "echo"})
	c.scale("chatter", "$LATEST.PUBLISHED", 1, 1)
	if v, st := c.publish("chatter"); st != types.StateActive {
		t.Fatalf("version %s is %s, want Active", v, st)
	}
	out, err := c.lambda.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("chatter"), Qualifier: aws.String("1"),
		Payload: []byte(`{"print":"hello from another host"}`)})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("invoke: %v %v", err, out)
	}
	id := requestID(t, out.ResultMetadata)
	// LogType Tail: the agent sends the EE's lines back with the answer.
	tailed, err := c.lambda.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("chatter"), Qualifier: aws.String("1"),
		LogType: types.LogTypeTail, Payload: []byte(`{"print":"tail from another host"}`)})
	if err != nil || tailed.FunctionError != nil {
		t.Fatalf("invoke with LogType Tail: %v %v", err, tailed)
	}
	tail, err := base64.StdEncoding.DecodeString(aws.ToString(tailed.LogResult))
	tid := requestID(t, tailed.ResultMetadata)
	if err != nil || !containsAll(string(tail), []string{"START RequestId: " + tid, "tail from another host", "END RequestId: " + tid, "REPORT RequestId: " + tid}) {
		t.Errorf("LogType Tail of a remote EE = %q, %v", tail, err)
	}
	keys := []string{"AWS_ACCESS_KEY_ID=" + c.p.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + c.p.SecretAccessKey}
	want := []string{id, "hello from another host", `"type":"platform.start"`, `"type":"platform.report"`}
	shown := waitOutput(t, "paddock logs to show the remote EE's lines", func() (string, bool) {
		o, stderr, err := runPaddock(t, c.bin, keys, "logs", "chatter", "--endpoint", c.p.Endpoint)
		if err != nil {
			t.Fatalf("paddock logs: %v\n%s", err, stderr)
		}
		return o, containsAll(o, want)
	})
	t.Logf("paddock logs chatter:\n%s", shown)
	for _, line := range strings.Split(strings.TrimSpace(shown), "\n") {
		if strings.Contains(line, "hello from another host") && !strings.Contains(line, id) {
			t.Errorf("the function's line is not attributed to its invoke %s: %s", id, line)
		}
	}

	// The agent's own credentials (its key, in its data dir) may write the
	// logs of what its host runs, and nothing else.
	key, err := joinauth.LoadKey(filepath.Join(c.dirs[0], "agent.nk"))
	if err != nil {
		t.Fatal(err)
	}
	auth, _ := joinauth.ConnectOptions(hostID(0), c.token, key)
	nc, err := nats.Connect(c.p.EngineURL, auth...)
	if err != nil {
		t.Fatalf("connect with the agent's credentials: %v", err)
	}
	defer nc.Close()
	batch := []byte(`{"time":"2026-12-01T00:00:00Z","message":"forged"}` + "\n")
	send := func(host, function string) error {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return logs.RelayTo(nc, host)(c, function, batch)
	}
	if err := send(hostID(0), "chatter"); err != nil {
		t.Errorf("logs of a function the host runs: %v", err)
	}
	if err := send(hostID(0), "someone-else"); err == nil || !strings.Contains(err.Error(), "runs no EE") {
		t.Errorf("logs of a function the host does not run: %v, want refused", err)
	}
	if err := send("h-other", "chatter"); err == nil {
		t.Error("an agent sent logs as another host")
	}
}

// TestClusterStreamsAcrossHosts: InvokeWithResponseStream of a function
// whose EE runs on an agent on another host: the hop carries the answer
// as the function writes it (the first part reaches the SDK before the
// second is written), and a stream that fails midway ends with its error.
func TestClusterStreamsAcrossHosts(t *testing.T) {
	c := startCluster(t, 1)
	cp := c.capacityProvider("cp-stream")
	in := createInput(t, "remote-streamer", cp, fnOpts{timeout: 10})
	in.Code.ZipFile = testdataZip(t, "streamer")
	if _, err := c.lambda.CreateFunction(ctx(t), in); err != nil {
		t.Fatal(err)
	}
	c.scale("remote-streamer", "$LATEST.PUBLISHED", 1, 1)
	if v, st := c.publish("remote-streamer"); st != types.StateActive {
		t.Fatalf("version %s is %s, want Active", v, st)
	}
	chunks, complete, _ := streamInvoke(t, c.lambda, "remote-streamer", "1", `{}`, "")
	checkStreamed(t, chunks)
	if complete.ErrorCode != nil {
		t.Errorf("InvokeComplete of a success: %+v", complete)
	}
	chunks, complete, _ = streamInvoke(t, c.lambda, "remote-streamer", "1", `{"fail":true}`, "")
	if len(chunks) != 1 || !strings.HasPrefix(chunks[0].text, "part 1") || aws.ToString(complete.ErrorDetails) != "failed while streaming" {
		t.Errorf("a failing stream across the hop: %+v, %q %q", chunks, aws.ToString(complete.ErrorCode), aws.ToString(complete.ErrorDetails))
	}
}
