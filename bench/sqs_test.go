package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/paddockhq/paddock/internal/platform"
)

// TestSQSBenchmark measures how fast an SQS event source mapping drains a
// queue into the echo function, beside synchronous invokes of the same
// function, same deployment, same run. The queues are in ElasticMQ, a
// process of its own that bench/sqs.sh starts (PADDOCK_BENCH_SQS_ENDPOINT);
// each is filled before its mapping is created, so that nothing but the
// pollers, the function and ElasticMQ runs while it drains. Rows: batches
// of 10 (Lambda's default) with the pollers scaling, the same held at 5
// pollers (MaximumConcurrency 5), and batches of 1 (one invoke per
// message). With PADDOCK_BENCH_NATS_URL (a nats-server process that
// bench/sqs.sh starts), the same drained from JetStream streams through
// NATS mappings, batches of 10 and of 1. It prints and asserts nothing.
func TestSQSBenchmark(t *testing.T) {
	endpoint := os.Getenv("PADDOCK_BENCH_SQS_ENDPOINT")
	if os.Getenv("PADDOCK_BENCH") != "1" || endpoint == "" {
		t.Skip("run bench/sqs.sh: it starts ElasticMQ and sets PADDOCK_BENCH=1 and PADDOCK_BENCH_SQS_ENDPOINT")
	}
	messages := 20000
	if s := os.Getenv("PADDOCK_BENCH_SQS_MESSAGES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 {
			t.Fatalf("PADDOCK_BENCH_SQS_MESSAGES: want a number of at least 100, got %q", s)
		}
		messages = n
	}
	duration, warmup, _ := settings(t)
	report(t, "machine: %d CPUs (GOMAXPROCS %d), %s %s/%s; sync %s after %s warm-up; %d messages a queue",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, duration, warmup, messages)
	ctx := t.Context()
	natsURL := os.Getenv("PADDOCK_BENCH_NATS_URL") // "": no NATS rows
	p, err := platform.Start(ctx, platform.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", AWSEndpoint: endpoint, EventNATSURL: natsURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	echo, err := deployEcho(ctx, t, p, "paddock", buildEcho(t))
	if err != nil {
		t.Fatal(err)
	}

	const conc = 64
	h, err := echo.header()
	if err != nil {
		t.Fatal(err)
	}
	ld := startLoader(t)
	syncLoad := Load{URL: echo.url, Header: h, Payload: payload, Concurrency: conc, Duration: warmup}
	ld.run("sync", syncLoad)
	syncLoad.Duration = duration
	syncSample := ld.run("sync", syncLoad)
	syncRes := syncSample.Result()

	q := sqs.New(sqs.Options{BaseEndpoint: aws.String(endpoint), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("bench", "bench", "")})
	lc := lambda.New(lambda.Options{Region: p.Region, BaseEndpoint: aws.String(p.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, "")})
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-38s %8s %10s %10s %10s\n", "path (echo, 1 EE x 64)", "per s", "cpu/msg", "self/msg", "fn/msg")
	fmt.Fprintf(&sb, "%-38s %8.0f %10s %10s %10s\n", "sync invokes, c=64 (200 answered)", syncRes.Throughput,
		round(syncRes.CPUPerReq), round(syncRes.SelfCPUPerReq), round(syncRes.FunctionCPUPerReq))
	var notes []string
	for _, row := range []struct{ batch, maxConcurrency int }{{10, 0}, {10, 5}, {1, 0}} {
		name := fmt.Sprintf("SQS messages drained, batch %d", row.batch)
		if row.maxConcurrency > 0 {
			name += fmt.Sprintf(", max %d", row.maxConcurrency)
		}
		d := drainQueue(ctx, t, q, lc, fmt.Sprintf("bench-%d", len(notes)), row.batch, row.maxConcurrency, messages)
		per := func(d time.Duration) string { return round(d / time.Duration(messages)) }
		fmt.Fprintf(&sb, "%-38s %8.0f %10s %10s %10s\n", name, float64(messages)/d.took.Seconds(), per(d.cpu), per(d.self), per(d.fn))
		notes = append(notes, fmt.Sprintf("%s: queue filled at %.0f messages/s; drained in %s (first receive %s after the mapping was created)",
			name, float64(messages)/d.fill.Seconds(), round(d.took), round(d.wait)))
	}
	if natsURL != "" {
		nc, err := nats.Connect(natsURL)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range []int{10, 1} {
			name := fmt.Sprintf("NATS messages drained, batch %d", batch)
			d := drainStream(ctx, t, js, lc, fmt.Sprintf("BENCH%d", batch), batch, messages)
			per := func(d time.Duration) string { return round(d / time.Duration(messages)) }
			fmt.Fprintf(&sb, "%-38s %8.0f %10s %10s %10s\n", name, float64(messages)/d.took.Seconds(), per(d.cpu), per(d.self), per(d.fn))
			notes = append(notes, fmt.Sprintf("%s: stream filled at %.0f messages/s; drained in %s (first delivery %s after the mapping was created)",
				name, float64(messages)/d.fill.Seconds(), round(d.took), round(d.wait)))
		}
	}
	fmt.Fprintf(&sb, "\n%s\nerrors: sync %d\n", strings.Join(notes, "\n"), syncRes.Errors)
	report(t, "\n%s", sb.String())
}

// drained is how one queue was filled and drained.
type drained struct {
	fill time.Duration // sending the messages
	wait time.Duration // from CreateEventSourceMapping to the first receive
	took time.Duration // from the first receive to an empty queue
	// cpu is the machine's busy time while it drained (ElasticMQ's
	// included), self this process's (Paddock's pollers, API and agent),
	// fn the function processes'.
	cpu, self, fn time.Duration
}

// drainQueue fills a new queue with n messages (the benchmark's payload),
// maps it to echo:1 with batches of batch (and a MaximumConcurrency, 0:
// none), times the drain and deletes the mapping.
func drainQueue(ctx context.Context, t *testing.T, q *sqs.Client, lc *lambda.Client, name string, batch, maxConcurrency, n int) drained {
	t.Helper()
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	url := out.QueueUrl
	var d drained
	start := time.Now()
	var wg sync.WaitGroup
	const senders = 16
	for w := range senders {
		wg.Go(func() {
			for i := w * 10; i < n; i += senders * 10 {
				var entries []sqstypes.SendMessageBatchRequestEntry
				for j := i; j < min(i+10, n); j++ {
					entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), MessageBody: aws.String(string(payload))})
				}
				if _, err := q.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: url, Entries: entries}); err != nil {
					t.Errorf("SendMessageBatch: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	d.fill = time.Since(start)
	left := func() (visible, inFlight int) {
		a, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			t.Fatalf("GetQueueAttributes: %v", err)
		}
		visible, _ = strconv.Atoi(a.Attributes["ApproximateNumberOfMessages"])
		inFlight, _ = strconv.Atoi(a.Attributes["ApproximateNumberOfMessagesNotVisible"])
		return visible, inFlight
	}
	if v, _ := left(); v != n {
		t.Fatalf("%s: %d messages in the queue, want %d", name, v, n)
	}

	created := time.Now()
	in := &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("echo:1"), EventSourceArn: aws.String("arn:aws:sqs:us-east-1:000000000000:" + name), BatchSize: aws.Int32(int32(batch)),
	}
	if maxConcurrency > 0 {
		in.ScalingConfig = &types.ScalingConfig{MaximumConcurrency: aws.Int32(int32(maxConcurrency))}
	}
	m, err := lc.CreateEventSourceMapping(ctx, in)
	if err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	defer func() {
		if _, err := lc.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: m.UUID}); err != nil {
			t.Errorf("DeleteEventSourceMapping: %v", err)
		}
	}()
	timeDrain(t, name, created, &d, func() (started, done bool) {
		v, f := left()
		return v < n, v == 0 && f == 0
	})
	return d
}

// timeDrain polls state every 10 ms from created, the mapping's creation,
// and sets d's wait (until started), took and CPU times (from started
// until done); it fails the test after 10 minutes.
func timeDrain(t *testing.T, name string, created time.Time, d *drained, state func() (started, done bool)) {
	t.Helper()
	var first time.Time
	var busy0, self0, fn0 time.Duration
	deadline := created.Add(10 * time.Minute)
	for {
		started, done := state()
		now := time.Now()
		if first.IsZero() && started {
			first, busy0, self0, fn0 = now, machineBusy(), processCPU(), functionCPU()
			d.wait = first.Sub(created)
		}
		if !first.IsZero() && done {
			d.took, d.cpu, d.self, d.fn = now.Sub(first), machineBusy()-busy0, processCPU()-self0, functionCPU()-fn0
			return
		}
		if now.After(deadline) {
			t.Fatalf("%s: not drained after 10 minutes", name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// drainStream fills a new JetStream stream with n messages (the
// benchmark's payload), maps it to echo:1 with batches of batch, times the
// drain (until the mapping's consumer has every message acknowledged) and
// deletes the mapping.
func drainStream(ctx context.Context, t *testing.T, js jetstream.JetStream, lc *lambda.Client, name string, batch, n int) drained {
	t.Helper()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	var d drained
	start := time.Now()
	for i := range n {
		if _, err := js.PublishAsync(name+".m", payload); err != nil {
			t.Fatalf("PublishAsync: %v", err)
		}
		if i%1000 == 999 {
			<-js.PublishAsyncComplete()
		}
	}
	<-js.PublishAsyncComplete()
	d.fill = time.Since(start)

	created := time.Now()
	m, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("echo:1"), EventSourceArn: aws.String("arn:aws:nats:us-east-1:000000000000:stream/" + name), BatchSize: aws.Int32(int32(batch)),
	})
	if err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	defer func() {
		if _, err := lc.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: m.UUID}); err != nil {
			t.Errorf("DeleteEventSourceMapping: %v", err)
		}
	}()
	timeDrain(t, name, created, &d, func() (started, done bool) {
		c, err := js.Consumer(ctx, name, "paddock-"+aws.ToString(m.UUID))
		if err != nil {
			return false, false
		}
		info, err := c.Info(ctx)
		if err != nil {
			return false, false
		}
		return info.Delivered.Stream > 0, info.AckFloor.Stream == uint64(n)
	})
	return d
}
