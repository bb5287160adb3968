package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/paddockhq/paddock/internal/platform"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestScalingConfigMovesEEsAndInstances: more min EEs start more EEs; a
// lower min drains the extra ones and empty instances are terminated;
// min = max = 0 deactivates the version and min > 0 brings it back.
func TestScalingConfigMovesEEsAndInstances(t *testing.T) {
	p, err := platform.Start(context.Background(), platform.Options{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", AccessKeyID: "AKIDPADDOCKTEST", SecretAccessKey: "paddock-test-secret",
		EmptyInstanceCooldown: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	e := &env{t: t, p: p, lambda: client(p.Endpoint, p.AccessKeyID, p.SecretAccessKey)}
	e.activeFunction("elastic", fnOpts{})
	c := ctx(t)
	if n := p.Scaler.InstanceCount("cp-elastic"); n != 3 {
		t.Fatalf("%d instances for min 3 EEs, want 3 (spread)", n)
	}
	put := func(min, max int32) types.State {
		t.Helper()
		out, err := e.lambda.PutFunctionScalingConfig(c, &lambda.PutFunctionScalingConfigInput{
			FunctionName: aws.String("elastic"), Qualifier: aws.String("1"),
			FunctionScalingConfig: &types.FunctionScalingConfig{MinExecutionEnvironments: aws.Int32(min), MaxExecutionEnvironments: aws.Int32(max)}})
		if err != nil {
			t.Fatal(err)
		}
		return out.FunctionState
	}

	put(5, 10)
	waitFor(t, "5 ready EEs", func() bool { return readyEEs(e, "elastic:1") == 5 })

	put(1, 1)
	waitFor(t, "1 ready EE", func() bool { return readyEEs(e, "elastic:1") == 1 })
	waitFor(t, "empty instances terminated", func() bool { return p.Scaler.InstanceCount("cp-elastic") == 1 })
	if out, err := e.invoke("elastic", "1", `{"still":"here"}`); err != nil || string(out.Payload) != `{"still":"here"}` {
		t.Fatalf("invoke on 1 EE: %v", err)
	}

	if st := put(0, 0); st != types.StateDeactivating {
		t.Fatalf("min=max=0 gave %s, want Deactivating", st)
	}
	if st := e.waitState("elastic", "1", func(s types.State) bool { return s == types.StateDeactivated }); st != types.StateDeactivated {
		t.Fatalf("state %s, want Deactivated", st)
	}
	_, err = e.invoke("elastic", "1", `{}`)
	apiError(t, err, "ResourceConflictException")

	if st := put(2, 4); st != types.StatePending {
		t.Fatalf("reactivation gave %s, want Pending", st)
	}
	if st := e.waitState("elastic", "1", func(s types.State) bool { return s == types.StateActive }); st != types.StateActive {
		t.Fatalf("state %s after reactivation, want Active", st)
	}
	if out, err := e.invoke("elastic", "1", `{"back":true}`); err != nil || string(out.Payload) != `{"back":true}` {
		t.Fatalf("invoke after reactivation: %v", err)
	}
	sc, err := e.lambda.GetFunctionScalingConfig(c, &lambda.GetFunctionScalingConfigInput{FunctionName: aws.String("elastic"), Qualifier: aws.String("1")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(sc.AppliedFunctionScalingConfig.MinExecutionEnvironments) != 2 || aws.ToInt32(sc.RequestedFunctionScalingConfig.MaxExecutionEnvironments) != 4 {
		t.Fatalf("scaling config %+v / %+v", sc.AppliedFunctionScalingConfig, sc.RequestedFunctionScalingConfig)
	}
}

// TestLatestPublishedScalingCarriesOver: a config on $LATEST.PUBLISHED
// applies to versions published later.
func TestLatestPublishedScalingCarriesOver(t *testing.T) {
	e := start(t)
	cp := e.capacityProvider("cp")
	e.function("carry", cp, fnOpts{})
	e.scale("carry", "$LATEST.PUBLISHED", 1, 2)
	if v, st := e.publish("carry"); st != types.StateActive {
		t.Fatalf("version %s %s", v, st)
	}
	waitFor(t, "1 EE", func() bool { return readyEEs(e, "carry:1") == 1 })
	time.Sleep(300 * time.Millisecond)
	if n := readyEEs(e, "carry:1"); n != 1 {
		t.Fatalf("%d EEs, want the carried-over minimum 1", n)
	}
}

// TestLostInstanceIsReplaced: an instance that stops heartbeating (its
// agent hangs, its EEs freeze) is dropped from routing and replaced, and
// the version gets its EEs back elsewhere.
func TestLostInstanceIsReplaced(t *testing.T) {
	e := start(t)
	e.activeFunction("sturdy", fnOpts{})
	insts := e.p.Scaler.Instances()
	if len(insts) != 3 {
		t.Fatalf("%d instances, want 3", len(insts))
	}
	victim := insts[0].ID
	if err := e.p.Provider.Freeze(victim); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lost instance replaced", func() bool {
		for _, in := range e.p.Scaler.Instances() {
			if in.ID == victim {
				return false
			}
		}
		return readyEEs(e, "sturdy:1") == 3 && e.p.Scaler.InstanceCount("cp-sturdy") == 3
	})
	for i := 0; i < 20; i++ {
		if out, err := e.invoke("sturdy", "1", `{"i":1}`); err != nil || out.FunctionError != nil {
			t.Fatalf("invoke %d after the replacement: %v %v", i, err, out)
		}
	}
}
