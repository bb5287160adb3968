package store

import (
	"context"
	"fmt"
	"net"
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

// testCluster is three embedded nodes on loopback.
type testCluster struct {
	dirs   []string
	cfgs   []Listen
	stores []*Store
	routes []string
}

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
			// Every node gets the same peer list, itself included.
			Cluster: Cluster{Addr: "127.0.0.1:" + strconv.Itoa(ports[3+i]), Peers: c.routes, JoinTimeout: 20 * time.Second},
		})
	}
	c.stores = make([]*Store, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { c.stores[i], errs[i] = OpenEmbeddedListening(t.Context(), c.dirs[i], c.cfgs[i]) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	t.Cleanup(func() {
		for _, s := range c.stores {
			if s != nil {
				s.Close()
			}
		}
	})
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
		for i, s := range c.stores {
			if s.Replicas() != 3 {
				t.Fatalf("node %d: Replicas() = %d, want 3", i, s.Replicas())
			}
			for _, b := range []string{"KV_" + configBucket, "KV_" + stateBucket, "OBJ_" + codeBucket} {
				st, err := s.js.Stream(ctx, b)
				if err != nil {
					t.Fatal(err)
				}
				if st.CachedInfo().Config.Replicas != 3 {
					t.Fatalf("%s has %d replicas, want 3", b, st.CachedInfo().Config.Replicas)
				}
			}
		}
		if _, err := c.stores[1].Meters(ctx, time.Hour); err != nil {
			t.Fatal(err)
		}
		if st, err := c.stores[2].js.Stream(ctx, "KV_"+metersBucket); err != nil || st.CachedInfo().Config.Replicas != 3 {
			t.Fatalf("meters bucket: %v, want 3 replicas", err)
		}
		if _, err := c.stores[0].Config.Put(ctx, "fn.a", record{42}); err != nil {
			t.Fatal(err)
		}
		if err := c.stores[0].PutCode(ctx, "abc", []byte("zip")); err != nil {
			t.Fatal(err)
		}
		for _, s := range c.stores[1:] {
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
		var urls []string
		for _, s := range c.stores {
			urls = append(urls, s.ClientURL())
		}
		s, err := Connect(ctx, strings.Join(urls, ","), 3, nats.UserInfo(AgentUser, testToken))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var got record
		if _, err := s.Config.Get(ctx, "fn.a", &got); err != nil || got.N != 42 {
			t.Fatalf("fn.a over Connect = %+v, %v", got, err)
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
		for _, s := range c.stores {
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
	st, err := c.stores[0].js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	leader := st.CachedInfo().Cluster.Leader
	victim := -1
	for i, s := range c.stores {
		if s.NodeName() == leader {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatalf("leader %q is none of the nodes", leader)
	}
	w, r := c.stores[(victim+1)%3], c.stores[(victim+2)%3]

	type ack struct {
		n  int
		at time.Time
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
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := w.State.Put(wctx, "w."+strconv.Itoa(n), record{n})
			cancel()
			mu.Lock()
			if err == nil {
				acks = append(acks, ack{n, time.Now()})
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

	time.Sleep(500 * time.Millisecond)
	killedAt := time.Now()
	before := acked()
	c.stores[victim].server.Shutdown() // what kill -9 looks like to the others: routes drop, no handover
	c.stores[victim].server.WaitForShutdown()
	c.stores[victim].nc.Close()
	c.stores[victim] = nil

	// Writes resume, then run a second more.
	deadline := time.Now().Add(15 * time.Second)
	for acked() <= before {
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
	eventually(t, 2*time.Second, func() error { return checkAll(r) })
	eventually(t, 2*time.Second, func() error { return checkAll(w) })

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
		{"alone", nil, 1, 0},
		{"two", []string{"nats://10.0.0.2:6222"}, 1, 1},
		{"three", []string{"nats://10.0.0.2:6222", "nats://10.0.0.3:6222"}, 3, 2},
		{"three listing itself", []string{"nats://10.0.0.1:6222", "nats://10.0.0.2:6222", "nats://10.0.0.3:6222"}, 3, 2},
		{"duplicates", []string{"nats://10.0.0.2:6222", "nats://10.0.0.2:6222"}, 1, 1},
		{"five", []string{"nats://a:6222", "nats://b:6222", "nats://c:6222", "nats://d:6222"}, 3, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := &server.Options{}
			peers, replicas, err := configureCluster(opts, t.TempDir(), testToken, Cluster{Addr: "10.0.0.1:6222", Peers: tc.peers, NodeName: "n1"})
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
