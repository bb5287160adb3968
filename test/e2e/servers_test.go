package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/paddockhq/paddock/internal/lambdaapi"
	"github.com/paddockhq/paddock/internal/testhost"
)

const (
	testKey    = "AKIDPADDOCKTEST"
	testSecret = "paddock-test-secret"
)

// serverProc is one `paddock server` process of a cluster of servers.
type serverProc struct {
	i       int
	api     string // http://127.0.0.1:port
	engine  string // nats://gateway:port, where agents join
	route   string // nats://127.0.0.1:port
	dataDir string
	logPath string
	lambda  *lambda.Client

	cmd    *exec.Cmd
	exited <-chan error
}

// servers is a cluster of Paddock servers, each a process with an engine
// node of its own (R3), and agents on test hosts of their own.
type servers struct {
	t     *testing.T
	bin   string
	srv   []*serverProc
	hosts []*testhost.Host
	ag    *cluster // agents only: its env is unused

	lastErr atomic.Value // of the last status request that failed
}

func freePort(t *testing.T, host string) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startServers(t *testing.T, n, agents int) *servers {
	t.Helper()
	hosts := make([]*testhost.Host, agents)
	for i := range hosts {
		hosts[i] = testhost.New(t)
	}
	s := &servers{t: t, bin: paddockBinary(t), hosts: hosts}
	gw := hosts[0].Gateway.String()
	var routes []string
	for i := 0; i < n; i++ {
		sp := &serverProc{i: i, dataDir: t.TempDir(), logPath: filepath.Join(t.TempDir(), "server.log")}
		sp.api = fmt.Sprintf("http://127.0.0.1:%d", freePort(t, "127.0.0.1"))
		sp.engine = fmt.Sprintf("nats://%s:%d", gw, freePort(t, gw))
		sp.route = fmt.Sprintf("nats://127.0.0.1:%d", freePort(t, "127.0.0.1"))
		sp.lambda = client(sp.api, testKey, testSecret)
		routes = append(routes, sp.route)
		s.srv = append(s.srv, sp)
	}
	for _, sp := range s.srv {
		s.start(sp, routes)
	}
	t.Cleanup(func() {
		for _, sp := range s.srv {
			s.stop(sp)
		}
		if t.Failed() {
			for _, sp := range s.srv {
				b, _ := os.ReadFile(sp.logPath)
				t.Logf("server %d log (last 6 KB):\n%s", sp.i, tail6k(b))
			}
		}
	})
	for _, sp := range s.srv {
		seen := 0
		waitForLong(t, fmt.Sprintf("server %d to see %d servers and a leader", sp.i, n), 60*time.Second, func() bool {
			c, ok := s.status(sp)
			if !ok || c.Leader == "" || len(c.Servers) != n {
				if seen++; seen%50 == 0 {
					t.Logf("server %d answers %v: %+v (last error: %v)", sp.i, ok, c, s.lastErr.Load())
				}
				return false
			}
			return true
		})
	}
	var engines []string
	for _, sp := range s.srv {
		engines = append(engines, sp.engine)
	}
	s.ag = &cluster{t: t, bin: s.bin, token: joinToken, hosts: hosts, agents: map[int]*exec.Cmd{}, exited: map[int]<-chan error{}, logs: map[int]string{},
		env: &env{t: t, p: nil}}
	s.ag.join = strings.Join(engines, ",")
	t.Cleanup(func() {
		s.ag.stopAll()
		if t.Failed() {
			s.ag.dumpLogs()
		}
	})
	for i := range hosts {
		s.ag.startAgent(i)
	}
	for _, sp := range s.srv {
		waitForLong(t, fmt.Sprintf("server %d to see %d hosts", sp.i, agents), 30*time.Second, func() bool {
			c, ok := s.status(sp)
			return ok && len(c.Hosts) == agents
		})
	}
	return s
}

func tail6k(b []byte) []byte {
	if len(b) > 6<<10 {
		return b[len(b)-6<<10:]
	}
	return b
}

func (s *servers) start(sp *serverProc, routes []string) {
	s.t.Helper()
	logFile, err := os.OpenFile(sp.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	engineAddr := strings.TrimPrefix(sp.engine, "nats://")
	cmd := exec.Command(s.bin, "server", "--listen", strings.TrimPrefix(sp.api, "http://"), "--engine-listen", engineAddr,
		"--cluster-listen", strings.TrimPrefix(sp.route, "nats://"), "--cluster-peers", strings.Join(routes, ","),
		"--node-name", "node-"+strconv.Itoa(sp.i), "--data-dir", sp.dataDir, "--join-token", joinToken,
		"--access-key-id", testKey, "--secret-access-key", testSecret, "--cluster-secret", "test-cluster-secret")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start server %d: %v", sp.i, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logFile.Close() }()
	sp.cmd, sp.exited = cmd, exited
}

// kill ends server sp with SIGKILL.
func (s *servers) kill(sp *serverProc) {
	if sp.cmd == nil {
		return
	}
	sp.cmd.Process.Kill() //nolint:errcheck
	<-sp.exited
	sp.cmd = nil
}

func (s *servers) stop(sp *serverProc) {
	if sp.cmd == nil {
		return
	}
	sp.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
	select {
	case <-sp.exited:
	case <-time.After(20 * time.Second):
		sp.cmd.Process.Kill() //nolint:errcheck
		<-sp.exited
	}
	sp.cmd = nil
}

// status reads GET /paddock/v1/status of sp; ok is false while it does
// not answer.
func (s *servers) status(sp *serverProc) (lambdaapi.ClusterStatus, bool) {
	full, ok := s.fullStatus(sp)
	if !ok || full.Cluster == nil {
		return lambdaapi.ClusterStatus{}, false
	}
	return *full.Cluster, true
}

func (s *servers) fullStatus(sp *serverProc) (lambdaapi.StatusResponse, bool) {
	var out lambdaapi.StatusResponse
	req, _ := http.NewRequest(http.MethodGet, sp.api+"/paddock/v1/status", nil)
	sum := sha256.Sum256(nil)
	creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now()); err != nil {
		return out, false
	}
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		s.lastErr.Store(err.Error())
		return out, false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil {
		s.lastErr.Store(fmt.Sprintf("%d %s", resp.StatusCode, body))
		return out, false
	}
	return out, true
}

// leader is the server that leads, as sp sees it.
func (s *servers) leader(sp *serverProc) *serverProc {
	c, ok := s.status(sp)
	if !ok {
		return nil
	}
	for _, o := range s.srv {
		if o.api == c.Leader {
			return o
		}
	}
	return nil
}

func waitForLong(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestServersSurviveTheirLeader: three servers (each with an engine node:
// every record on 3 of them) and three agents on test hosts of their own.
// A function deployed through a follower (which forwards the writes to
// the leader) is served by all three servers. Then the leader is killed
// (kill -9) during a stream of writes and invokes through the others:
// another server leads within 10 s and adopts the fleet without doubling
// or dropping EEs, every write that was acknowledged is there, invokes go
// on, and the killed server, restarted, catches up.
func TestServersSurviveTheirLeader(t *testing.T) {
	s := startServers(t, 3, 3)
	lead := s.leader(s.srv[0])
	if lead == nil {
		t.Fatal("no leader")
	}
	var follower *serverProc
	for _, sp := range s.srv {
		if sp != lead {
			follower = sp
			break
		}
	}
	e := &env{t: t, lambda: follower.lambda}
	cp := e.capacityProvider("cp-ha")
	e.function("ha", cp, fnOpts{example: "echo"})
	e.scale("ha", "$LATEST.PUBLISHED", 3, 3)
	if v, st := e.publish("ha"); st != types.StateActive {
		t.Fatalf("version %s is %s through a follower, want Active", v, st)
	}
	for _, sp := range s.srv {
		waitForLong(t, fmt.Sprintf("server %d to route the version", sp.i), 20*time.Second, func() bool {
			out, err := sp.lambda.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("ha"), Qualifier: aws.String("1"), Payload: []byte(`{"n":1}`)})
			return err == nil && out.FunctionError == nil && string(out.Payload) == `{"n":1}`
		})
	}
	eesBefore := countEEs(t, s, follower)
	if eesBefore != 3 {
		t.Fatalf("%d EEs before the fault, want 3", eesBefore)
	}

	var survivors []*serverProc
	for _, sp := range s.srv {
		if sp != lead {
			survivors = append(survivors, sp)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var acked sync.Map
	var writes, writeErrs, invokes, invokeErrs atomic.Int32
	var firstInvokeErr atomic.Value
	wg.Add(1)
	go func() { // writes through a survivor: aliases, each acknowledged or not
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			name := fmt.Sprintf("a%d", i)
			c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := survivors[i%2].lambda.CreateAlias(c, &lambda.CreateAliasInput{FunctionName: aws.String("ha"), Name: aws.String(name), FunctionVersion: aws.String("1")})
			cancel()
			writes.Add(1)
			if err == nil {
				acked.Store(name, true)
			} else {
				writeErrs.Add(1)
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				out, err := survivors[(w+i)%2].lambda.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("ha"), Qualifier: aws.String("1"), Payload: []byte(`{}`)})
				invokes.Add(1)
				if err != nil || out.FunctionError != nil {
					invokeErrs.Add(1)
					firstInvokeErr.CompareAndSwap(nil, fmt.Sprint(err))
				}
			}
		}()
	}
	time.Sleep(time.Second)
	killed := time.Now()
	s.kill(lead)
	var newLead *serverProc
	var took time.Duration
	waitForLong(t, "a new leader", 15*time.Second, func() bool {
		newLead = s.leader(survivors[0])
		if newLead == nil || newLead == lead {
			return false
		}
		// From when it says it began to lead: the status calls themselves
		// are slow while the engine elects new raft leaders.
		c, ok := s.status(newLead)
		if !ok || c.LeadingSince == nil {
			return false
		}
		took = c.LeadingSince.Sub(killed)
		return true
	})
	t.Logf("the new leader answered its status %v after the kill", time.Since(killed).Round(time.Millisecond))
	time.Sleep(3 * time.Second) // the new leader's scaler runs a few rounds
	close(stop)
	wg.Wait()
	t.Logf("leader killed: %s leads after %v; %d writes (%d failed, %d acknowledged), %d invokes (%d failed, first: %v)",
		newLead.api, took, writes.Load(), writeErrs.Load(), countMap(&acked), invokes.Load(), invokeErrs.Load(), firstInvokeErr.Load())
	if took > 10*time.Second {
		t.Errorf("a new leader after %v, want within 10s", took)
	}
	if invokeErrs.Load() > 0 {
		t.Errorf("%d invokes through the surviving servers failed (first: %v), want none: no EE was on the dead server", invokeErrs.Load(), firstInvokeErr.Load())
	}
	if n := countEEs(t, s, newLead); n != 3 {
		t.Errorf("%d EEs after the new leader took over, want the same 3 (none doubled or dropped)", n)
	}
	st, _ := s.fullStatus(newLead)
	for _, v := range st.Versions {
		if v.Key == "ha:1" && (v.Ready != 3 || v.Desired != 3) {
			t.Errorf("the new leader sees %+v, want 3 ready of 3", v)
		}
	}
	// Every acknowledged write is there through every server: at once
	// through the one that answered it (read-your-writes), within moments
	// through the others (they follow the leader's writes).
	checkAliases := func(sp *serverProc, within time.Duration) {
		t.Helper()
		var missing []string
		for deadline := time.Now().Add(within); ; {
			have := map[string]bool{}
			p := lambda.NewListAliasesPaginator(sp.lambda, &lambda.ListAliasesInput{FunctionName: aws.String("ha")})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx(t))
				if err != nil {
					t.Fatalf("ListAliases through server %d: %v", sp.i, err)
				}
				for _, a := range page.Aliases {
					have[aws.ToString(a.Name)] = true
				}
			}
			missing = missing[:0]
			acked.Range(func(k, _ any) bool {
				if !have[k.(string)] {
					missing = append(missing, k.(string))
				}
				return true
			})
			if len(missing) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(missing) > 0 {
			t.Errorf("acknowledged aliases %v missing through server %d", missing, sp.i)
		}
	}
	for _, sp := range survivors {
		checkAliases(sp, 5*time.Second)
	}

	// The killed server comes back on its data dir and catches up.
	var routes []string
	for _, sp := range s.srv {
		routes = append(routes, sp.route)
	}
	s.start(lead, routes)
	waitForLong(t, "the restarted server to rejoin", 60*time.Second, func() bool {
		c, ok := s.status(lead)
		return ok && c.Leader != "" && len(c.Servers) == 3
	})
	checkAliases(lead, 20*time.Second)
	if out, err := lead.lambda.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("ha"), Qualifier: aws.String("1"), Payload: []byte(`{}`)}); err != nil || out.FunctionError != nil {
		t.Errorf("invoke through the restarted server: %v", err)
	}
}

func countMap(m *sync.Map) int {
	n := 0
	m.Range(func(_, _ any) bool { n++; return true })
	return n
}

// countEEs is the ready EEs of the hosts as sp routes them, once the sum holds
// steady for a second.
func countEEs(t *testing.T, s *servers, sp *serverProc) int {
	t.Helper()
	last := -1
	for i := 0; i < 50; i++ {
		c, ok := s.status(sp)
		if ok {
			n := 0
			for _, h := range c.Hosts {
				n += h.Routed
			}
			if n == last {
				return n
			}
			last = n
		}
		time.Sleep(time.Second)
	}
	return last
}
