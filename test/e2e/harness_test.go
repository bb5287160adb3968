// Package e2e drives Paddock the way users do: the AWS SDK for Go v2 Lambda
// client, over HTTP, against a Paddock started on loopback, running real
// function processes built from examples/ with aws-lambda-go.
package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/paddockhq/paddock/internal/platform"
)

// zips holds the example functions, built once per test binary.
var (
	buildOnce sync.Once
	zips      map[string][]byte
	buildErr  error
)

func moduleRoot(t testing.TB) string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// exampleZip builds examples/NAME into a deployment zip.
func exampleZip(t testing.TB, name string) []byte {
	t.Helper()
	buildOnce.Do(func() {
		root := moduleRoot(t)
		dir, err := os.MkdirTemp("", "paddock-examples-")
		if err != nil {
			buildErr = err
			return
		}
		defer os.RemoveAll(dir)
		zips = map[string][]byte{}
		for _, ex := range []string{"echo", "sleep", "cpu", "initfail"} {
			bin := filepath.Join(dir, ex)
			cmd := exec.Command("go", "build", "-o", bin, "./examples/"+ex)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %v\n%s", ex, err, out)
				return
			}
			data, err := os.ReadFile(bin)
			if err != nil {
				buildErr = err
				return
			}
			zips[ex] = zipOf(map[string][]byte{"bootstrap": data})
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return zips[name]
}

func zipOf(files map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o755)
		w, _ := zw.CreateHeader(h)
		w.Write(data) //nolint:errcheck
	}
	zw.Close() //nolint:errcheck
	return buf.Bytes()
}

// env is one running Paddock and a client for it.
type env struct {
	t       *testing.T
	p       *platform.Platform
	lambda  *lambda.Client
	dataDir string
}

func start(t *testing.T) *env {
	t.Helper()
	return startIn(t, t.TempDir())
}

func startIn(t *testing.T, dataDir string, with ...func(*platform.Options)) *env {
	t.Helper()
	opts := platform.Options{
		DataDir: dataDir, Listen: "127.0.0.1:0",
		AccessKeyID: "AKIDPADDOCKTEST", SecretAccessKey: "paddock-test-secret",
	}
	for _, f := range with {
		f(&opts)
	}
	p, err := platform.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("start paddock: %v", err)
	}
	e := &env{t: t, p: p, dataDir: dataDir, lambda: client(p.Endpoint, p.AccessKeyID, p.SecretAccessKey)}
	t.Cleanup(p.Close)
	return e
}

func client(endpoint, key, secret string) *lambda.Client {
	return lambda.New(lambda.Options{
		BaseEndpoint:     aws.String(endpoint),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
		RetryMaxAttempts: 1,
	})
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

const (
	roleARN = "arn:aws:iam::000000000000:role/fn"
	opRole  = "arn:aws:iam::000000000000:role/op"
)

// capacityProvider creates a capacity provider and returns its ARN.
func (e *env) capacityProvider(name string) string {
	e.t.Helper()
	out, err := e.lambda.CreateCapacityProvider(ctx(e.t), &lambda.CreateCapacityProviderInput{
		CapacityProviderName: aws.String(name),
		VpcConfig:            &types.CapacityProviderVpcConfig{SubnetIds: []string{"subnet-1"}, SecurityGroupIds: []string{"sg-1"}},
		PermissionsConfig:    &types.CapacityProviderPermissionsConfig{CapacityProviderOperatorRoleArn: aws.String(opRole)},
	})
	if err != nil {
		e.t.Fatalf("CreateCapacityProvider %s: %v", name, err)
	}
	return aws.ToString(out.CapacityProvider.CapacityProviderArn)
}

type fnOpts struct {
	example        string
	maxConcurrency int32
	timeout        int32
	memory         int32
}

// function creates an LMI function from an example.
func (e *env) function(name, cpARN string, o fnOpts) *lambda.CreateFunctionOutput {
	e.t.Helper()
	in := createInput(e.t, name, cpARN, o)
	out, err := e.lambda.CreateFunction(ctx(e.t), in)
	if err != nil {
		e.t.Fatalf("CreateFunction %s: %v", name, err)
	}
	e.settled(name)
	return out
}

// settled waits, with the SDK's function-updated-v2 waiter as AWS's users
// do, until the function's creation or last update is over: Lambda answers
// CreateFunction Pending and updates InProgress, and refuses a publish or
// another update until then.
func (e *env) settled(name string) {
	e.t.Helper()
	w := lambda.NewFunctionUpdatedV2Waiter(e.lambda, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctx(e.t), &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 30*time.Second); err != nil {
		e.t.Fatalf("waiting for %s to settle: %v", name, err)
	}
}

func createInput(t testing.TB, name, cpARN string, o fnOpts) *lambda.CreateFunctionInput {
	if o.example == "" {
		o.example = "echo"
	}
	if o.memory == 0 {
		o.memory = 2048
	}
	lmi := &types.LambdaManagedInstancesCapacityProviderConfig{CapacityProviderArn: aws.String(cpARN)}
	if o.maxConcurrency > 0 {
		lmi.PerExecutionEnvironmentMaxConcurrency = aws.Int32(o.maxConcurrency)
	}
	in := &lambda.CreateFunctionInput{
		FunctionName:           aws.String(name),
		Runtime:                types.RuntimeProvidedal2023,
		Handler:                aws.String("bootstrap"),
		Role:                   aws.String(roleARN),
		Code:                   &types.FunctionCode{ZipFile: exampleZip(t, o.example)},
		MemorySize:             aws.Int32(o.memory),
		CapacityProviderConfig: &types.CapacityProviderConfig{LambdaManagedInstancesCapacityProviderConfig: lmi},
	}
	if o.timeout > 0 {
		in.Timeout = aws.Int32(o.timeout)
	}
	return in
}

// publish publishes $LATEST and waits for the version to leave Pending.
// scale sets the EE range of the function's qualifier (PutFunctionScalingConfig).
func (e *env) scale(name, qualifier string, min, max int32) {
	e.t.Helper()
	if _, err := e.lambda.PutFunctionScalingConfig(ctx(e.t), &lambda.PutFunctionScalingConfigInput{
		FunctionName: aws.String(name), Qualifier: aws.String(qualifier),
		FunctionScalingConfig: &types.FunctionScalingConfig{MinExecutionEnvironments: aws.Int32(min), MaxExecutionEnvironments: aws.Int32(max)}}); err != nil {
		e.t.Fatalf("PutFunctionScalingConfig %s:%s: %v", name, qualifier, err)
	}
}

func (e *env) publish(name string) (string, types.State) {
	e.t.Helper()
	e.settled(name)
	out, err := e.lambda.PublishVersion(ctx(e.t), &lambda.PublishVersionInput{FunctionName: aws.String(name)})
	if err != nil {
		e.t.Fatalf("PublishVersion %s: %v", name, err)
	}
	v := aws.ToString(out.Version)
	return v, e.waitState(name, v, func(s types.State) bool { return s != types.StatePending })
}

// waitState polls a version until done(state) holds, for up to 30 s.
func (e *env) waitState(name, version string, done func(types.State) bool) types.State {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := e.lambda.GetFunctionConfiguration(ctx(e.t), &lambda.GetFunctionConfigurationInput{
			FunctionName: aws.String(name), Qualifier: aws.String(version)})
		if err != nil {
			e.t.Fatalf("GetFunctionConfiguration %s:%s: %v", name, version, err)
		}
		if done(c.State) || time.Now().After(deadline) {
			return c.State
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// activeFunction is a capacity provider, a function and an Active version 1.
func (e *env) activeFunction(name string, o fnOpts) {
	e.t.Helper()
	cp := e.capacityProvider("cp-" + name)
	e.function(name, cp, o)
	if v, st := e.publish(name); st != types.StateActive {
		e.t.Fatalf("version %s of %s is %s, want Active", v, name, st)
	}
	// Unqualified invokes of an LMI function run $LATEST.PUBLISHED, which
	// only PublishTo moves (a plain publish gives NoPublishedVersionException
	// on AWS); $LATEST is unchanged, so this is version 1 again.
	if _, err := e.lambda.PublishVersion(ctx(e.t), &lambda.PublishVersionInput{
		FunctionName: aws.String(name), PublishTo: types.FunctionVersionLatestPublishedLatestPublished}); err != nil {
		e.t.Fatalf("PublishVersion %s PublishTo LATEST_PUBLISHED: %v", name, err)
	}
}

func (e *env) invoke(name, qualifier, payload string) (*lambda.InvokeOutput, error) {
	in := &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload)}
	if qualifier != "" {
		in.Qualifier = aws.String(qualifier)
	}
	return e.lambda.Invoke(ctx(e.t), in)
}

// apiError asserts err is the AWS error code (and HTTP status when given).
func apiError(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("got %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
}

// signedCall sends a request signed with the test keys and returns the
// status and X-Amzn-ErrorType.
func (e *env) signedCall(method, path, body string) (int, string) {
	e.t.Helper()
	resp := e.signedDo(method, path, body)
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body) //nolint:errcheck
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType")
}

// signedDo sends a request signed with the test keys; the caller closes
// the response body.
func (e *env) signedDo(method, path, body string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.p.Endpoint+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: e.p.AccessKeyID, SecretAccessKey: e.p.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now()); err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// The paddock command, built once for the tests that run it.
var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// paddockBinary returns the paddock command built from this tree.
func paddockBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "paddock-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "paddock")
		build := exec.Command("go", "build", "-o", binPath, "./cmd/paddock")
		build.Dir = moduleRoot(t)
		if out, err := build.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("build paddock: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// TestMain removes the built command once every test has run. The AWS
// SDK in Paddock (destinations, the ec2 provider) finds fake keys in the
// environment: the tests point it at moto_server, never at AWS.
func TestMain(m *testing.M) {
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": ""} {
		os.Setenv(k, v) //nolint:errcheck // never fails for these names
	}
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func asErr[T error](err error, target *T) bool { return errors.As(err, target) }
