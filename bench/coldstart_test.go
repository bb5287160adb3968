package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/paddockhq/paddock/internal/platform"
)

// TestColdStartBenchmark measures Lambda's default mode: the latency of
// invokes that start an execution environment (cold) and of invokes that
// reuse one (warm), beside the bare cost of starting the same bootstrap
// binary until it first asks the Runtime API for work, measured in the same
// run. Run it with bench/coldstart.sh; it prints numbers and asserts none.
func TestColdStartBenchmark(t *testing.T) {
	if os.Getenv("PADDOCK_BENCH") != "1" {
		t.Skip("set PADDOCK_BENCH=1 (bench/coldstart.sh) to run the cold start benchmark")
	}
	n := 50
	if s := os.Getenv("PADDOCK_BENCH_COLD"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	bootstrap := buildEcho(t)
	report(t, "machine: %d CPUs, %d cold starts per row", runtime.NumCPU(), n)

	// Baseline: fork/exec the bootstrap and wait for its first /next.
	bare := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		d, err := bareStart(bootstrap)
		if err != nil {
			t.Fatalf("bare start: %v", err)
		}
		bare = append(bare, d)
	}

	p, err := platform.Start(context.Background(), platform.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	lc := lambda.New(lambda.Options{Region: p.Region, BaseEndpoint: aws.String(p.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, "")})
	code, err := zipBootstrap(bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	// One function per cold start: each first invoke finds no warm EE.
	for i := 0; i < n; i++ {
		if _, err := lc.CreateFunction(context.Background(), &lambda.CreateFunctionInput{
			FunctionName: aws.String(fmt.Sprintf("cold-%d", i)), Runtime: types.RuntimeProvidedal2023,
			Handler: aws.String("bootstrap"), Role: aws.String("arn:aws:iam::000000000000:role/fn"),
			Code: &types.FunctionCode{ZipFile: code}, MemorySize: aws.Int32(128),
		}); err != nil {
			t.Fatal(err)
		}
	}
	// CreateFunction answers Pending, as on AWS; wait as AWS's users do.
	active := lambda.NewFunctionActiveV2Waiter(lc, func(o *lambda.FunctionActiveV2WaiterOptions) { o.MinDelay = 20 * time.Millisecond })
	for i := 0; i < n; i++ {
		if err := active.Wait(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String(fmt.Sprintf("cold-%d", i))}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	// Cold starts are told by the pool's counter, not by LogType Tail,
	// which would add its log collection to the latency.
	invoke := func(fn string) (time.Duration, bool, error) {
		before := p.OnDemand.Stats()
		body := []byte(`{"msg":"hi"}`)
		req, _ := http.NewRequest("POST", p.Endpoint+"/2015-03-31/functions/"+fn+"/invocations", strings.NewReader(string(body)))
		sum := sha256.Sum256(body)
		creds := aws.Credentials{AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", p.Region, time.Now()); err != nil {
			return 0, false, err
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, false, err
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		took := time.Since(start)
		if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "" {
			return 0, false, fmt.Errorf("status %d %s", resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"))
		}
		return took, p.OnDemand.Stats().ColdStarts > before.ColdStarts, nil
	}
	var cold, warm []time.Duration
	for i := 0; i < n; i++ {
		d, wasCold, err := invoke(fmt.Sprintf("cold-%d", i))
		if err != nil {
			t.Fatalf("cold invoke: %v", err)
		}
		if !wasCold {
			t.Fatalf("invoke %d was not a cold start", i)
		}
		cold = append(cold, d)
	}
	st := p.OnDemand.Stats()
	meanInit := st.InitDuration / time.Duration(st.ColdStarts)
	for i := 0; i < 5*n; i++ {
		d, wasCold, err := invoke("cold-0")
		if wasCold {
			t.Fatalf("warm invoke %d started an EE", i)
		}
		if err != nil {
			t.Fatalf("warm invoke: %v", err)
		}
		warm = append(warm, d)
	}
	row := func(name string, ds []time.Duration) {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		report(t, "%-44s p50 %9s  p99 %9s  (n=%d)", name, round(percentile(ds, 0.50)), round(percentile(ds, 0.99)), len(ds))
	}
	row("bare: fork/exec bootstrap until first /next", bare)
	row("paddock cold invoke (client-observed)", cold)
	report(t, "%-44s mean %8s", "paddock Init Duration (spawn to first /next)", round(meanInit))
	row("paddock warm invoke (client-observed)", warm)
	ratio := float64(percentile(cold, 0.5)) / float64(percentile(bare, 0.5))
	report(t, "goal: cold start p50 <= 3x bare process start: %.2fx: %s", ratio, metOrNot(ratio <= 3))
	report(t, "goal: cold start p50 < 30 ms: %s: %s", round(percentile(cold, 0.5)), metOrNot(percentile(cold, 0.5) < 30*time.Millisecond))
}

func metOrNot(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// bareStart starts bootstrap against a listener that only waits for the
// first GET /next, and returns how long that took: the cost of a process
// start and the runtime's own init, with no platform around it.
func bareStart(bootstrap string) (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	polled := make(chan struct{}, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case polled <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	})}
	go srv.Serve(ln) //nolint:errcheck
	defer srv.Close()
	cmd := exec.Command(bootstrap)
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(), "AWS_LAMBDA_FUNCTION_NAME=echo",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() }() //nolint:errcheck
	select {
	case <-polled:
		return time.Since(start), nil
	case <-time.After(10 * time.Second):
		return 0, fmt.Errorf("bootstrap did not poll /next within 10s")
	}
}
