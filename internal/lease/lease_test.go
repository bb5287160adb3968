package lease

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/store"
)

// candidates runs n electors for one role on an embedded engine and
// records which one leads, failing the test if two ever lead at once.
type candidates struct {
	t       *testing.T
	leading atomic.Int32
	mu      sync.Mutex
	leader  string
	changes []string
	stops   []context.CancelFunc
	done    []chan struct{}
}

func (c *candidates) current() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader
}

func (c *candidates) waitLeader(not string, within time.Duration) (string, time.Duration) {
	c.t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if l := c.current(); l != "" && l != not {
			return l, time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatalf("no leader other than %q within %v (changes %v)", not, within, c.changes)
	return "", 0
}

func start(t *testing.T, n int, ttl time.Duration, keep bool) *candidates {
	ctx := context.Background()
	st, err := store.OpenEmbedded(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	kv, err := Bucket(ctx, st.JetStream(), "paddock-leases", ttl)
	if err != nil {
		t.Fatal(err)
	}
	c := &candidates{t: t}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("server-%d", i)
		e := &Elector{KV: kv, Key: "scaler", ID: id, TTL: ttl, KeepOnStop: keep}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		c.stops, c.done = append(c.stops, stop), append(c.done, done)
		go func() {
			defer close(done)
			e.Run(runCtx, func(ctx context.Context) {
				if c.leading.Add(1) > 1 {
					t.Errorf("%s leads while another does", id)
				}
				c.mu.Lock()
				c.leader, c.changes = id, append(c.changes, id)
				c.mu.Unlock()
				<-ctx.Done()
				c.mu.Lock()
				if c.leader == id {
					c.leader = ""
				}
				c.mu.Unlock()
				c.leading.Add(-1)
			})
		}()
	}
	t.Cleanup(func() {
		for i := range c.stops {
			c.stops[i]()
			<-c.done[i]
		}
	})
	return c
}

func (c *candidates) stop(id string) {
	var i int
	fmt.Sscanf(id, "server-%d", &i) //nolint:errcheck
	c.stops[i]()
	<-c.done[i]
}

// TestOneLeaderAndHandover: of three candidates one leads, and keeps the
// role while it renews; a clean stop hands the role over at once; never
// two lead at once.
func TestOneLeaderAndHandover(t *testing.T) {
	const ttl = time.Second
	c := start(t, 3, ttl, false)
	first, _ := c.waitLeader("", 5*time.Second)
	time.Sleep(2 * ttl) // renewals keep it
	if l := c.current(); l != first {
		t.Fatalf("leader moved from %s to %q without a failure", first, l)
	}
	c.stop(first)
	second, took := c.waitLeader(first, 5*time.Second)
	if took > ttl {
		t.Errorf("clean handover took %v, want well under the TTL (%v): the key is deleted on stop", took, ttl)
	}
	t.Logf("clean handover %s -> %s in %v", first, second, took)
}

// TestCrashedHolderLosesTheRole: a holder that stops without releasing
// (its key left behind, as after kill -9) loses the role once its lease
// expires, about a TTL later, and not before.
func TestCrashedHolderLosesTheRole(t *testing.T) {
	const ttl = time.Second
	c := start(t, 2, ttl, true)
	first, _ := c.waitLeader("", 5*time.Second)
	c.stop(first) // leaves its key, as kill -9 would
	second, took := c.waitLeader(first, 5*ttl)
	if took < ttl/2 {
		t.Errorf("%s took the role after %v, before the crashed holder's lease could expire", second, took)
	}
	t.Logf("takeover after a crash %s -> %s in %v (TTL %v)", first, second, took, ttl)
}
