package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/paddockhq/paddock/internal/platform"
)

// motoAccount is the account moto_server's resources belong to.
const motoAccount = "123456789012"

// motoSQS starts moto_server and returns an SQS client of it; the AWS SDK
// in this process (Paddock's destinations) reaches it with the same fake
// keys, from the environment (TestMain).
func motoSQS(t *testing.T) (string, *sqs.Client) {
	t.Helper()
	url := startMoto(t)
	return url, sqs.New(sqs.Options{BaseEndpoint: aws.String(url), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
}

func createQueue(t *testing.T, c *sqs.Client, name string) (url, arn string) {
	t.Helper()
	out, err := c.CreateQueue(ctx(t), &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateQueue %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl), "arn:aws:sqs:us-east-1:" + motoAccount + ":" + name
}

// drain receives messages from the queue until want have come or the
// time is up, deleting each.
func drain(t *testing.T, c *sqs.Client, url string, want int, within time.Duration) []string {
	t.Helper()
	var bodies []string
	deadline := time.Now().Add(within)
	for len(bodies) < want && time.Now().Before(deadline) {
		out, err := c.ReceiveMessage(ctx(t), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			if _, err := c.DeleteMessage(ctx(t), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("DeleteMessage: %v", err)
			}
		}
	}
	return bodies
}

// record is an invocation record as a destination receives it.
type record struct {
	Version        string `json:"version"`
	Timestamp      string `json:"timestamp"`
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionARN            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError"`
	} `json:"responseContext"`
	ResponsePayload json.RawMessage `json:"responsePayload"`
}

func decodeRecord(t *testing.T, body string) record {
	t.Helper()
	var r record
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("record %q: %v", body, err)
	}
	return r
}

// TestAsyncDestinationsToSQS: an event's OnSuccess record, and after its
// retries the OnFailure record, reach SQS queues (moto_server) through
// the SQS API, in Lambda's shape.
func TestAsyncDestinationsToSQS(t *testing.T) {
	motoURL, q := motoSQS(t)
	okURL, okARN := createQueue(t, q, "async-ok")
	failURL, failARN := createQueue(t, q, "async-failed")
	e := startIn(t, t.TempDir(), func(o *platform.Options) { o.AsyncDelays = &testDelays; o.AWSEndpoint = motoURL })
	e.defaultModeEcho("async-dest")
	if _, err := e.lambda.PutFunctionEventInvokeConfig(ctx(t), &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("async-dest"), MaximumRetryAttempts: aws.Int32(1),
		DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: aws.String(okARN)}, OnFailure: &types.OnFailure{Destination: aws.String(failARN)}},
	}); err != nil {
		t.Fatalf("PutFunctionEventInvokeConfig: %v", err)
	}
	fnARN := "arn:aws:lambda:us-east-1:000000000000:function:async-dest:$LATEST"

	okID := e.invokeEvent("async-dest", `{"order":7}`)
	got := drain(t, q, okURL, 1, 60*time.Second)
	if len(got) != 1 {
		t.Fatalf("%d success records", len(got))
	}
	r := decodeRecord(t, got[0])
	if r.Version != "1.0" || r.RequestContext.RequestID != okID || r.RequestContext.Condition != "Success" ||
		r.RequestContext.ApproximateInvokeCount != 1 || r.RequestContext.FunctionARN != fnARN ||
		string(r.RequestPayload) != `{"order":7}` || r.ResponseContext.StatusCode != 200 ||
		r.ResponseContext.ExecutedVersion != "$LATEST" || r.ResponseContext.FunctionError != "" || string(r.ResponsePayload) != `{"order":7}` {
		t.Errorf("success record: %s", got[0])
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", r.Timestamp); err != nil {
		t.Errorf("timestamp %q: %v", r.Timestamp, err)
	}

	failID := e.invokeEvent("async-dest", `{"error":"boom"}`)
	got = drain(t, q, failURL, 1, 60*time.Second)
	if len(got) != 1 {
		t.Fatalf("%d failure records", len(got))
	}
	r = decodeRecord(t, got[0])
	var errBody struct{ ErrorMessage, ErrorType string }
	json.Unmarshal(r.ResponsePayload, &errBody) //nolint:errcheck // checked below
	if r.RequestContext.RequestID != failID || r.RequestContext.Condition != "RetriesExhausted" ||
		r.RequestContext.ApproximateInvokeCount != 2 || r.ResponseContext.FunctionError != "Unhandled" ||
		r.ResponseContext.StatusCode != 200 || errBody.ErrorMessage != "boom" || string(r.RequestPayload) != `{"error":"boom"}` {
		t.Errorf("failure record: %s", got[0])
	}
	// Nothing more: one record per event, each on its own queue.
	if extra := drain(t, q, okURL, 1, 2*time.Second); len(extra) != 0 {
		t.Errorf("more success records: %v", extra)
	}
}

// TestAsyncSurvivesKill9: a burst of asynchronous invokes against the real
// binary, killed with SIGKILL in the middle of it: after a restart every
// event that was answered 202 runs (its OnSuccess record reaches SQS) at
// least once. Duplicates (events that ran before the kill but were not
// yet acknowledged to the engine) are counted and shown.
func TestAsyncSurvivesKill9(t *testing.T) {
	motoURL, q := motoSQS(t)
	okURL, okARN := createQueue(t, q, "kill9-ok")
	bin := paddockBinary(t)
	dir := t.TempDir()
	endpoint, stop := runBinary(t, bin, dir, "--aws-endpoint-url", motoURL)
	e := &env{t: t, lambda: client(endpoint, "AKIDPADDOCKTEST", "paddock-test-secret")}
	cp := e.capacityProvider("kill9")
	e.function("kill9-fn", cp, fnOpts{})
	v, st := e.publish("kill9-fn")
	if st != types.StateActive {
		t.Fatalf("version %s %s", v, st)
	}
	if _, err := e.lambda.PutFunctionEventInvokeConfig(ctx(t), &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("kill9-fn"), Qualifier: aws.String(v), DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: aws.String(okARN)}},
	}); err != nil {
		t.Fatalf("PutFunctionEventInvokeConfig: %v", err)
	}

	const total, killAt = 2000, 1000
	var (
		mu       sync.Mutex
		acked    = map[string]bool{}
		sent     atomic.Int64
		failures atomic.Int64
		killing  atomic.Bool
		wg       sync.WaitGroup
	)
	killed := make(chan struct{})
	var once sync.Once
	for range 32 {
		wg.Go(func() {
			cl := e.lambda
			for {
				i := sent.Add(1)
				if i > total {
					return
				}
				out, err := cl.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("kill9-fn"), Qualifier: aws.String(v), InvocationType: types.InvocationTypeEvent,
					Payload: []byte(fmt.Sprintf(`{"n":%d}`, i))})
				if err != nil {
					if !killing.Load() && failures.Add(1) == 1 {
						t.Errorf("invoke before the kill: %v", err)
					}
					continue // not acknowledged: the server was gone
				}
				if out.StatusCode == 202 {
					mu.Lock()
					acked[requestID(t, out.ResultMetadata)] = true
					n := len(acked)
					mu.Unlock()
					if n >= killAt {
						once.Do(func() { killing.Store(true); stop(syscall.SIGKILL); close(killed) })
					}
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-killed:
	default:
		t.Fatalf("only %d events were acknowledged, the kill waited for %d", len(acked), killAt)
	}
	mu.Lock()
	n := len(acked)
	mu.Unlock()
	t.Logf("%d of %d events acknowledged before and around the kill", n, total)

	runBinary(t, bin, dir, "--aws-endpoint-url", motoURL)
	seen := map[string]int{}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		for _, body := range drain(t, q, okURL, n, 5*time.Second) {
			seen[decodeRecord(t, body).RequestContext.RequestID]++
		}
		missing := 0
		for id := range acked {
			if seen[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
	}
	missing, dups := 0, 0
	for id := range acked {
		switch c := seen[id]; {
		case c == 0:
			missing++
		case c > 1:
			dups += c - 1
		}
	}
	t.Logf("after the restart: %d acknowledged events ran, %d duplicate runs, %d records in all", n-missing, dups, sumCounts(seen))
	if missing > 0 {
		t.Fatalf("%d acknowledged events never ran", missing)
	}
	unanswered := 0
	for id := range seen {
		if !acked[id] {
			unanswered++
		}
	}
	t.Logf("%d records of events whose 202 was lost with the kill (stored, but not answered)", unanswered)
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

// TestAsyncEventAgeExceeded: an event that cannot run (its function's
// reserved concurrency is 0: every delivery is throttled) is put back
// until it is older than MaximumEventAgeInSeconds (60 s, the least), then
// given up with an EventAgeExceeded record to OnFailure. It takes a
// minute, so it runs beside the other tests.
func TestAsyncEventAgeExceeded(t *testing.T) {
	t.Parallel()
	motoURL, q := motoSQS(t)
	failURL, failARN := createQueue(t, q, "async-aged")
	e := startIn(t, t.TempDir(), func(o *platform.Options) { o.AsyncDelays = &testDelays; o.AWSEndpoint = motoURL })
	e.defaultModeEcho("async-aged")
	if _, err := e.lambda.PutFunctionConcurrency(ctx(t), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("async-aged"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatalf("PutFunctionConcurrency: %v", err)
	}
	if _, err := e.lambda.PutFunctionEventInvokeConfig(ctx(t), &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("async-aged"), MaximumEventAgeInSeconds: aws.Int32(60),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(failARN)}},
	}); err != nil {
		t.Fatalf("PutFunctionEventInvokeConfig: %v", err)
	}
	sent := time.Now()
	id := e.invokeEvent("async-aged", `{"late":true}`)
	got := drain(t, q, failURL, 1, 100*time.Second)
	if len(got) != 1 {
		t.Fatalf("%d records after %s", len(got), time.Since(sent).Round(time.Second))
	}
	r := decodeRecord(t, got[0])
	if r.RequestContext.RequestID != id || r.RequestContext.Condition != "EventAgeExceeded" || r.RequestContext.ApproximateInvokeCount != 0 {
		t.Errorf("record: %s", got[0])
	}
	if age := time.Since(sent); age < 60*time.Second {
		t.Errorf("given up after %s, before its maximum age", age)
	}
	if n := len(e.starts("async-aged", id)); n != 0 {
		t.Errorf("the throttled event ran %d times", n)
	}
}

// TestAsyncDeadLetterQueue: a function's DeadLetterConfig receives the
// events it gives up on: the payload as the message, RequestID, ErrorCode
// and ErrorMessage as attributes; the configuration answers it back.
func TestAsyncDeadLetterQueue(t *testing.T) {
	motoURL, q := motoSQS(t)
	dlqURL, dlqARN := createQueue(t, q, "async-dlq")
	e := startIn(t, t.TempDir(), func(o *platform.Options) { o.AsyncDelays = &testDelays; o.AWSEndpoint = motoURL })
	in := createInput(t, "async-dl", "", fnOpts{})
	in.CapacityProviderConfig, in.MemorySize = nil, aws.Int32(256)
	in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String(dlqARN)}
	if _, err := e.lambda.CreateFunction(ctx(t), in); err != nil {
		t.Fatalf("CreateFunction with a DeadLetterConfig: %v", err)
	}
	e.settled("async-dl")
	cfg, err := e.lambda.GetFunctionConfiguration(ctx(t), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("async-dl")})
	if err != nil || cfg.DeadLetterConfig == nil || aws.ToString(cfg.DeadLetterConfig.TargetArn) != dlqARN {
		t.Fatalf("GetFunctionConfiguration: %+v, %v", cfg.DeadLetterConfig, err)
	}
	if _, err := e.lambda.PutFunctionEventInvokeConfig(ctx(t), &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("async-dl"), MaximumRetryAttempts: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	id := e.invokeEvent("async-dl", `{"error":"to the dead letters"}`)
	var msg sqsMessage
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && msg.body == "" {
		out, err := q.ReceiveMessage(ctx(t), &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			msg.body = aws.ToString(m.Body)
			msg.attrs = map[string]string{}
			for k, v := range m.MessageAttributes {
				msg.attrs[k] = aws.ToString(v.DataType) + ":" + aws.ToString(v.StringValue)
			}
		}
	}
	if msg.body != `{"error":"to the dead letters"}` {
		t.Fatalf("dead letter body %q", msg.body)
	}
	if msg.attrs["RequestID"] != "String:"+id || msg.attrs["ErrorCode"] != "Number:200" || !strings.Contains(msg.attrs["ErrorMessage"], "to the dead letters") {
		t.Errorf("dead letter attributes %v", msg.attrs)
	}
	// An ARN that cannot take dead letters is refused, as AWS does.
	_, err = e.lambda.UpdateFunctionConfiguration(ctx(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("async-dl"),
		DeadLetterConfig: &types.DeadLetterConfig{TargetArn: aws.String(dlqARN + ".fifo")}})
	apiError(t, err, "InvalidParameterValueException")
}

type sqsMessage struct {
	body  string
	attrs map[string]string
}

// TestAsyncOnFailureToS3: an S3 bucket as OnFailure receives the record
// of an event given up, as a JSON object under aws/lambda/async/FUNCTION/.
func TestAsyncOnFailureToS3(t *testing.T) {
	motoURL := startMoto(t)
	s3c := s3.New(s3.Options{BaseEndpoint: aws.String(motoURL), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	if _, err := s3c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("async-failures")}); err != nil {
		t.Fatal(err)
	}
	e := startIn(t, t.TempDir(), func(o *platform.Options) { o.AsyncDelays = &testDelays; o.AWSEndpoint = motoURL })
	e.defaultModeEcho("async-s3")
	if _, err := e.lambda.PutFunctionEventInvokeConfig(ctx(t), &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("async-s3"), MaximumRetryAttempts: aws.Int32(0),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String("arn:aws:s3:::async-failures")}},
	}); err != nil {
		t.Fatal(err)
	}
	id := e.invokeEvent("async-s3", `{"error":"to the bucket"}`)
	var keys []string
	waitForLong(t, "the record in the bucket", 60*time.Second, func() bool {
		out, err := s3c.ListObjectsV2(ctx(t), &s3.ListObjectsV2Input{Bucket: aws.String("async-failures"), Prefix: aws.String("aws/lambda/async/async-s3/")})
		if err != nil {
			return false
		}
		keys = keys[:0]
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		return len(keys) > 0
	})
	if len(keys) != 1 {
		t.Fatalf("%d records in the bucket: %v", len(keys), keys)
	}
	obj, err := s3c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String("async-failures"), Key: aws.String(keys[0])})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	body, _ := io.ReadAll(obj.Body)
	r := decodeRecord(t, string(body))
	if r.RequestContext.RequestID != id || r.RequestContext.Condition != "RetriesExhausted" {
		t.Errorf("the record in %s: %s", keys[0], body)
	}
}
