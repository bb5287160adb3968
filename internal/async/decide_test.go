package async

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	fresh := now.Add(-time.Second)
	d := LambdaDelays
	s := DefaultSettings
	noRetries := Settings{MaximumRetryAttempts: 0, MaximumEventAge: time.Hour}
	oneMinute := Settings{MaximumRetryAttempts: 2, MaximumEventAge: time.Minute}
	cases := []struct {
		name       string
		attempt    int
		received   time.Time
		outcome    Outcome
		deliveries uint64
		settings   Settings
		want       Decision
	}{
		{"success", 0, fresh, Succeeded, 1, s, Decision{Verdict: Done}},
		{"success on a retry", 2, fresh, Succeeded, 1, s, Decision{Verdict: Done}},
		{"function gone", 0, fresh, Gone, 1, s, Decision{Verdict: Drop}},
		{"first failure: a minute", 0, fresh, FunctionError, 1, s, Decision{Verdict: Retry, Delay: time.Minute}},
		{"second failure: two minutes", 1, fresh, FunctionError, 1, s, Decision{Verdict: Retry, Delay: 2 * time.Minute}},
		{"third failure: retries exhausted", 2, fresh, FunctionError, 1, s, Decision{Verdict: Discard, Condition: "RetriesExhausted"}},
		{"no retries configured", 0, fresh, FunctionError, 1, noRetries, Decision{Verdict: Discard, Condition: "RetriesExhausted"}},
		{"a retry would come too late", 0, now.Add(-30 * time.Second), FunctionError, 1, oneMinute, Decision{Verdict: Discard, Condition: "EventAgeExceeded"}},
		{"throttled once: a second", 0, fresh, Throttled, 1, s, Decision{Verdict: Back, Delay: time.Second}},
		{"throttled on the fourth delivery: eight seconds", 0, fresh, Throttled, 4, s, Decision{Verdict: Back, Delay: 8 * time.Second}},
		{"throttled for long: five minutes at most", 0, fresh, Throttled, 40, s, Decision{Verdict: Back, Delay: 5 * time.Minute}},
		{"system error backs off like a throttle", 1, fresh, SystemError, 2, s, Decision{Verdict: Back, Delay: 2 * time.Second}},
		{"throttled near its age: back when it expires", 0, now.Add(-59 * time.Second), Throttled, 3, oneMinute, Decision{Verdict: Back, Delay: time.Second + time.Millisecond}},
		{"throttled past its age", 0, now.Add(-61 * time.Second), Throttled, 3, oneMinute, Decision{Verdict: Discard, Condition: "EventAgeExceeded"}},
		{"throttles do not use up retries", 2, fresh, Throttled, 1, s, Decision{Verdict: Back, Delay: time.Second}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := &Event{RequestID: "r", Function: "f", Received: c.received, Attempt: c.attempt}
			if got := Decide(ev, c.outcome, c.deliveries, c.settings, d, now); got != c.want {
				t.Fatalf("Decide = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestEventMessageRoundTrip(t *testing.T) {
	in := &Event{
		RequestID: "3f1c", Function: "fn", Qualifier: "live", FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:fn:live",
		Payload: []byte(`{"a":1}`), ClientContext: `{"custom":{"k":"v"}}`, TraceID: "Root=1-abc",
		Received: time.Date(2026, 12, 1, 12, 0, 0, 123456789, time.UTC), Attempt: 2, NotBefore: time.Date(2026, 12, 1, 12, 2, 0, 0, time.UTC),
	}
	m := in.message()
	if m.Subject != "paddock.async.fn" || m.Header.Get("Nats-Msg-Id") != "3f1c/2" {
		t.Fatalf("subject %q, message id %q", m.Subject, m.Header.Get("Nats-Msg-Id"))
	}
	out, err := parseEvent(m.Header, m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if out.RequestID != in.RequestID || out.Function != in.Function || out.Qualifier != in.Qualifier || out.FunctionARN != in.FunctionARN ||
		string(out.Payload) != string(in.Payload) || out.ClientContext != in.ClientContext || out.TraceID != in.TraceID ||
		!out.Received.Equal(in.Received) || out.Attempt != in.Attempt || !out.NotBefore.Equal(in.NotBefore) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
	m.Header.Del(hdrReceived)
	if _, err := parseEvent(m.Header, m.Data); err == nil {
		t.Fatal("an event without its time was read")
	}
}

func TestLambdaDestination(t *testing.T) {
	cases := []struct {
		arn, fn, q string
		ok         bool
	}{
		{"arn:aws:lambda:us-east-1:000000000000:function:dest", "dest", "", true},
		{"arn:aws:lambda:us-east-1:000000000000:function:dest:live", "dest", "live", true},
		{"arn:aws:sqs:us-east-1:000000000000:queue", "", "", false},
		{"arn:aws:lambda:us-east-1:000000000000:layer:x:1", "", "", false},
		{"dest", "", "", false},
	}
	for _, c := range cases {
		fn, q, ok := lambdaDestination(c.arn)
		if fn != c.fn || q != c.q || ok != c.ok {
			t.Errorf("lambdaDestination(%q) = %q %q %v", c.arn, fn, q, ok)
		}
	}
}
