package pollers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/paddockhq/paddock/internal/async"
	"github.com/paddockhq/paddock/internal/natstest"
)

func TestNATSNakDelay(t *testing.T) {
	for _, tc := range []struct {
		deliveries uint64
		want       time.Duration
	}{
		{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second},
		{7, 60 * time.Second}, {1000, 60 * time.Second},
	} {
		if got := natsNakDelay(tc.deliveries); got != tc.want {
			t.Errorf("natsNakDelay(%d) = %s, want %s", tc.deliveries, got, tc.want)
		}
	}
}

// natsStream starts a NATS server with JetStream on loopback and a stream
// S of subjects s.> on it.
func natsStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	_, js := natstest.Start(t)
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
		t.Fatal(err)
	}
	return js
}

// A NATS mapping settles each batch by the function's outcome: a function
// error brings the whole batch back, a throttle is retried without
// bringing anything back, batchItemFailures bring back only the records
// they name, and the rest is acknowledged once; the consumer has nothing
// unacknowledged at the end.
func TestNATSPollerSettles(t *testing.T) {
	js := natsStream(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const total = 40
	for i := range total {
		if _, err := js.Publish(ctx, fmt.Sprintf("s.%02d", i), fmt.Appendf(nil, "m%02d", i)); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	deliveries := map[string][]uint64{} // data → the deliveryCount of each time it came
	batches := map[string]int{}         // data → the batch it came in first
	var nbatch, throttles int
	invoke := func(_ context.Context, function, qualifier string, payload []byte) async.Result {
		var ev struct{ Records []NATSRecord }
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Errorf("the batch is not JSON: %v", err)
			return async.Result{Outcome: async.Succeeded}
		}
		mu.Lock()
		defer mu.Unlock()
		if function != "fn" || qualifier != "1" {
			t.Errorf("invoked %s:%s, want fn:1", function, qualifier)
		}
		nbatch++
		// The first batch that holds m05 is throttled twice, then fails
		// as a whole; m11 is reported failed on its first delivery.
		for _, r := range ev.Records {
			if string(r.Data) == "m05" && r.DeliveryCount == 1 && throttles < 2 {
				throttles++
				return async.Result{Outcome: async.Throttled}
			}
		}
		var failures []map[string]string
		whole := false
		for _, r := range ev.Records {
			d := string(r.Data)
			if _, ok := batches[d]; !ok {
				batches[d] = nbatch
			}
			deliveries[d] = append(deliveries[d], r.DeliveryCount)
			if r.EventSource != NATSEventSource || r.Stream != "S" || r.Subject != "s."+d[1:] ||
				r.MessageID != fmt.Sprint(r.StreamSequence) || r.AWSRegion != "us-east-1" {
				t.Errorf("record %+v", r)
			}
			if d == "m05" && r.DeliveryCount == 1 {
				whole = true
			}
			if d == "m11" && r.DeliveryCount == 1 {
				failures = append(failures, map[string]string{"itemIdentifier": r.MessageID})
			}
		}
		if whole {
			return async.Result{Outcome: async.FunctionError, FunctionError: "Unhandled"}
		}
		b, _ := json.Marshal(map[string]any{"batchItemFailures": failures})
		return async.Result{Outcome: async.Succeeded, Response: b}
	}
	mg := &Manager{
		Mappings: func() []Mapping {
			return []Mapping{{UUID: "u1", EventSourceARN: "arn:aws:nats:us-east-1:000000000000:stream/S", Function: "fn", Qualifier: "1",
				BatchSize: 4, ReportBatchItemFailures: true, MaximumConcurrency: 2}}
		},
		Invoke: invoke, NATS: js,
	}
	done := make(chan struct{})
	go func() { defer close(done); mg.Run(ctx) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := js.Consumer(ctx, "S", "paddock-u1")
		if err == nil {
			info, err := c.Info(ctx)
			mu.Lock()
			n := len(deliveries)
			mu.Unlock()
			if err == nil && info.NumPending == 0 && info.NumAckPending == 0 && n == total {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream was not drained: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done

	mu.Lock()
	defer mu.Unlock()
	if throttles != 2 {
		t.Errorf("%d throttles, want 2", throttles)
	}
	for i := range total {
		d := fmt.Sprintf("m%02d", i)
		want := "1"
		if d == "m11" || batches[d] == batches["m05"] {
			want = "1,2" // failed by name, or in the batch that failed whole
		}
		if got := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(deliveries[d])), ","), "[]"); got != want {
			t.Errorf("%s was delivered as %s, want %s", d, got, want)
		}
	}
}
