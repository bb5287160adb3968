package bench

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/platform"
)

// TestAsyncBenchmark measures asynchronous invokes (InvocationType Event)
// of the echo function beside synchronous ones of the same function, same
// deployment, same run: how many events per second the API accepts (each
// stored on the engine before its 202) at c=64, how fast the workers
// deliver them, and the end-to-end latency of one event at a time (from
// sending the invoke to the workers counting it delivered). It prints and
// asserts nothing. Run it with bench/async.sh.
func TestAsyncBenchmark(t *testing.T) {
	if os.Getenv("PADDOCK_BENCH") != "1" {
		t.Skip("set PADDOCK_BENCH=1 (or run bench/async.sh) to run the asynchronous invoke benchmark")
	}
	duration, warmup, _ := settings(t)
	report(t, "machine: %d CPUs (GOMAXPROCS %d), %s %s/%s; %s per cell after %s warm-up",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, duration, warmup)
	ctx := t.Context()
	p, err := platform.Start(ctx, platform.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	sync, err := deployEcho(ctx, t, p, "paddock", buildEcho(t))
	if err != nil {
		t.Fatal(err)
	}
	event := *sync
	event.header = func() (http.Header, error) {
		h, err := sync.header()
		if err != nil {
			return nil, err
		}
		// Not among the signed headers: Paddock, like AWS, checks only
		// those the signature names.
		h.Set("X-Amz-Invocation-Type", "Event")
		return h, nil
	}
	const conc = 64
	ld := startLoader(t)
	sh, err := sync.header()
	if err != nil {
		t.Fatal(err)
	}
	syncLoad := Load{URL: sync.url, Header: sh, Payload: payload, Concurrency: conc, Duration: warmup}
	ld.run("sync", syncLoad)
	syncLoad.Duration = duration
	syncSample := ld.run("sync", syncLoad)
	syncRes := syncSample.Result()

	eh, err := event.header()
	if err != nil {
		t.Fatal(err)
	}
	// The first event, and those timed one at a time below, are sent from
	// this process: single requests, not load.
	eventDo := EventPoster(http.DefaultClient, event.url, eh, payload)
	if err := eventDo(); err != nil {
		t.Fatalf("first event: %v", err)
	}
	waitDelivered(t, p, p.AsyncCounts().Received)

	before := p.AsyncCounts()
	start := time.Now()
	accSample := ld.run("event", Load{URL: event.url, Header: eh, Payload: payload, Event: true, Concurrency: conc, Duration: duration})
	acc := accSample.Result()
	accepted := p.AsyncCounts().Received - before.Received
	done := waitDelivered(t, p, before.Delivered+accepted)
	deliveredRate := float64(accepted) / done.Sub(start).Seconds()

	// One event at a time: from the invoke's send to the workers' count.
	var lat []time.Duration
	for range 200 {
		n := p.AsyncCounts().Delivered
		t0 := time.Now()
		if err := eventDo(); err != nil {
			t.Fatalf("event: %v", err)
		}
		for p.AsyncCounts().Delivered == n {
			time.Sleep(100 * time.Microsecond)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)

	var sb strings.Builder
	fmt.Fprintf(&sb, "%-34s %10s %10s %10s\n", "path (echo, 1 EE x 64, c=64)", "per s", "p50", "p99")
	fmt.Fprintf(&sb, "%-34s %10.0f %10s %10s\n", "sync invokes (200 answered)", syncRes.Throughput, round(syncRes.P50), round(syncRes.P99))
	fmt.Fprintf(&sb, "%-34s %10.0f %10s %10s\n", "async events accepted (202)", acc.Throughput, round(acc.P50), round(acc.P99))
	fmt.Fprintf(&sb, "%-34s %10.0f %10s %10s\n", "async events delivered", deliveredRate, "-", "-")
	fmt.Fprintf(&sb, "%-34s %10s %10s %10s\n", "async end to end, one at a time", "-", round(percentile(lat, 0.5)), round(percentile(lat, 0.99)))
	fmt.Fprintf(&sb, "\n%d events accepted in %s, all delivered %s after the first; errors: sync %d, async %d\n",
		accepted, duration, round(done.Sub(start)), syncRes.Errors, acc.Errors)
	report(t, "\n%s", sb.String())
}

// waitDelivered waits until the platform's workers have delivered n events
// in all, and returns when they had.
func waitDelivered(t *testing.T, p *platform.Platform, n uint64) time.Time {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for p.AsyncCounts().Delivered < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events delivered in 5 min", p.AsyncCounts().Delivered, n)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Now()
}
