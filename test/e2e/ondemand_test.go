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

	"github.com/paddockhq/paddock/internal/platform"
)

// defaultFunction creates a function in Lambda's default mode.
func (e *env) defaultFunction(name, example string, memory, timeout int32) {
	e.t.Helper()
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(roleARN), Code: &types.FunctionCode{ZipFile: exampleZip(e.t, example)},
		MemorySize: aws.Int32(memory), Timeout: aws.Int32(timeout),
	}
	out, err := e.lambda.CreateFunction(ctx(e.t), in)
	if err != nil {
		e.t.Fatalf("CreateFunction %s: %v", name, err)
	}
	// AWS answers CreateFunction Pending (StateReasonCode Creating), then
	// the function turns Active.
	if out.State != types.StatePending || out.StateReasonCode != types.StateReasonCodeCreating {
		e.t.Fatalf("default-mode function %s answered %s/%s, want Pending/Creating", name, out.State, out.StateReasonCode)
	}
	e.settled(name)
	if st := e.waitState(name, "$LATEST", func(types.State) bool { return true }); st != types.StateActive {
		e.t.Fatalf("default-mode function %s is %s, want Active", name, st)
	}
}

// tailInvoke invokes with LogType Tail and returns the output and the log.
func (e *env) tailInvoke(name, qualifier, payload string) (*lambda.InvokeOutput, string) {
	e.t.Helper()
	in := &lambda.InvokeInput{FunctionName: aws.String(name), LogType: types.LogTypeTail, Payload: []byte(payload)}
	if qualifier != "" {
		in.Qualifier = aws.String(qualifier)
	}
	out, err := e.lambda.Invoke(ctx(e.t), in)
	if err != nil {
		e.t.Fatalf("invoke %s: %v", name, err)
	}
	log, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	return out, string(log)
}

func TestDefaultModeColdStartThenWarm(t *testing.T) {
	e := start(t)
	e.defaultFunction("plain", "echo", 128, 3)
	out, log := e.tailInvoke("plain", "", `{"n":1}`)
	if string(out.Payload) != `{"n":1}` || aws.ToString(out.ExecutedVersion) != "$LATEST" {
		t.Fatalf("first invoke: %s version %s", out.Payload, aws.ToString(out.ExecutedVersion))
	}
	if !strings.Contains(log, "Init Duration:") || !strings.Contains(log, "Memory Size: 128 MB") {
		t.Fatalf("a cold start's REPORT lacks Init Duration or Memory Size:\n%s", log)
	}
	_, log = e.tailInvoke("plain", "$LATEST", `{"n":2}`)
	if strings.Contains(log, "Init Duration:") {
		t.Fatalf("the second invoke was cold again:\n%s", log)
	}
	if st := e.p.OnDemand.Stats(); st.ColdStarts != 1 || st.EEs != 1 {
		t.Fatalf("stats after cold then warm: %+v, want 1 cold start and 1 EE", st)
	}
	// A published version and an alias are invocable too.
	if v, st := e.publish("plain"); st != types.StateActive {
		t.Fatalf("version %s %s", v, st)
	}
	if _, err := e.lambda.CreateAlias(ctx(t), &lambda.CreateAliasInput{FunctionName: aws.String("plain"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	if out, err := e.invoke("plain", "live", `{"via":"alias"}`); err != nil || aws.ToString(out.ExecutedVersion) != "1" {
		t.Fatalf("invoke through alias: %v %v", err, out)
	}
}

func TestDefaultModeConcurrentInvokesStartConcurrentEEs(t *testing.T) {
	e := start(t)
	e.defaultFunction("par", "sleep", 128, 10)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := e.invoke("par", "", `{"sleep_ms":400}`); err != nil || out.FunctionError != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of 5 concurrent invokes failed", failed.Load())
	}
	if st := e.p.OnDemand.Stats(); st.ColdStarts != 5 || st.EEs != 5 {
		t.Fatalf("5 concurrent invokes: %+v, want 5 cold starts and 5 EEs (one request per EE)", st)
	}
}

func TestDefaultModeIdleEEsAreReaped(t *testing.T) {
	p, err := platform.Start(context.Background(), platform.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0",
		AccessKeyID: "AKIDPADDOCKTEST", SecretAccessKey: "paddock-test-secret", IdleTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	e := &env{t: t, p: p, lambda: client(p.Endpoint, p.AccessKeyID, p.SecretAccessKey)}
	e.defaultFunction("brief", "echo", 128, 3)
	if _, err := e.invoke("brief", "", `{}`); err != nil {
		t.Fatal(err)
	}
	if p.OnDemand.Stats().EEs != 1 {
		t.Fatalf("no warm EE after an invoke: %+v", p.OnDemand.Stats())
	}
	waitFor(t, "the idle EE reaped", func() bool { return p.OnDemand.Stats().EEs == 0 })
	if _, log := e.tailInvoke("brief", "", `{}`); !strings.Contains(log, "Init Duration:") {
		t.Fatalf("invoke after reaping was not a cold start:\n%s", log)
	}
}

func TestReservedConcurrencyThrottles(t *testing.T) {
	e := start(t)
	c := ctx(t)
	e.defaultFunction("capped", "sleep", 128, 10)
	if _, err := e.lambda.PutFunctionConcurrency(c, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("capped"), ReservedConcurrentExecutions: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	got, err := e.lambda.GetFunctionConcurrency(c, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("capped")})
	if err != nil || aws.ToInt32(got.ReservedConcurrentExecutions) != 2 {
		t.Fatalf("GetFunctionConcurrency: %v %+v", err, got)
	}
	acct, err := e.lambda.GetAccountSettings(c, &lambda.GetAccountSettingsInput{})
	if err != nil || acct.AccountLimit.ConcurrentExecutions != 1000 || aws.ToInt32(acct.AccountLimit.UnreservedConcurrentExecutions) != 998 {
		t.Fatalf("GetAccountSettings: %v %+v", err, acct.AccountLimit)
	}
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.invoke("capped", "", `{"sleep_ms":1500}`); err != nil {
				t.Errorf("invoke within the reservation: %v", err)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	_, err = e.invoke("capped", "", `{"sleep_ms":1}`)
	apiError(t, err, "TooManyRequestsException")
	var tm *types.TooManyRequestsException
	if !asErr(err, &tm) || tm.Reason != types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded {
		t.Fatalf("third concurrent invoke: %+v, want Reason ReservedFunctionConcurrentInvocationLimitExceeded", tm)
	}
	wg.Wait()

	if _, err := e.lambda.PutFunctionConcurrency(c, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("capped"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		_, err := e.invoke("capped", "", `{"sleep_ms":1}`)
		apiError(t, err, "TooManyRequestsException")
	}
	if _, err := e.lambda.DeleteFunctionConcurrency(c, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("capped")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.invoke("capped", "", `{"sleep_ms":1}`); err != nil {
		t.Fatalf("invoke after removing the reservation: %v", err)
	}
	_, err = e.lambda.PutFunctionConcurrency(c, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("capped"), ReservedConcurrentExecutions: aws.Int32(950)})
	apiError(t, err, "InvalidParameterValueException") // would leave fewer than 100 unreserved
}

func TestAccountConcurrencyLimit(t *testing.T) {
	p, err := platform.Start(context.Background(), platform.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0",
		AccessKeyID: "AKIDPADDOCKTEST", SecretAccessKey: "paddock-test-secret", AccountConcurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	e := &env{t: t, p: p, lambda: client(p.Endpoint, p.AccessKeyID, p.SecretAccessKey)}
	e.defaultFunction("busy", "sleep", 128, 10)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); e.invoke("busy", "", `{"sleep_ms":1500}`) }() //nolint:errcheck
	}
	time.Sleep(500 * time.Millisecond)
	_, err = e.invoke("busy", "", `{}`)
	var tm *types.TooManyRequestsException
	if !asErr(err, &tm) || tm.Reason != types.ThrottleReasonConcurrentInvocationLimitExceeded {
		t.Fatalf("over the account limit: %v, want Reason ConcurrentInvocationLimitExceeded", err)
	}
	wg.Wait()
}

func TestProvisionedConcurrencyHasNoColdStart(t *testing.T) {
	e := start(t)
	c := ctx(t)
	e.defaultFunction("ready", "echo", 128, 3)
	v, _ := e.publish("ready")
	_, err := e.lambda.PutProvisionedConcurrencyConfig(c, &lambda.PutProvisionedConcurrencyConfigInput{
		FunctionName: aws.String("ready"), Qualifier: aws.String(v), ProvisionedConcurrentExecutions: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "provisioned concurrency READY", func() bool {
		got, err := e.lambda.GetProvisionedConcurrencyConfig(c, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String("ready"), Qualifier: aws.String(v)})
		return err == nil && got.Status == types.ProvisionedConcurrencyStatusEnumReady && aws.ToInt32(got.AvailableProvisionedConcurrentExecutions) == 2
	})
	for i := 0; i < 3; i++ {
		if _, log := e.tailInvoke("ready", v, `{}`); strings.Contains(log, "Init Duration:") {
			t.Fatalf("invoke %d on provisioned concurrency was a cold start:\n%s", i, log)
		}
	}
	list, err := e.lambda.ListProvisionedConcurrencyConfigs(c, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String("ready")})
	if err != nil || len(list.ProvisionedConcurrencyConfigs) != 1 {
		t.Fatalf("ListProvisionedConcurrencyConfigs: %v %+v", err, list)
	}
	_, err = e.lambda.PutProvisionedConcurrencyConfig(c, &lambda.PutProvisionedConcurrencyConfigInput{
		FunctionName: aws.String("ready"), Qualifier: aws.String("$LATEST"), ProvisionedConcurrentExecutions: aws.Int32(1)})
	apiError(t, err, "InvalidParameterValueException")
	if _, err := e.lambda.DeleteProvisionedConcurrencyConfig(c, &lambda.DeleteProvisionedConcurrencyConfigInput{FunctionName: aws.String("ready"), Qualifier: aws.String(v)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.lambda.GetProvisionedConcurrencyConfig(c, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String("ready"), Qualifier: aws.String(v)})
	apiError(t, err, "ProvisionedConcurrencyConfigNotFoundException")
}

func TestMemoryLimitIsEnforced(t *testing.T) {
	e := start(t)
	e.defaultFunction("greedy", "echo", 128, 10)
	out, err := e.invoke("greedy", "", `{"alloc_mb":400}`)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ ErrorType, ErrorMessage string }
	json.Unmarshal(out.Payload, &doc) //nolint:errcheck
	if aws.ToString(out.FunctionError) != "Unhandled" || doc.ErrorType != "Runtime.OutOfMemory" {
		t.Fatalf("allocating past 128 MB: %q %s, want Unhandled Runtime.OutOfMemory", aws.ToString(out.FunctionError), out.Payload)
	}
	// The platform and the function go on.
	if out, err := e.invoke("greedy", "", `{"alloc_mb":10}`); err != nil || out.FunctionError != nil {
		t.Fatalf("invoke after an out-of-memory: %v %s", err, out.Payload)
	}
}

func TestDefaultModeTimeoutResetsTheEE(t *testing.T) {
	e := start(t)
	e.defaultFunction("late", "sleep", 128, 1)
	out, err := e.invoke("late", "", `{"sleep_ms":2000}`)
	if err != nil || !strings.Contains(string(out.Payload), "Sandbox.Timedout") {
		t.Fatalf("timeout: %v %s", err, out.Payload)
	}
	if _, log := e.tailInvoke("late", "", `{"sleep_ms":1}`); !strings.Contains(log, "Init Duration:") {
		t.Fatalf("the invoke after a timeout reused the EE instead of a fresh one:\n%s", log)
	}
}

// TestBurstOverflowServesASpikeWithout429s: an LMI version pinned at one
// EE of one slot refuses concurrent invokes, unless it carries the
// paddock:overflow=on-demand tag, which sends them to on-demand EEs.
func TestBurstOverflowServesASpikeWithout429s(t *testing.T) {
	e := start(t)
	c := ctx(t)
	cp := e.capacityProvider("cp")
	for _, fn := range []struct {
		name string
		tags map[string]string
	}{{"strict", nil}, {"elastic", map[string]string{"paddock:overflow": "on-demand"}}} {
		in := createInput(t, fn.name, cp, fnOpts{example: "sleep", maxConcurrency: 1, timeout: 10})
		in.Tags = fn.tags
		if _, err := e.lambda.CreateFunction(c, in); err != nil {
			t.Fatal(err)
		}
		if _, st := e.publish(fn.name); st != types.StateActive {
			t.Fatalf("%s not Active", fn.name)
		}
		if _, err := e.lambda.PutFunctionScalingConfig(c, &lambda.PutFunctionScalingConfigInput{FunctionName: aws.String(fn.name), Qualifier: aws.String("1"),
			FunctionScalingConfig: &types.FunctionScalingConfig{MinExecutionEnvironments: aws.Int32(1), MaxExecutionEnvironments: aws.Int32(1)}}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, fn.name+" at one EE", func() bool { return readyEEs(e, fn.name+":1") == 1 })
	}
	spike := func(name string) (throttled int32) {
		var wg sync.WaitGroup
		var n atomic.Int32
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.invoke(name, "1", `{"sleep_ms":500}`)
				var tm *types.TooManyRequestsException
				if asErr(err, &tm) {
					n.Add(1)
				} else if err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}()
		}
		wg.Wait()
		return n.Load()
	}
	if n := spike("strict"); n == 0 {
		t.Fatal("the version without overflow did not throttle a x4 spike on one slot: the test proves nothing")
	}
	if n := spike("elastic"); n != 0 {
		t.Fatalf("%d invokes throttled despite paddock:overflow=on-demand", n)
	}
	if st := e.p.OnDemand.Stats(); st.Overflowed < 3 {
		t.Fatalf("overflowed %d invokes, want at least 3", st.Overflowed)
	}
}

// TestUpdatedCodeNeverRunsOnOldEEs: after UpdateFunctionCode, $LATEST's
// warm EEs (with the old code) are not reused.
func TestUpdatedCodeNeverRunsOnOldEEs(t *testing.T) {
	e := start(t)
	e.defaultFunction("morph", "echo", 128, 3)
	if out, err := e.invoke("morph", "", `{"sleep_ms":1}`); err != nil || string(out.Payload) != `{"sleep_ms":1}` {
		t.Fatalf("echo: %v", err)
	}
	if _, err := e.lambda.UpdateFunctionCode(ctx(t), &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("morph"), ZipFile: exampleZip(t, "sleep")}); err != nil {
		t.Fatal(err)
	}
	e.settled("morph")
	out, err := e.invoke("morph", "", `{"sleep_ms":1}`)
	if err != nil || !strings.Contains(string(out.Payload), "slept_ms") {
		t.Fatalf("after UpdateFunctionCode the old code answered: %v %s", err, out.Payload)
	}
}
