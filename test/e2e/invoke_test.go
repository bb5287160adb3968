package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestConcurrentInvokesShareEEs: 3 EEs × 8 slots run 24 sleeps at once,
// and the 25th concurrent invoke is throttled with the AWS error.
func TestConcurrentInvokesShareEEs(t *testing.T) {
	e := start(t)
	e.activeFunction("sleepy", fnOpts{example: "sleep", maxConcurrency: 8, timeout: 10})
	// Pin the version at 3 EEs so the autoscaler does not add capacity.
	e.scale("sleepy", "1", 3, 3)

	const sleep = 500 * time.Millisecond
	var wg sync.WaitGroup
	var failed atomic.Int32
	begin := time.Now()
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := e.invoke("sleepy", "1", `{"sleep_ms":500}`)
			if err != nil || out.FunctionError != nil {
				failed.Add(1)
				t.Errorf("invoke: %v", err)
			}
		}()
	}
	wg.Wait()
	took := time.Since(begin)
	if failed.Load() > 0 {
		t.Fatalf("%d of 24 invokes failed", failed.Load())
	}
	// 24 sleeps in sequence would take 12 s; in parallel about one sleep.
	if took > 4*sleep {
		t.Errorf("24 concurrent sleeps took %v, want about %v", took, sleep)
	}
	t.Logf("24 concurrent %v sleeps on 3 EEs x 8 took %v", sleep, took)

	// Fill all 24 slots with long sleeps; the 25th is throttled.
	hold, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.lambda.Invoke(hold, &lambda.InvokeInput{FunctionName: aws.String("sleepy"), Qualifier: aws.String("1"), Payload: []byte(`{"sleep_ms":3000}`)}) //nolint:errcheck
		}()
	}
	time.Sleep(700 * time.Millisecond) // let all 24 be admitted
	_, err := e.invoke("sleepy", "1", `{"sleep_ms":1}`)
	apiError(t, err, "TooManyRequestsException")
	var tm *types.TooManyRequestsException
	if !asErr(err, &tm) || tm.Reason != types.ThrottleReasonConcurrentInvocationLimitExceeded || aws.ToString(tm.RetryAfterSeconds) == "" {
		t.Fatalf("throttle: %+v, want Reason ConcurrentInvocationLimitExceeded and Retry-After", tm)
	}
	wg.Wait()
	// Capacity is back once the sleeps finish.
	if _, err := e.invoke("sleepy", "1", `{"sleep_ms":1}`); err != nil {
		t.Fatalf("invoke after the burst: %v", err)
	}
}

func TestTimeoutFailsOnlyThatInvoke(t *testing.T) {
	e := start(t)
	e.activeFunction("slow", fnOpts{example: "sleep", maxConcurrency: 4, timeout: 1})
	var wg sync.WaitGroup
	var quick atomic.Int32
	wg.Add(1)
	go func() {
		defer wg.Done()
		out, err := e.invoke("slow", "1", `{"sleep_ms":2500}`)
		if err != nil {
			t.Errorf("timed-out invoke returned an API error: %v", err)
			return
		}
		var doc struct{ ErrorType, ErrorMessage string }
		json.Unmarshal(out.Payload, &doc) //nolint:errcheck
		if aws.ToString(out.FunctionError) != "Unhandled" || doc.ErrorType != "Sandbox.Timedout" {
			t.Errorf("timeout: FunctionError %q body %s, want Unhandled Sandbox.Timedout", aws.ToString(out.FunctionError), out.Payload)
		}
		if !strings.Contains(doc.ErrorMessage, "Task timed out") {
			t.Errorf("timeout message %q", doc.ErrorMessage)
		}
	}()
	// Other invokes on the same EEs keep working meanwhile and after.
	for i := 0; i < 10; i++ {
		out, err := e.invoke("slow", "1", `{"sleep_ms":10}`)
		if err == nil && out.FunctionError == nil {
			quick.Add(1)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	time.Sleep(2 * time.Second) // the late answer of the timed-out invoke arrives and is dropped
	for i := 0; i < 5; i++ {
		if out, err := e.invoke("slow", "1", `{"sleep_ms":10}`); err == nil && out.FunctionError == nil {
			quick.Add(1)
		}
	}
	if quick.Load() != 15 {
		t.Fatalf("%d of 15 short invokes succeeded next to a timeout", quick.Load())
	}
}

func TestFunctionErrorIsA200WithErrorHeader(t *testing.T) {
	e := start(t)
	e.activeFunction("oops", fnOpts{})
	out, err := e.invoke("oops", "1", `{"error":"boom"}`)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ ErrorMessage, ErrorType string }
	if err := json.Unmarshal(out.Payload, &doc); err != nil {
		t.Fatalf("error body %s: %v", out.Payload, err)
	}
	if out.StatusCode != 200 || aws.ToString(out.FunctionError) != "Unhandled" || doc.ErrorMessage != "boom" || doc.ErrorType == "" {
		t.Fatalf("function error: status %d header %q body %s", out.StatusCode, aws.ToString(out.FunctionError), out.Payload)
	}
	if out, err := e.invoke("oops", "1", `{"fine":true}`); err != nil || out.FunctionError != nil {
		t.Fatalf("invoke after a function error: %v", err)
	}
}

func TestRuntimeCrashIsReplaced(t *testing.T) {
	e := start(t)
	e.activeFunction("crashy", fnOpts{maxConcurrency: 4})
	out, err := e.invoke("crashy", "1", `{"crash":true}`)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "Runtime.ExitError") {
		t.Fatalf("crash: header %q body %s, want Unhandled Runtime.ExitError", aws.ToString(out.FunctionError), out.Payload)
	}
	// The version stays Active and serves; the crashed EE is replaced.
	deadline := time.Now().Add(15 * time.Second)
	ok := 0
	for ok < 20 && time.Now().Before(deadline) {
		out, err := e.invoke("crashy", "1", `{"i":1}`)
		if err == nil && out.FunctionError == nil {
			ok++
		}
	}
	if ok < 20 {
		t.Fatalf("only %d invokes succeeded after the crash", ok)
	}
	deadline = time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if readyEEs(e, "crashy:1") == 3 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("EEs after crash: %d ready, want 3", readyEEs(e, "crashy:1"))
}

func readyEEs(e *env, key string) int {
	for _, s := range e.p.Scaler.Status() {
		if s.Key == key {
			return s.Ready
		}
	}
	return 0
}

func TestInitFailureFailsTheVersion(t *testing.T) {
	e := start(t)
	cp := e.capacityProvider("cp")
	e.function("broken", cp, fnOpts{example: "initfail"})
	v, st := e.publish("broken")
	if st != types.StateFailed {
		t.Fatalf("version %s is %s, want Failed", v, st)
	}
	c, err := e.lambda.GetFunctionConfiguration(ctx(t), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("broken"), Qualifier: aws.String(v)})
	if err != nil {
		t.Fatal(err)
	}
	if c.StateReasonCode != types.StateReasonCodeFunctionErrorRuntimeInitError || !strings.Contains(aws.ToString(c.StateReason), "init failed on purpose") {
		t.Fatalf("failed version: code %s reason %q", c.StateReasonCode, aws.ToString(c.StateReason))
	}
	_, err = e.invoke("broken", v, `{}`)
	apiError(t, err, "ResourceConflictException")
}

func TestLogTailCarriesOutputAndPlatformLines(t *testing.T) {
	e := start(t)
	e.activeFunction("chatty", fnOpts{})
	out, err := e.lambda.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("chatty"), Qualifier: aws.String("1"),
		LogType: types.LogTypeTail, Payload: []byte(`{"print":"hello from the function"}`)})
	if err != nil {
		t.Fatal(err)
	}
	log, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"START RequestId:", "hello from the function", "END RequestId:", "REPORT RequestId:"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("tail log lacks %q:\n%s", want, log)
		}
	}
}

func TestClientHangUpLeavesTheEEHealthy(t *testing.T) {
	e := start(t)
	e.activeFunction("patient", fnOpts{example: "sleep", maxConcurrency: 2, timeout: 10})
	for i := 0; i < 6; i++ {
		c, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, err := e.lambda.Invoke(c, &lambda.InvokeInput{FunctionName: aws.String("patient"), Qualifier: aws.String("1"), Payload: []byte(`{"sleep_ms":300}`)})
		cancel()
		if err == nil {
			t.Fatal("invoke outlived its context")
		}
	}
	time.Sleep(400 * time.Millisecond) // the abandoned sleeps end and free their slots
	for i := 0; i < 6; i++ {
		out, err := e.invoke("patient", "1", `{"sleep_ms":1}`)
		if err != nil || out.FunctionError != nil {
			t.Fatalf("invoke %d after hang-ups: %v", i, err)
		}
	}
}

func TestDryRun(t *testing.T) {
	e := start(t)
	e.activeFunction("dry", fnOpts{})
	out, err := e.lambda.Invoke(ctx(t), &lambda.InvokeInput{FunctionName: aws.String("dry"), Qualifier: aws.String("1"), InvocationType: types.InvocationTypeDryRun})
	if err != nil || out.StatusCode != 204 {
		t.Fatalf("DryRun: %v status %d", err, out.StatusCode)
	}
}
