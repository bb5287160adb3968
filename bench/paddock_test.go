package bench

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/paddockhq/paddock/internal/platform"
)

// startPaddock starts the whole platform in-process (what `paddock up`
// runs: its instances are agents in this process), deploys the echo
// bootstrap on it (deployEcho) and returns the target for its synchronous
// Invoke API.
func startPaddock(ctx context.Context, t *testing.T, bootstrap string) (*target, error) {
	p, err := platform.Start(ctx, platform.Options{
		DataDir: t.TempDir(),
		Listen:  "127.0.0.1:0",
		// No simulated instance launch time: the benchmark measures
		// invokes, not scale-out.
		LaunchDelay: 0,
	})
	if err != nil {
		return nil, fmt.Errorf("start platform: %w", err)
	}
	t.Cleanup(p.Close)
	return deployEcho(ctx, t, p, "paddock", bootstrap)
}

// deployEcho deploys the echo bootstrap on p as a Lambda Managed Instances
// function with one execution environment of 64 workers (the relay's
// shape), publishes it as version 1 and returns the target, named name,
// for its synchronous Invoke API. Every Paddock target of the benchmarks
// is deployed here, so they differ only in the platform under them.
func deployEcho(ctx context.Context, t *testing.T, p *platform.Platform, name, bootstrap string) (*target, error) {
	code, err := zipBootstrap(bootstrap)
	if err != nil {
		return nil, err
	}
	return deployFunction(ctx, t, p, name, benchFunction{name: "echo", runtime: types.RuntimeProvidedal2023, handler: "bootstrap", zip: code})
}

// benchFunction is a function the benchmarks deploy: an echo, whatever its
// runtime.
type benchFunction struct {
	name    string
	runtime types.Runtime
	handler string
	zip     []byte
}

// deployFunction deploys fn as deployEcho describes (on capacity provider
// "bench", made by the first call).
func deployFunction(ctx context.Context, t *testing.T, p *platform.Platform, name string, fn benchFunction) (*target, error) {
	// The SDK is used for the control plane only (a handful of calls); the
	// load itself goes through the same plain client as the baselines.
	lc := lambda.New(lambda.Options{
		Region:       p.Region,
		BaseEndpoint: aws.String(p.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, ""),
	})

	cpARN := "arn:aws:lambda:" + p.Region + ":000000000000:capacity-provider:bench"
	_, err := lc.CreateCapacityProvider(ctx, &lambda.CreateCapacityProviderInput{
		CapacityProviderName: aws.String("bench"),
		VpcConfig: &types.CapacityProviderVpcConfig{
			SubnetIds:        []string{"subnet-1"},
			SecurityGroupIds: []string{"sg-1"},
		},
		PermissionsConfig: &types.CapacityProviderPermissionsConfig{
			CapacityProviderOperatorRoleArn: aws.String("arn:aws:iam::000000000000:role/op"),
		},
	})
	var exists *types.ResourceConflictException
	if err != nil && !errors.As(err, &exists) {
		return nil, fmt.Errorf("CreateCapacityProvider: %w", err)
	}

	_, err = lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(fn.name),
		Runtime:      fn.runtime,
		Handler:      aws.String(fn.handler),
		Role:         aws.String("arn:aws:iam::000000000000:role/fn"),
		Code:         &types.FunctionCode{ZipFile: fn.zip},
		// 4096 MB = 2 vCPUs: the EE's cgroup CPU quota then matches this
		// 2-core machine, as the relay's unconfined process has it all.
		MemorySize: aws.Int32(4096),
		CapacityProviderConfig: &types.CapacityProviderConfig{
			LambdaManagedInstancesCapacityProviderConfig: &types.LambdaManagedInstancesCapacityProviderConfig{
				CapacityProviderArn:                   aws.String(cpARN),
				PerExecutionEnvironmentMaxConcurrency: aws.Int32(workers),
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("CreateFunction: %w", err)
	}

	// A published version starts with the default minimum of 3 execution
	// environments, spread over 3 instances. The relay runs one process
	// with 64 workers, so pin Paddock to the same single EE, and do it on
	// $LATEST.PUBLISHED before publishing, which carries the config to the
	// new version: it starts with that one EE (and needs one instance only,
	// which a cluster of one agent has) rather than scaling in from three.
	_, err = lc.PutFunctionScalingConfig(ctx, &lambda.PutFunctionScalingConfigInput{
		FunctionName: aws.String(fn.name),
		Qualifier:    aws.String("$LATEST.PUBLISHED"),
		FunctionScalingConfig: &types.FunctionScalingConfig{
			MinExecutionEnvironments: aws.Int32(1),
			MaxExecutionEnvironments: aws.Int32(1),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("PutFunctionScalingConfig: %w", err)
	}

	// Publishing can be refused while $LATEST is still being created
	// (ResourceConflictException, as on AWS), so retry that for a while.
	var ver string
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := lc.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(fn.name)})
		if err == nil {
			ver = aws.ToString(out.Version)
			break
		}
		var conflict *types.ResourceConflictException
		if !errors.As(err, &conflict) || time.Now().After(deadline) {
			return nil, fmt.Errorf("PublishVersion: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if ver != "1" {
		return nil, fmt.Errorf("PublishVersion: got version %q, want 1", ver)
	}
	if err := waitActive(ctx, lc, fn.name, ver, 60*time.Second); err != nil {
		return nil, err
	}

	for _, s := range p.Scaler.Status() {
		report(t, "%s: scaler status %s: desired %d, live %d, ready %d (%s)", name, s.Key, s.Desired, s.Live, s.Ready, s.Why)
	}
	report(t, "%s: 1 EE x %d workers, same as the relay (endpoint %s)", name, workers, p.Endpoint)

	url := p.Endpoint + "/2015-03-31/functions/" + fn.name + "/invocations?Qualifier=" + ver
	creds := aws.Credentials{AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey}
	sum := sha256.Sum256(payload)
	hash := hex.EncodeToString(sum[:])
	return &target{
		name: name,
		url:  url,
		// One signature per run, reused for every request of it: signing
		// per request would add client CPU that the baselines do not pay,
		// on the same 2 cores as the servers. A signature is valid for 5
		// minutes, longer than any run, and the server does not reject
		// replays.
		header: func() (http.Header, error) {
			req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
			if err != nil {
				return nil, err
			}
			if err := v4.NewSigner().SignHTTP(ctx, creds, req, hash, "lambda", p.Region, time.Now()); err != nil {
				return nil, err
			}
			return req.Header.Clone(), nil
		},
	}, nil
}

// waitActive polls the version's configuration until its State is Active.
func waitActive(ctx context.Context, lc *lambda.Client, function, ver string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		out, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{
			FunctionName: aws.String(function),
			Qualifier:    aws.String(ver),
		})
		if err != nil {
			return fmt.Errorf("GetFunctionConfiguration: %w", err)
		}
		if out.State == types.StateActive {
			return nil
		}
		last = fmt.Sprintf("State %s, reason %q (%s)", out.State, aws.ToString(out.StateReason), out.StateReasonCode)
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("version %s not Active after %s: last %s", ver, timeout, last)
}

// zipBootstrap packs the binary as a deployment package: a single
// executable named bootstrap at the root, as provided.al2023 expects.
func zipBootstrap(path string) ([]byte, error) {
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	fh := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	fh.SetMode(0o755)
	f, err := zw.CreateHeader(fh)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(bin); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
