package e2e

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// launchDelay is `paddock up`'s default --instance-launch-delay.
const launchDelay = 2 * time.Second

// TestKill9BringsEveryVersionBackInOneLaunch: 12 LMI versions (min 1 EE
// each, published at once) on one capacity provider; after kill -9 of the
// real binary and a restart on the same data dir, every version serves
// again in about one launch delay, not one launch delay per version: the
// scaler launches the instances of every version in one round.
func TestKill9BringsEveryVersionBackInOneLaunch(t *testing.T) {
	const versions = 12
	bin := paddockBinary(t)
	dir := t.TempDir()
	endpoint, stop := runBinary(t, bin, dir)
	cl := client(endpoint, "AKIDPADDOCKTEST", "paddock-test-secret")
	c := ctx(t)
	e := &env{t: t, lambda: cl}
	cp := e.capacityProvider("many")
	names := make([]string, versions)
	for i := range names {
		names[i] = fmt.Sprintf("many-%02d", i)
		e.function(names[i], cp, fnOpts{})
		// One EE per version keeps the machine's process count sane: 36
		// runtimes initializing at once on a busy 2-core machine can miss
		// the 10 s init timeout. A config on $LATEST.PUBLISHED carries over
		// to the versions published after it.
		if _, err := cl.PutFunctionScalingConfig(c, &lambda.PutFunctionScalingConfigInput{FunctionName: aws.String(names[i]), Qualifier: aws.String("$LATEST.PUBLISHED"),
			FunctionScalingConfig: &types.FunctionScalingConfig{MinExecutionEnvironments: aws.Int32(1), MaxExecutionEnvironments: aws.Int32(1)}}); err != nil {
			t.Fatalf("PutFunctionScalingConfig %s:$LATEST.PUBLISHED: %v", names[i], err)
		}
	}

	// Publish all at once: the same burst as a restart.
	began := time.Now()
	var wg sync.WaitGroup
	states := make([]types.State, versions)
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, states[i] = e.publish(n)
		}()
	}
	wg.Wait()
	for i, st := range states {
		if st != types.StateActive {
			t.Fatalf("%s:1 is %s after publishing, want Active", names[i], st)
		}
	}
	t.Logf("%d versions published at once: all Active in %v (launch delay %v)", versions, time.Since(began).Round(10*time.Millisecond), launchDelay)

	// One EE per version keeps the machine's process count sane.
	for _, n := range names {
		if _, err := cl.PutFunctionScalingConfig(c, &lambda.PutFunctionScalingConfigInput{FunctionName: aws.String(n), Qualifier: aws.String("1"),
			FunctionScalingConfig: &types.FunctionScalingConfig{MinExecutionEnvironments: aws.Int32(1), MaxExecutionEnvironments: aws.Int32(1)}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range names {
		if err := invokeUntil(e, n, time.Now().Add(30*time.Second), nil); err != nil {
			t.Fatalf("%s before the restart: %v", n, err)
		}
	}

	stop(syscall.SIGKILL)
	endpoint, stop = runBinary(t, bin, dir)
	restarted := time.Now()
	cl = client(endpoint, "AKIDPADDOCKTEST", "paddock-test-secret")
	e = &env{t: t, lambda: cl}
	defer stop(syscall.SIGINT)

	bound := 3*launchDelay + 10*time.Second
	var mu sync.Mutex
	var slowest time.Duration
	var starting string // a throttle's message while capacity starts
	errs := make([]error, versions)
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = invokeUntil(e, n, restarted.Add(bound), func(msg string) {
				mu.Lock()
				starting = msg
				mu.Unlock()
			})
			mu.Lock()
			slowest = max(slowest, time.Since(restarted))
			mu.Unlock()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s:1 not serving %v after the restart: %v", names[i], bound, err)
		}
	}
	t.Logf("after kill -9 and restart, all %d versions serve in %v (launch delay %v, bound %v)", versions, slowest.Round(10*time.Millisecond), launchDelay, bound)
	if starting != "" && !strings.Contains(starting, "capacity is starting") {
		t.Errorf("a throttle while the fleet starts says %q, want it to say the capacity is starting", starting)
	}
	if starting != "" {
		t.Logf("a throttle while starting: %s", starting)
	}
	for _, n := range names {
		cfg, err := cl.GetFunctionConfiguration(c, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(n), Qualifier: aws.String("1")})
		if err != nil || cfg.State != types.StateActive {
			t.Errorf("%s:1 after the restart: %v %v", n, err, cfg)
		}
	}
}

// invokeUntil invokes name:1 until it succeeds or the deadline passes,
// telling throttled the message of each 429.
func invokeUntil(e *env, name string, deadline time.Time, throttled func(string)) error {
	for {
		_, err := e.invoke(name, "1", `{}`)
		if err == nil {
			return nil
		}
		var tm *types.TooManyRequestsException
		if errors.As(err, &tm) && throttled != nil {
			throttled(aws.ToString(tm.Message))
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
