package store

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// freePorts reserves n loopback ports and frees them for the servers; a
// restarted node reuses its own.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

const testToken = "join-token"

// testCluster is three embedded nodes on loopback. Node 0 runs in a child
// process so it can be killed with SIGKILL: server.Shutdown steps its raft
// leaders down first, which is a handover, not a crash.
type testCluster struct {
	dirs      []string
	cfgs      []Listen
	stores    []*Store // stores[0] is nil while node 0 is the child
	routes    []string
	child     *exec.Cmd
	childName string
	childURL  string
}

// nodeEnv carries a child node's dir and config to TestClusterNodeProcess.
const nodeEnv = "PADDOCK_STORE_TEST_NODE"

type childSpec struct {
	Dir    string
	Listen Listen
}

// TestClusterNodeProcess is node 0 of TestCluster when run as its child: it
// opens the node, says so, and runs until killed or until its parent's pipe
// closes.
func TestClusterNodeProcess(t *testing.T) {
	env := os.Getenv(nodeEnv)
	if env == "" {
		t.Skip("node 0 of TestCluster, run in a child process")
	}
	var c childSpec
	if err := json.Unmarshal([]byte(env), &c); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	s, err := OpenEmbeddedListening(context.Background(), c.Dir, c.Listen)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Printf("ready %s %d\n", s.NodeName(), s.Replicas())
	io.Copy(io.Discard, os.Stdin) //nolint:errcheck // EOF: the parent is gone
	os.Exit(0)
}

// startChild runs node 0 in a child process and returns once it opened the
// buckets (or failed to).
func (c *testCluster) startChild(t *testing.T) func() error {
	spec, err := json.Marshal(childSpec{c.dirs[0], c.cfgs[0]})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestClusterNodeProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), nodeEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.child = cmd
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill() //nolint:errcheck // may be dead already
		cmd.Wait()         //nolint:errcheck // killed
	})
	return func() error {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 3 && f[0] == "ready":
				c.childName = f[1]
				if f[2] != "3" {
					return fmt.Errorf("child node: Replicas() = %s, want 3", f[2])
				}
				go io.Copy(io.Discard, out) //nolint:errcheck // drain the rest
				return nil
			case len(f) > 0 && f[0] == "error":
				return errors.New("child node: " + sc.Text())
			}
		}
		return errors.New("child node exited before it was ready")
	}
}

// toolUser is a client with full access, as an operator's tool would be.
var toolUser = &server.User{Username: "tool", Password: "tool-" + testToken}

func startCluster(t *testing.T) *testCluster {
	t.Helper()
	ports := freePorts(t, 6)
	c := &testCluster{}
	for i := range 3 {
		c.routes = append(c.routes, "nats://127.0.0.1:"+strconv.Itoa(ports[3+i]))
	}
	for i := range 3 {
		c.dirs = append(c.dirs, t.TempDir())
		c.cfgs = append(c.cfgs, Listen{
			Addr:      "127.0.0.1:" + strconv.Itoa(ports[i]),
			JoinToken: testToken,
			Users:     []*server.User{toolUser},
			// Every node gets the same peer list, itself included.
			Cluster: Cluster{Addr: "127.0.0.1:" + strconv.Itoa(ports[3+i]), Peers: c.routes, JoinTimeout: 20 * time.Second},
		})
	}
	c.childURL = "nats://" + c.cfgs[0].Addr
	c.stores = make([]*Store, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	ready := c.startChild(t)
	wg.Go(func() { errs[0] = ready() })
	for i := 1; i < 3; i++ {
		wg.Go(func() { c.stores[i], errs[i] = OpenEmbeddedListening(t.Context(), c.dirs[i], c.cfgs[i]) })
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, s := range c.stores {
			if s != nil {
				s.Close()
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	return c
}

// eventually retries f for up to d: a follower applies a write a moment
// after the quorum acknowledged it.
func eventually(t *testing.T, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// localLastSeq is the last sequence of stream in the node's own replica,
// not whichever replica answers a read.
func localLastSeq(t *testing.T, ns *server.Server, stream string) uint64 {
	t.Helper()
	jsz, err := ns.Jsz(&server.JSzOptions{Accounts: true, Streams: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range jsz.AccountDetails {
		for _, st := range a.Streams {
			if st.Name == stream {
				return st.State.LastSeq
			}
		}
	}
	return 0
}

func TestCluster(t *testing.T) {
	start := time.Now()
	c := startCluster(t)
	t.Logf("3 nodes formed and opened the buckets in %v", time.Since(start).Round(time.Millisecond))
	ctx := t.Context()

	t.Run("replicated", func(t *testing.T) {
		for i, s := range c.stores[1:] {
			if s.Replicas() != 3 {
				t.Fatalf("node %d: Replicas() = %d, want 3", i+1, s.Replicas())
			}
		}
		if _, err := c.stores[2].Meters(ctx, time.Hour); err != nil {
			t.Fatal(err)
		}
		for _, b := range []string{"KV_" + configBucket, "KV_" + stateBucket, "OBJ_" + codeBucket, "KV_" + metersBucket} {
			st, err := c.stores[1].js.Stream(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			if n := st.CachedInfo().Config.Replicas; n != 3 {
				t.Fatalf("%s has %d replicas, want 3", b, n)
			}
		}
		if _, err := c.stores[1].Config.Put(ctx, "fn.a", record{42}); err != nil {
			t.Fatal(err)
		}
		if err := c.stores[1].PutCode(ctx, "abc", []byte("zip")); err != nil {
			t.Fatal(err)
		}
		// The child's buckets, through its own client port.
		child, err := Connect(ctx, c.childURL, 3, nats.UserInfo(toolUser.Username, toolUser.Password))
		if err != nil {
			t.Fatal(err)
		}
		defer child.Close()
		for _, s := range []*Store{c.stores[2], child} {
			eventually(t, 2*time.Second, func() error {
				var got record
				if _, err := s.Config.Get(ctx, "fn.a", &got); err != nil || got.N != 42 {
					return fmt.Errorf("node %s: fn.a = %+v, %v", s.NodeName(), got, err)
				}
				if b, err := s.GetCode(ctx, "abc"); err != nil || string(b) != "zip" {
					return fmt.Errorf("node %s: code = %q, %v", s.NodeName(), b, err)
				}
				return nil
			})
		}
	})

	t.Run("external connect", func(t *testing.T) {
		urls := []string{c.childURL}
		for _, s := range c.stores[1:] {
			urls = append(urls, s.ClientURL())
		}
		s, err := Connect(ctx, strings.Join(urls, ","), 3, nats.UserInfo(toolUser.Username, toolUser.Password))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var got record
		if _, err := s.Config.Get(ctx, "fn.a", &got); err != nil || got.N != 42 {
			t.Fatalf("fn.a over Connect = %+v, %v", got, err)
		}
		if s.Replicas() != 3 || s.NodeName() != "" {
			t.Fatalf("Connect: Replicas() %d, NodeName() %q", s.Replicas(), s.NodeName())
		}
	})

	t.Run("wrong secret cannot join", func(t *testing.T) {
		ports := freePorts(t, 2)
		l := Listen{
			Addr:      "127.0.0.1:" + strconv.Itoa(ports[0]),
			JoinToken: testToken,
			Cluster: Cluster{
				Addr: "127.0.0.1:" + strconv.Itoa(ports[1]), Peers: c.routes,
				Secret: "not the cluster's", NodeName: "intruder", JoinTimeout: 2 * time.Second,
			},
		}
		s, err := OpenEmbeddedListening(ctx, t.TempDir(), l)
		if err == nil {
			s.Close()
			t.Fatal("a node with the wrong route secret joined")
		}
		if !strings.Contains(err.Error(), "no route to") || !strings.Contains(err.Error(), strings.TrimPrefix(c.routes[0], "nats://")) {
			t.Fatalf("error does not name the peers: %v", err)
		}
		t.Logf("refused: %v", err)
		for _, s := range c.stores[1:] {
			rz, err := s.server.Routez(nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rz.Routes {
				if r.RemoteName == "intruder" {
					t.Fatalf("node %s has a route to the intruder", s.NodeName())
				}
			}
		}
	})

	t.Run("kill a node while writing", func(t *testing.T) { killWhileWriting(t, c) })
}

// killWhileWriting kills the state bucket's leader (the worst node to lose)
// while another node writes, then restarts it on its data dir.
func killWhileWriting(t *testing.T, c *testCluster) {
	ctx := t.Context()
	const stream = "KV_" + stateBucket
	victim := 0
	w, r := c.stores[1], c.stores[2]
	// The worst node to lose is the bucket's leader: move it to the child.
	eventually(t, 10*time.Second, func() error {
		st, err := r.js.Stream(ctx, stream)
		if err != nil {
			return err
		}
		if l := st.CachedInfo().Cluster.Leader; l == c.childName {
			return nil
		}
		req := fmt.Sprintf(`{"placement":{"preferred":%q}}`, c.childName)
		r.nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, []byte(req), time.Second) //nolint:errcheck // checked by the leader
		time.Sleep(200 * time.Millisecond)
		return fmt.Errorf("%s leader is not %s", stream, c.childName)
	})
	leader := c.childName

	type ack struct {
		n         int
		start, at time.Time
	}
	var (
		mu   sync.Mutex
		acks []ack
		errs int
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := w.State.Put(wctx, "w."+strconv.Itoa(n), record{n})
			cancel()
			mu.Lock()
			if err == nil {
				acks = append(acks, ack{n, start, time.Now()})
			} else {
				errs++
			}
			mu.Unlock()
			if err != nil {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	acked := func() int { mu.Lock(); defer mu.Unlock(); return len(acks) }
	// resumed reports whether a write begun after t was acknowledged: one
	// in flight at the kill may still be acknowledged by the dying leader.
	resumed := func(t time.Time) bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acks) > 0 && acks[len(acks)-1].start.After(t)
	}

	time.Sleep(500 * time.Millisecond)
	killedAt := time.Now()
	before := acked()
	if err := c.child.Process.Kill(); err != nil { // SIGKILL: no step-down, no goodbye
		t.Fatal(err)
	}
	c.child.Wait() //nolint:errcheck // killed

	// Writes resume, then run a second more.
	dead := time.Now()
	deadline := dead.Add(15 * time.Second)
	for !resumed(dead) {
		if time.Now().After(deadline) {
			t.Fatalf("no write acknowledged within 15s of the kill")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second)
	close(stop)
	<-done

	var pause time.Duration
	prev := killedAt
	for _, a := range acks {
		if a.at.After(killedAt) {
			if d := a.at.Sub(prev); d > pause {
				pause = d
			}
			prev = a.at
		}
	}
	t.Logf("killed %s (the %s leader) after %d writes; longest write pause after the kill %v (%d failed attempts); %d writes acknowledged in all",
		leader, stream, before, pause.Round(time.Millisecond), errs, len(acks))

	checkAll := func(s *Store) error {
		all, err := s.State.All(ctx, "w.>")
		if err != nil {
			return err
		}
		have := make(map[string]bool, len(all))
		for _, e := range all {
			have[e.Key] = true
		}
		for _, a := range acks {
			if !have["w."+strconv.Itoa(a.n)] {
				return fmt.Errorf("node %s lost acknowledged write w.%d", s.NodeName(), a.n)
			}
		}
		return nil
	}
	// A read needs a consumer, which the JetStream meta leader places: if
	// it was on the killed node, reads wait for its election (4-9 s).
	eventually(t, 20*time.Second, func() error { return checkAll(r) })
	eventually(t, 5*time.Second, func() error { return checkAll(w) })

	rinfo, err := r.js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	want := rinfo.CachedInfo().State.LastSeq
	restart := time.Now()
	s, err := OpenEmbeddedListening(ctx, c.dirs[victim], c.cfgs[victim])
	if err != nil {
		t.Fatalf("restart %s: %v", leader, err)
	}
	c.stores[victim] = s
	if s.NodeName() != leader {
		t.Fatalf("restarted as %q, want the persisted name %q", s.NodeName(), leader)
	}
	opened := time.Since(restart)
	eventually(t, 10*time.Second, func() error {
		if got := localLastSeq(t, s.server, stream); got < want {
			return fmt.Errorf("restarted node's replica at seq %d, want %d", got, want)
		}
		return nil
	})
	t.Logf("restarted %s: open %v, own replica caught up to seq %d after %v",
		leader, opened.Round(time.Millisecond), want, time.Since(restart).Round(time.Millisecond))
	eventually(t, 2*time.Second, func() error { return checkAll(s) })
}

func TestClusterConfig(t *testing.T) {
	for _, tc := range []struct {
		name     string
		peers    []string
		replicas int
		routes   int
	}{
		{"alone", nil, 0, 0},
		{"listing only itself", []string{"nats://10.0.0.1:6222"}, 0, 0},
		{"two", []string{"nats://10.0.0.2:6222"}, 1, 1},
		{"three", []string{"nats://10.0.0.2:6222", "nats://10.0.0.3:6222"}, 3, 2},
		{"three listing itself", []string{"nats://10.0.0.1:6222", "nats://10.0.0.2:6222", "nats://10.0.0.3:6222"}, 3, 2},
		{"duplicates", []string{"nats://10.0.0.2:6222", "nats://10.0.0.2:6222"}, 1, 1},
		{"five", []string{"nats://a:6222", "nats://b:6222", "nats://c:6222", "nats://d:6222"}, 3, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := &server.Options{}
			peers, replicas, err := configureCluster(opts, t.TempDir(), testToken, Cluster{Addr: "10.0.0.1:6222", Peers: tc.peers, NodeName: "n1"})
			if tc.replicas == 0 {
				if err == nil {
					t.Fatal("a cluster without another node configured")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if replicas != tc.replicas || len(peers) != tc.routes || len(opts.Routes) != tc.routes {
				t.Fatalf("replicas %d, peers %v; want %d and %d peers", replicas, peers, tc.replicas, tc.routes)
			}
			for _, u := range opts.Routes {
				if p, _ := u.User.Password(); p != deriveSecret(testToken) || p == testToken {
					t.Fatalf("route %s does not carry the derived secret", u.Host)
				}
			}
			if opts.Cluster.Name != "paddock" || opts.ServerName != "n1" {
				t.Fatalf("cluster %q node %q", opts.Cluster.Name, opts.ServerName)
			}
		})
	}
	dir := t.TempDir()
	a, err := persistedNodeName(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := persistedNodeName(dir); a != b || a == "" {
		t.Fatalf("node name %q then %q: not kept", a, b)
	}
	if _, _, err := configureCluster(&server.Options{}, dir, "", Cluster{Addr: "10.0.0.1:6222"}); err == nil {
		t.Fatal("a node without a secret or join token configured")
	}
}
