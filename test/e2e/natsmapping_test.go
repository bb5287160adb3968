package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/paddockhq/paddock/internal/natstest"
	"github.com/paddockhq/paddock/internal/platform"
)

// TestNATSMappingDrainsStream: a JetStream stream on the users' NATS
// server is drained by an LMI function through an event source mapping
// with a filter and ReportBatchItemFailures: the messages the filter
// drops never reach the function; the 1% it reports failed on their first
// delivery come back once, and only they do; every other message is
// handed on exactly once; at the end the mapping's consumer has nothing
// pending or unacknowledged.
func TestNATSMappingDrainsStream(t *testing.T) {
	url, js := natstest.Start(t)
	if _, err := js.CreateStream(ctx(t), jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err != nil {
		t.Fatal(err)
	}
	e := startIn(t, t.TempDir(), func(o *platform.Options) { o.EventNATSURL = url })
	const fn = "nats-fn"
	version := e.batchFunction(t, fn, "natsbatch")

	const total, failing, filtered = 2000, 20, 200
	data := func(i int) (subject, body string, deliveries []string) {
		switch {
		case i%(total/filtered) == 1:
			return "orders.us", fmt.Sprintf("us-%05d", i), nil
		case i%(total/failing) == 0:
			return "orders.eu", fmt.Sprintf("fail-%05d", i), []string{"1", "2"}
		}
		return "orders.eu", fmt.Sprintf("ok-%05d", i), []string{"1"}
	}
	for i := range total {
		subject, body, _ := data(i)
		msg := &nats.Msg{Subject: subject, Data: []byte(body), Header: nats.Header{}}
		if i == 2 {
			msg.Header.Set("X-Test", "carried")
		}
		if _, err := js.PublishMsgAsync(msg); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("the stream did not acknowledge the messages")
	}

	arn := "arn:aws:nats:us-east-1:000000000000:stream/ORDERS"
	started := time.Now()
	m, err := e.lambda.CreateEventSourceMapping(ctx(t), &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String(fn + ":" + version), EventSourceArn: aws.String(arn), BatchSize: aws.Int32(10),
		FunctionResponseTypes: []types.FunctionResponseType{types.FunctionResponseTypeReportBatchItemFailures},
		FilterCriteria:        &types.FilterCriteria{Filters: []types.Filter{{Pattern: aws.String(`{"subject":["orders.eu"]}`)}}},
	})
	if err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	if got := aws.ToString(m.EventSourceArn); got != arn {
		t.Errorf("EventSourceArn %q, want %q", got, arn)
	}
	if m.StartingPosition != "" || m.MaximumRetryAttempts != nil {
		t.Errorf("a NATS mapping answered stream members: StartingPosition %q, MaximumRetryAttempts %v", m.StartingPosition, m.MaximumRetryAttempts)
	}
	waitForLong(t, "the mapping to be Enabled", 30*time.Second, func() bool {
		g, err := e.lambda.GetEventSourceMapping(ctx(t), &lambda.GetEventSourceMappingInput{UUID: m.UUID})
		return err == nil && aws.ToString(g.State) == "Enabled"
	})
	consumer := "paddock-" + aws.ToString(m.UUID)
	waitForLong(t, "the stream to be drained", 4*time.Minute, func() bool {
		c, err := js.Consumer(ctx(t), "ORDERS", consumer)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx(t))
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream == total
	})
	drained := time.Since(started)

	want := total - filtered + failing
	seen := map[string][]string{}
	for _, f := range e.functionLines(t, fn, func(l [][]string) bool { return len(l) >= want }, "processed") {
		if len(f) < 10 {
			t.Fatalf("a line of the function's is short: %v", f)
		}
		seen[f[1]] = append(seen[f[1]], f[3])
		if f[5] != "paddock:nats" || f[7] != "orders.eu" {
			t.Errorf("%s: eventSource %s subject %s, want paddock:nats orders.eu", f[1], f[5], f[7])
		}
		if wantHeader := map[bool]string{true: "carried", false: "-"}[f[1] == "ok-00002"]; f[9] != wantHeader {
			t.Errorf("%s: header X-Test %q, want %q", f[1], f[9], wantHeader)
		}
	}
	wrong := 0
	for i := range total {
		_, body, deliveries := data(i)
		got := seen[body]
		slices.Sort(got) // lines of different EEs reach the log in no set order
		if strings.Join(got, ",") != strings.Join(deliveries, ",") {
			if wrong++; wrong <= 5 {
				t.Errorf("%s was delivered %v, want %v", body, got, deliveries)
			}
		}
	}
	if wrong > 0 {
		t.Fatalf("%d messages were handed on other than expected", wrong)
	}
	t.Logf("%d messages (%d filtered out, %d failed once) drained in %s", total, filtered, failing, drained.Round(time.Millisecond))
}
