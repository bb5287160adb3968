package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestRestartBringsEverythingBack: a clean stop and start on the same data
// dir keeps capacity providers, functions, versions, aliases and scaling
// configs, and restarts the EEs of active versions.
func TestRestartBringsEverythingBack(t *testing.T) {
	dir := t.TempDir()
	e := startIn(t, dir)
	e.activeFunction("keep", fnOpts{maxConcurrency: 4})
	c := ctx(t)
	if _, err := e.lambda.CreateAlias(c, &lambda.CreateAliasInput{FunctionName: aws.String("keep"), Name: aws.String("prod"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lambda.PutFunctionScalingConfig(c, &lambda.PutFunctionScalingConfigInput{FunctionName: aws.String("keep"), Qualifier: aws.String("1"),
		FunctionScalingConfig: &types.FunctionScalingConfig{MinExecutionEnvironments: aws.Int32(4), MaxExecutionEnvironments: aws.Int32(10)}}); err != nil {
		t.Fatal(err)
	}
	before, err := e.lambda.GetFunction(c, &lambda.GetFunctionInput{FunctionName: aws.String("keep")})
	if err != nil {
		t.Fatal(err)
	}
	e.p.Close()

	e2 := startIn(t, dir)
	after, err := e2.lambda.GetFunction(c, &lambda.GetFunctionInput{FunctionName: aws.String("keep")})
	if err != nil {
		t.Fatalf("function lost in restart: %v", err)
	}
	if aws.ToString(after.Configuration.RevisionId) != aws.ToString(before.Configuration.RevisionId) ||
		aws.ToString(after.Configuration.CodeSha256) != aws.ToString(before.Configuration.CodeSha256) {
		t.Fatalf("function changed in restart: %+v vs %+v", after.Configuration, before.Configuration)
	}
	if _, err := e2.lambda.GetCapacityProvider(c, &lambda.GetCapacityProviderInput{CapacityProviderName: aws.String("cp-keep")}); err != nil {
		t.Fatalf("capacity provider lost: %v", err)
	}
	sc, err := e2.lambda.GetFunctionScalingConfig(c, &lambda.GetFunctionScalingConfigInput{FunctionName: aws.String("keep"), Qualifier: aws.String("1")})
	if err != nil || aws.ToInt32(sc.RequestedFunctionScalingConfig.MinExecutionEnvironments) != 4 {
		t.Fatalf("scaling config lost: %v %+v", err, sc)
	}
	// EEs come back; the alias still routes.
	var out *lambda.InvokeOutput
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out, err = e2.invoke("keep", "prod", `{"after":"restart"}`)
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || string(out.Payload) != `{"after":"restart"}` {
		t.Fatalf("invoke after restart: %v", err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for readyEEs(e2, "keep:1") != 4 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := readyEEs(e2, "keep:1"); n != 4 {
		t.Fatalf("%d EEs after restart, want the configured minimum 4", n)
	}
}

// TestKill9KeepsAcknowledgedWrites runs the real binary, kills it with
// SIGKILL right after acknowledged writes, and finds them after a restart.
// It also checks that no function process outlives the platform.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	bin := paddockBinary(t)
	dir := t.TempDir()
	endpoint, stop := runBinary(t, bin, dir)
	cl := client(endpoint, "AKIDPADDOCKTEST", "paddock-test-secret")
	c := ctx(t)
	e := &env{t: t, lambda: cl}
	cp := e.capacityProvider("durable")
	e.function("durable-fn", cp, fnOpts{})
	v, st := e.publish("durable-fn")
	if st != types.StateActive {
		t.Fatalf("version %s %s", v, st)
	}
	if _, err := cl.CreateAlias(c, &lambda.CreateAliasInput{FunctionName: aws.String("durable-fn"), Name: aws.String("a1"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	stop(syscall.SIGKILL)
	if n := countProcesses(dir); n != 0 {
		t.Fatalf("%d function processes outlived kill -9 of paddock", n)
	}

	endpoint, stop = runBinary(t, bin, dir)
	cl = client(endpoint, "AKIDPADDOCKTEST", "paddock-test-secret")
	if _, err := cl.GetAlias(c, &lambda.GetAliasInput{FunctionName: aws.String("durable-fn"), Name: aws.String("a1")}); err != nil {
		t.Fatalf("alias acknowledged before kill -9 is gone: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if _, err = cl.Invoke(c, &lambda.InvokeInput{FunctionName: aws.String("durable-fn"), Qualifier: aws.String("a1"), Payload: []byte(`{}`)}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("invoke after kill -9 and restart: %v", err)
	}
	stop(syscall.SIGINT)
	if n := countProcesses(dir); n != 0 {
		t.Fatalf("%d function processes left after Ctrl-C", n)
	}
}

// runBinary starts `paddock up` (with args) on a free port and returns its endpoint
// and a function that signals it and waits for it to exit.
func runBinary(t *testing.T, bin, dir string, args ...string) (string, func(syscall.Signal)) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"up", "--listen", "127.0.0.1:0", "--data-dir", dir}, args...)...)
	cmd.Env = append(os.Environ(), "PADDOCK_ACCESS_KEY_ID=AKIDPADDOCKTEST", "PADDOCK_SECRET_ACCESS_KEY=paddock-test-secret")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "listens on "); i >= 0 {
				f := strings.Fields(line[i+len("listens on "):])
				found <- f[0]
			}
		}
	}()
	var endpoint string
	select {
	case endpoint = <-found:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill() //nolint:errcheck
		t.Fatal("paddock up did not print its endpoint")
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() //nolint:errcheck
	stop := func(sig syscall.Signal) {
		cmd.Process.Signal(sig) //nolint:errcheck
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill() //nolint:errcheck
			t.Errorf("paddock did not exit on %v", sig)
		}
		time.Sleep(200 * time.Millisecond) // let the kernel deliver the death signal to children
	}
	t.Cleanup(func() { stop(syscall.SIGKILL) })
	return endpoint, stop
}

// countProcesses counts processes whose working directory lies under dir
// (EEs run from the code cache inside the data dir).
func countProcesses(dir string) int {
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err == nil && strings.HasPrefix(cwd, dir) {
			n++
		}
	}
	return n
}
