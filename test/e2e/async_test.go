package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/paddockhq/paddock/internal/async"
	"github.com/paddockhq/paddock/internal/logs"
	"github.com/paddockhq/paddock/internal/platform"
)

// Shorter waits than Lambda's (a minute, then two, after a function
// error), so that a test sees all three attempts.
var testDelays = async.Delays{
	FunctionError: [2]time.Duration{400 * time.Millisecond, 800 * time.Millisecond},
	ThrottleBase:  100 * time.Millisecond, ThrottleMax: time.Second,
}

func startAsync(t *testing.T) *env {
	return startIn(t, t.TempDir(), func(o *platform.Options) { o.AsyncDelays = &testDelays })
}

// defaultModeEcho creates the echo function in Lambda's default mode.
func (e *env) defaultModeEcho(name string) {
	e.t.Helper()
	in := createInput(e.t, name, "", fnOpts{})
	in.CapacityProviderConfig, in.MemorySize = nil, aws.Int32(256)
	if _, err := e.lambda.CreateFunction(ctx(e.t), in); err != nil {
		e.t.Fatalf("CreateFunction %s: %v", name, err)
	}
	e.settled(name)
}

func (e *env) invokeEvent(name, payload string) string {
	e.t.Helper()
	out, err := e.lambda.Invoke(ctx(e.t), &lambda.InvokeInput{
		FunctionName: aws.String(name), InvocationType: types.InvocationTypeEvent, Payload: []byte(payload),
	})
	if err != nil {
		e.t.Fatalf("Invoke %s (Event): %v", name, err)
	}
	if out.StatusCode != http.StatusAccepted || len(out.Payload) != 0 {
		e.t.Fatalf("Invoke %s (Event) = %d %q, want 202 and no body", name, out.StatusCode, out.Payload)
	}
	return requestID(e.t, out.ResultMetadata)
}

// printed is the stdout lines of function that contain marker.
func (e *env) printed(function, marker string) []logs.Record {
	var out []logs.Record
	for _, r := range e.fetchLogs(function, "") {
		if r.Stream == "stdout" && strings.Contains(r.Message, marker) {
			out = append(out, r)
		}
	}
	return out
}

// TestAsyncInvokeDelivered: events invoked with InvocationType Event are
// answered 202 with their request id at once and each runs, with that
// request id.
func TestAsyncInvokeDelivered(t *testing.T) {
	e := startAsync(t)
	e.defaultModeEcho("async-echo")
	const n = 20
	ids := map[string]string{} // marker → request id
	for i := range n {
		marker := fmt.Sprintf("async-%02d", i)
		ids[marker] = e.invokeEvent("async-echo", fmt.Sprintf(`{"print":%q}`, marker))
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := e.printed("async-echo", "async-")
		if len(got) >= n {
			if len(got) != n {
				t.Errorf("%d lines printed for %d events: some ran twice", len(got), n)
			}
			// Each ran as the request id it was answered with (a line
			// printed is attributed to its invoke only when the timing
			// says so; the platform's START line always is).
			started := map[string]bool{}
			for _, r := range e.fetchLogs("async-echo", "") {
				if r.Stream == "platform" && strings.HasPrefix(r.Message, "START ") {
					started[r.RequestID] = true
				}
			}
			for marker, id := range ids {
				if !started[id] {
					t.Errorf("no invoke started as %s, the request id of %s", id, marker)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events ran in 60 s", len(got), n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// starts is the platform's START lines of request id in function's logs.
func (e *env) starts(function, id string) []logs.Record {
	var out []logs.Record
	for _, r := range e.fetchLogs(function, "") {
		if r.Stream == "platform" && r.RequestID == id && strings.HasPrefix(r.Message, "START ") {
			out = append(out, r)
		}
	}
	return out
}

// TestAsyncInvokeRetriesFunctionErrors: an event whose function fails runs
// 1 + MaximumRetryAttempts (Lambda's default 2) times, as the same request
// id, the retries waiting the configured delays, and then no more.
func TestAsyncInvokeRetriesFunctionErrors(t *testing.T) {
	e := startAsync(t)
	e.defaultModeEcho("async-fail")
	id := e.invokeEvent("async-fail", `{"error":"boom"}`)
	var got []logs.Record
	deadline := time.Now().Add(60 * time.Second)
	for len(got) < 3 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		got = e.starts("async-fail", id)
	}
	if len(got) != 3 {
		t.Fatalf("the failing event ran %d times, want 3", len(got))
	}
	for i := 1; i < len(got); i++ {
		if gap, min := got[i].Time.Sub(got[i-1].Time), testDelays.FunctionError[i-1]; gap < min {
			t.Errorf("retry %d came %s after the attempt before it, want at least %s", i, gap, min)
		}
	}
	time.Sleep(2 * testDelays.FunctionError[1])
	if n := len(e.starts("async-fail", id)); n != 3 {
		t.Fatalf("the event ran %d times after its retries were used up", n)
	}
	// And /metrics says so.
	m := scrapeMetrics(t, e.p.Endpoint+"/metrics")
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"paddock_async_events_received_total", nil, 1},
		{"paddock_async_events_delivered_total", nil, 0},
		{"paddock_async_events_retried_total", map[string]string{"reason": "function_error"}, 2},
		{"paddock_async_events_dropped_total", map[string]string{"reason": "retries"}, 1},
		{"paddock_async_events_dropped_total", map[string]string{"reason": "event_age"}, 0},
		{"paddock_async_backlog_events", nil, 0},
	} {
		if got := m.value(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// TestAsyncInvokeErrors: what the API refuses before it queues anything.
func TestAsyncInvokeErrors(t *testing.T) {
	e := startAsync(t)
	e.defaultModeEcho("async-errs")
	c := ctx(t)
	_, err := e.lambda.Invoke(c, &lambda.InvokeInput{FunctionName: aws.String("no-such-fn"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)})
	apiError(t, err, "ResourceNotFoundException")
	big := `{"x":"` + strings.Repeat("a", async.MaxPayloadBytes) + `"}`
	_, err = e.lambda.Invoke(c, &lambda.InvokeInput{FunctionName: aws.String("async-errs"), InvocationType: types.InvocationTypeEvent, Payload: []byte(big)})
	apiError(t, err, "RequestTooLargeException")
	if !strings.Contains(err.Error(), fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", async.MaxPayloadBytes)) {
		t.Errorf("too large: %v", err)
	}
	_, err = e.lambda.Invoke(c, &lambda.InvokeInput{FunctionName: aws.String("async-errs"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{not json`)})
	apiError(t, err, "InvalidRequestContentException")
}

// TestInvokeAsyncDeprecated: the deprecated InvokeAsync queues its event
// as an Event invoke does, through the SDK's own call.
func TestInvokeAsyncDeprecated(t *testing.T) {
	e := startAsync(t)
	e.defaultModeEcho("async-legacy")
	//lint:ignore SA1019 InvokeAsync is deprecated by AWS; this test is for those who still call it
	out, err := e.lambda.InvokeAsync(ctx(t), &lambda.InvokeAsyncInput{FunctionName: aws.String("async-legacy"), InvokeArgs: strings.NewReader(`{"legacy":true}`)})
	if err != nil {
		t.Fatalf("InvokeAsync: %v", err)
	}
	if out.Status != http.StatusAccepted {
		t.Fatalf("InvokeAsync status %d", out.Status)
	}
	id := requestID(t, out.ResultMetadata)
	waitOutput(t, "the InvokeAsync event to run", func() (string, bool) {
		n := len(e.starts("async-legacy", id))
		return fmt.Sprintf("%d runs of %s", n, id), n == 1
	})
	//lint:ignore SA1019 as above
	_, err = e.lambda.InvokeAsync(ctx(t), &lambda.InvokeAsyncInput{FunctionName: aws.String("async-legacy"), InvokeArgs: strings.NewReader(strings.Repeat(" ", 256<<10+1))})
	apiError(t, err, "RequestTooLargeException")
}
