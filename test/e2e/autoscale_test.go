package e2e

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/paddockhq/paddock/internal/platform"
	"github.com/paddockhq/paddock/internal/scaler"
)

// TestCPULoadGrowsAndShrinksTheFleet: examples/cpu under rising load grows
// from 3 EEs to more, on more instances, then shrinks back once the load
// stops, and no invoke fails on the way. The autoscaler's windows are
// shortened so the test takes seconds, not minutes.
func TestCPULoadGrowsAndShrinksTheFleet(t *testing.T) {
	p, err := platform.Start(context.Background(), platform.Options{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", AccessKeyID: "AKIDPADDOCKTEST", SecretAccessKey: "paddock-test-secret",
		LaunchDelay: 200 * time.Millisecond, EmptyInstanceCooldown: time.Second,
		Tuning: scaler.Tuning{StableWindow: 4 * time.Second, PanicWindow: 2 * time.Second, ScaleDownDelay: 3 * time.Second, MaxScaleDownPerMinute: 30},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	e := &env{t: t, p: p, lambda: client(p.Endpoint, p.AccessKeyID, p.SecretAccessKey)}
	e.activeFunction("burn", fnOpts{example: "cpu", maxConcurrency: 4, timeout: 30})
	startInstances := p.Scaler.InstanceCount("cp-burn")

	var failed, done atomic.Int64
	var peakEEs, peakInstances atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	worker := func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			out, err := e.lambda.Invoke(context.Background(), &lambda.InvokeInput{
				FunctionName: aws.String("burn"), Qualifier: aws.String("1"), Payload: []byte(`{"work":40}`)})
			if err != nil || out.FunctionError != nil {
				failed.Add(1)
				t.Logf("invoke failed: %v", err)
				continue
			}
			done.Add(1)
		}
	}
	watch := func() {
		for _, s := range p.Scaler.Status() {
			if s.Key == "burn:1" && int64(s.Live) > peakEEs.Load() {
				peakEEs.Store(int64(s.Live))
			}
		}
		if n := int64(p.Scaler.InstanceCount("cp-burn")); n > peakInstances.Load() {
			peakInstances.Store(n)
		}
	}
	// Rising load: 2, then 6, then 10 concurrent callers (10 stays under
	// the 12 slots of 3 EEs, so nothing is ever throttled).
	for _, callers := range []int{2, 4, 4} {
		for i := 0; i < callers; i++ {
			wg.Add(1)
			go worker()
		}
		for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			watch()
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for peakEEs.Load() <= 3 && time.Now().Before(deadline) {
		watch()
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d invokes under load; peak %d EEs on %d instances (started with 3 EEs on %d)", done.Load(), peakEEs.Load(), peakInstances.Load(), startInstances)
	if peakEEs.Load() <= 3 || peakInstances.Load() <= int64(startInstances) {
		t.Fatalf("the fleet did not grow: peak %d EEs, %d instances", peakEEs.Load(), peakInstances.Load())
	}
	waitFor(t, "scale-in back to 3 EEs", func() bool {
		for _, s := range p.Scaler.Status() {
			if s.Key == "burn:1" {
				return s.Live == 3 && s.Ready == 3
			}
		}
		return false
	})
	waitFor(t, "empty instances terminated", func() bool { return p.Scaler.InstanceCount("cp-burn") == startInstances })
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d invokes failed while the fleet grew and shrank", n)
	}
	if out, err := e.invoke("burn", "1", `{"work":1}`); err != nil || out.FunctionError != nil {
		t.Fatalf("invoke after scale-in: %v", err)
	}
}
