package main

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/lambdaapi"
)

const (
	defaultDeployRole = "arn:aws:iam::000000000000:role/paddock"
	// Lambda's defaults: a capacity provider's EEs start at 2 GiB (one vCPU
	// at 2 GiB per vCPU); default mode starts at 128 MB.
	defaultLMIMemoryMB    = 2048
	defaultOnDemandMemory = 128
	defaultDeployRuntime  = "provided.al2023"
	// The runtimes and handlers a Node.js or Python directory gets unless
	// --runtime and --handler say otherwise (the handlers are the Lambda
	// console's defaults).
	defaultNodeRuntime     = "nodejs22.x"
	defaultNodeHandler     = "index.handler"
	defaultPythonRuntime   = "python3.13"
	defaultPythonHandler   = "lambda_function.lambda_handler"
	defaultDeployWaitLimit = 10 * time.Minute
)

type deployOptions struct {
	name, capacityProvider, arch, role, runtime string
	handler                                     string
	memory, timeout, maxConcurrency, min, max   int32
	env                                         []string
	waitTimeout                                 time.Duration
}

func deployCommand() *cobra.Command {
	var o deployOptions
	cmd := &cobra.Command{
		Use:   "deploy DIR|GO_PACKAGE|ZIP --name FUNCTION",
		Short: "Build, upload and publish a function, and wait until its version is Active",
		Long: `Deploy a function to a running Paddock in one step:

  1. package the code:
     - a directory with a bootstrap file: its whole tree, zipped as it is
       (bootstrap must be executable);
     - a directory of Go source without a bootstrap, or a Go package path:
       built with GOOS=linux GOARCH=<arch> CGO_ENABLED=0 into bootstrap;
     - a Node.js directory (package.json or .mjs/.js/.cjs files) or a Python
       one (.py files): its whole tree, node_modules included, without
       .git and __pycache__; it runs on nodejs22.x (handler index.handler)
       or python3.13 (lambda_function.lambda_handler) unless --runtime and
       --handler say otherwise;
     - a .zip file: uploaded as it is;
  2. create the function, or update its code (and the settings given by flags)
     when it exists;
  3. publish a version, and with --capacity-provider (Lambda Managed
     Instances) wait until the version's execution environments (EEs) are up
     and it is Active, showing their progress.

Without --capacity-provider the function runs in Lambda's default mode, with
EEs started on demand. On an existing function, only the flags you give
change its settings: the others keep their current values.

Calls are signed like any AWS CLI call, with AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (paddock up prints the pair) or the --profile given.`,
		Example: `  # A Go function on capacity provider cp1, 16 requests at once per EE
  paddock deploy ./examples/echo --name echo --capacity-provider cp1 --max-concurrency 16

  # A prebuilt bootstrap, in default mode, with environment variables
  paddock deploy ./dist --name api --env LOG_LEVEL=debug --env STAGE=dev

  # A Node.js directory, its handler exported from app.mjs
  paddock deploy ./examples/nodejs --name hello --handler index.echo

  # A Python directory on capacity provider cp1
  paddock deploy ./examples/python --name hello-py --handler handler.echo --capacity-provider cp1

  # More memory and at least 5 EEs for the next version
  paddock deploy ./examples/echo --name echo --memory 4096 --min 5`,
		Args:          cobra.ExactArgs(1),
		SilenceErrors: true, // main prints the error once, prefixed with "paddock:"
	}
	client := addClientFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "function name (required)")
	f.StringVar(&o.capacityProvider, "capacity-provider", "", "capacity provider name or ARN: run on Lambda Managed Instances (default: Lambda's default mode)")
	f.StringVar(&o.arch, "arch", "", "x86_64 or arm64 (default: the existing function's, else the capacity provider's, else this machine's)")
	f.Int32Var(&o.memory, "memory", 0, "memory in MB (default 2048 with a capacity provider, 128 without)")
	f.Int32Var(&o.timeout, "timeout", 0, "timeout in seconds (default Lambda's, 3)")
	f.Int32Var(&o.maxConcurrency, "max-concurrency", 0, "requests at once per EE (PerExecutionEnvironmentMaxConcurrency; capacity provider only)")
	f.StringArrayVar(&o.env, "env", nil, "environment variable KEY=VALUE (repeatable; replaces all the function's variables)")
	f.StringVar(&o.role, "role", defaultDeployRole, "execution role ARN")
	f.StringVar(&o.runtime, "runtime", "", "runtime: provided.al2023, provided.al2, nodejs22.x, nodejs24.x, python3.13, python3.14, java21, java25 (default: provided.al2023 for a bootstrap or Go, nodejs22.x for Node.js, python3.13 for Python)")
	f.StringVar(&o.handler, "handler", "", "handler: module.function for Node.js and Python, package.Class::method for Java (default: index.handler for Node.js, lambda_function.lambda_handler for Python; bootstrap for custom runtimes)")
	f.Int32Var(&o.min, "min", 0, "minimum EEs of the new version (PutFunctionScalingConfig; capacity provider only)")
	f.Int32Var(&o.max, "max", 0, "maximum EEs of the new version (PutFunctionScalingConfig; capacity provider only)")
	f.DurationVar(&o.waitTimeout, "wait-timeout", defaultDeployWaitLimit, "how long to wait for the version to become Active")
	if err := cmd.MarkFlagRequired("name"); err != nil {
		panic(err) // the flag is defined just above
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		cfg, api, err := client.lambdaSDKConfig(ctx)
		if err != nil {
			return err
		}
		d := &deployer{
			lc: lambda.NewFromConfig(cfg), api: api, o: o, changed: cmd.Flags().Changed,
			out: cmd.OutOrStdout(), line: newStatusLine(cmd.ErrOrStderr()),
		}
		res, err := d.deploy(ctx, args[0])
		if res != nil {
			// Published, even if it did not become Active: say what is
			// there before the error says why.
			res.invokeHint = invokeHint(cmd, client, res)
			res.print(d.out)
		} else if err != nil && ctx.Err() != nil {
			return errors.New("interrupted")
		}
		return err
	}
	return cmd
}

// invokeHint is the command to invoke the new version, with the flags that
// reached this Paddock so that it works when pasted.
func invokeHint(cmd *cobra.Command, o *clientOptions, r *deployResult) string {
	s := "paddock invoke " + r.name + ":" + r.version
	if cmd.Flags().Changed("endpoint") {
		s += " --endpoint " + o.endpoint
	}
	if o.profile != "" {
		s += " --profile " + o.profile
	}
	return s + ` --payload '{}'`
}

// lambdaSDKConfig returns an AWS SDK configuration for the Paddock o names,
// with the endpoint, credentials and region resolved as for every client
// verb (see client), and the signed client for the Paddock-specific API.
func (o *clientOptions) lambdaSDKConfig(ctx context.Context) (aws.Config, *apiClient, error) {
	o.useProfileEndpoint(ctx)
	api, err := o.client(ctx)
	if err != nil {
		return aws.Config{}, nil, err
	}
	cfg := aws.Config{
		Region:       api.region,
		Credentials:  credentials.StaticCredentialsProvider{Value: api.creds},
		BaseEndpoint: aws.String(api.endpoint),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				// The SDK retries a refused connection with backoff, as a
				// blip on the way to AWS; here it means no Paddock is
				// running, and saying so at once beats seconds of retries.
				so.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
					if errors.Is(err, syscall.ECONNREFUSED) {
						return aws.FalseTernary
					}
					return aws.UnknownTernary
				})}, so.Retryables...)
			})
		},
	}
	return cfg, api, nil
}

// useProfileEndpoint makes a --profile's endpoint_url the endpoint when
// neither --endpoint nor PADDOCK_ENDPOINT gives one, so that the profile
// `paddock up --write-aws-profile` writes serves paddock as it serves the
// AWS CLI. A profile that cannot be read is left for client to report.
func (o *clientOptions) useProfileEndpoint(ctx context.Context) {
	if o.profile == "" || (o.endpointFlag != nil && o.endpointFlag.Changed) || os.Getenv("PADDOCK_ENDPOINT") != "" {
		return
	}
	// LoadDefaultConfig, unlike LoadSharedConfigProfile, honours
	// AWS_CONFIG_FILE, as the AWS CLI does.
	cfg, err := config.LoadDefaultConfig(ctx, config.WithSharedConfigProfile(o.profile),
		config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	if err == nil && aws.ToString(cfg.BaseEndpoint) != "" {
		o.endpoint = aws.ToString(cfg.BaseEndpoint)
	}
}

// sdkError turns an SDK error into one a person can act on: the operation,
// the AWS error code and message (as *apiErr, which callers may match), and
// the hints `paddock status` gives for the same causes.
func sdkError(api *apiClient, op string, err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return &noPaddockError{endpoint: api.endpoint}
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("%s: %w", op, err)
	}
	e := &apiErr{Code: ae.ErrorCode(), Message: ae.ErrorMessage()}
	var withStatus interface{ HTTPStatusCode() int }
	if errors.As(err, &withStatus) {
		e.Status = withStatus.HTTPStatusCode()
	}
	switch e.Code {
	case "UnrecognizedClientException", "InvalidSignatureException", "MissingAuthenticationTokenException", "IncompleteSignatureException":
		if api.credSource == "environment" {
			e.Hint = "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY: paddock up prints the pair"
		} else {
			e.Hint = "check the access key pair of " + api.credSource + ": paddock up prints the pair"
		}
	}
	return fmt.Errorf("%s: %w", op, e)
}

type deployer struct {
	lc      *lambda.Client
	api     *apiClient
	o       deployOptions
	changed func(flag string) bool // whether the user gave the flag
	out     io.Writer
	line    *statusLine
}

type deployResult struct {
	name, arn, version, codeSha, state string
	lmi                                bool
	invokeHint                         string
}

func (r *deployResult) print(w io.Writer) {
	mode := "default mode"
	if r.lmi {
		mode = "capacity provider"
	}
	if r.state == string(types.StateActive) {
		fmt.Fprintf(w, "Deployed %s version %s (%s): %s\n", r.name, r.version, mode, r.state)
	} else {
		// Published, but not serving: no invoke line to copy.
		fmt.Fprintf(w, "Published %s version %s (%s), but it is %s\n", r.name, r.version, mode, r.state)
	}
	fmt.Fprintf(w, "  FunctionArn  %s\n  Version      %s\n  CodeSha256   %s\n  State        %s\n", r.arn, r.version, r.codeSha, r.state)
	if r.state == string(types.StateActive) {
		fmt.Fprintf(w, "Invoke it:\n  %s\n", r.invokeHint)
	}
}

func (d *deployer) deploy(ctx context.Context, arg string) (*deployResult, error) {
	o := d.o
	env, err := parseEnv(o.env)
	if err != nil {
		return nil, err
	}
	src, err := planSource(arg)
	if err != nil {
		return nil, err
	}
	d.o.runtime, d.o.handler = runtimeFor(src, o.runtime, o.handler)
	o = d.o

	// Ask the API first: a wrong name or a missing Paddock should not wait
	// for a build.
	var cpARN, cpArch string
	if o.capacityProvider != "" {
		cp, err := d.lc.GetCapacityProvider(ctx, &lambda.GetCapacityProviderInput{CapacityProviderName: aws.String(o.capacityProvider)})
		if err != nil {
			return nil, sdkError(d.api, "GetCapacityProvider "+o.capacityProvider, err)
		}
		cpARN = aws.ToString(cp.CapacityProvider.CapacityProviderArn)
		if ir := cp.CapacityProvider.InstanceRequirements; ir != nil && len(ir.Architectures) > 0 {
			cpArch = string(ir.Architectures[0])
		}
	}
	var existing *types.FunctionConfiguration
	got, err := d.lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(o.name)})
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
	case err != nil:
		return nil, sdkError(d.api, "GetFunction "+o.name, err)
	default:
		existing = got.Configuration
	}
	lmi := cpARN != "" || (existing != nil && existing.CapacityProviderConfig != nil)
	if existing != nil && existing.CapacityProviderConfig == nil && cpARN != "" {
		return nil, fmt.Errorf("function %s exists in Lambda's default mode, and a function's compute mode is fixed when it is created: deploy without --capacity-provider, or delete it first (aws lambda delete-function --function-name %s)", o.name, o.name)
	}
	if !lmi {
		for _, fl := range []string{"min", "max", "max-concurrency"} {
			if d.changed(fl) {
				return nil, fmt.Errorf("--%s applies only to functions on a capacity provider (--capacity-provider)", fl)
			}
		}
	}

	var fnArch, binArch string
	if existing != nil && len(existing.Architectures) > 0 {
		fnArch = string(existing.Architectures[0])
	}
	if src.kind == sourceTree {
		if binArch, err = binaryArch(filepath.Join(src.path, "bootstrap")); err != nil {
			return nil, err
		}
	}
	arch, err := chooseArch(o.arch, fnArch, cpArch, binArch, runtime.GOARCH)
	if err != nil {
		return nil, err
	}
	if cpArch != "" && arch != cpArch {
		return nil, fmt.Errorf("capacity provider %s runs %s instances, and the code is for %s: build for %s (--arch %s)", o.capacityProvider, cpArch, arch, cpArch, cpArch)
	}

	code, err := d.packageCode(ctx, src, arch)
	if err != nil {
		return nil, err
	}

	started := time.Now()
	var sha, fnName string
	changed := true
	if existing == nil {
		sha, fnName, err = d.create(ctx, code, arch, cpARN, env)
	} else {
		sha, fnName, changed, err = d.update(ctx, existing, code, arch, fnArch, cpARN, env)
	}
	if err != nil {
		return nil, err
	}

	d.line.begin()
	d.line.update("publishing " + fnName)
	// CodeSha256 makes Lambda refuse to publish code other than ours, should
	// another deploy update the function in between.
	pub, err := d.lc.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(fnName), CodeSha256: aws.String(sha)})
	if err != nil {
		d.line.abandon()
		return nil, sdkError(d.api, "PublishVersion", err)
	}
	version := aws.ToString(pub.Version)
	if !changed && publishedBefore(pub.LastModified, started) {
		// PublishVersion returns the latest version when $LATEST has not
		// changed since: say so, rather than claim a new one.
		d.line.finish("version " + version + " already has this code and configuration")
	} else {
		d.line.finish("published version " + version)
	}
	res := &deployResult{
		name: fnName, arn: aws.ToString(pub.FunctionArn), version: version,
		codeSha: aws.ToString(pub.CodeSha256), state: string(pub.State), lmi: lmi,
	}
	if !lmi {
		return res, nil // default mode starts EEs on demand: nothing to wait for
	}
	// On a capacity provider an unqualified invoke runs $LATEST.PUBLISHED,
	// which only PublishTo moves: point it at what was just published, so
	// `paddock invoke NAME` runs the deployed code.
	if _, err := d.lc.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(fnName), CodeSha256: aws.String(sha),
		PublishTo: types.FunctionVersionLatestPublishedLatestPublished}); err != nil {
		return nil, sdkError(d.api, "PublishVersion", err)
	}

	deactivate := false
	if d.changed("min") || d.changed("max") {
		sc := &types.FunctionScalingConfig{}
		if d.changed("min") {
			sc.MinExecutionEnvironments = aws.Int32(o.min)
		}
		if d.changed("max") {
			sc.MaxExecutionEnvironments = aws.Int32(o.max)
			deactivate = o.max == 0
		}
		if _, err := d.lc.PutFunctionScalingConfig(ctx, &lambda.PutFunctionScalingConfigInput{
			FunctionName: aws.String(fnName), Qualifier: aws.String(version), FunctionScalingConfig: sc,
		}); err != nil {
			return nil, sdkError(d.api, "PutFunctionScalingConfig", err)
		}
	}
	final, err := d.waitActive(ctx, fnName, version, deactivate)
	if final != nil {
		res.state = string(final.State)
	}
	return res, err
}

// create creates the function and returns its code's SHA-256 and name.
func (d *deployer) create(ctx context.Context, code []byte, arch, cpARN string, env map[string]string) (string, string, error) {
	o := d.o
	memory := int32(defaultOnDemandMemory)
	if cpARN != "" {
		memory = defaultLMIMemoryMB
	}
	if d.changed("memory") {
		memory = o.memory
	}
	in := &lambda.CreateFunctionInput{
		FunctionName:  aws.String(o.name),
		Runtime:       types.Runtime(o.runtime),
		Handler:       aws.String(o.handler),
		Role:          aws.String(o.role),
		Code:          &types.FunctionCode{ZipFile: code},
		MemorySize:    aws.Int32(memory),
		Architectures: []types.Architecture{types.Architecture(arch)},
	}
	if d.changed("timeout") {
		in.Timeout = aws.Int32(o.timeout)
	}
	if env != nil {
		in.Environment = &types.Environment{Variables: env}
	}
	what := fmt.Sprintf("%d MB, default mode", memory)
	if cpARN != "" {
		lmi := &types.LambdaManagedInstancesCapacityProviderConfig{CapacityProviderArn: aws.String(cpARN)}
		if d.changed("max-concurrency") {
			lmi.PerExecutionEnvironmentMaxConcurrency = aws.Int32(o.maxConcurrency)
		}
		in.CapacityProviderConfig = &types.CapacityProviderConfig{LambdaManagedInstancesCapacityProviderConfig: lmi}
		what = fmt.Sprintf("%d MB, capacity provider %s", memory, o.capacityProvider)
	}
	d.line.begin()
	d.line.update(fmt.Sprintf("creating function %s (%s)", o.name, what))
	out, err := d.lc.CreateFunction(ctx, in)
	if err != nil {
		d.line.abandon()
		return "", "", sdkError(d.api, "CreateFunction", err)
	}
	// Lambda refuses a publish while the function is Pending.
	if err := d.waitUpdated(ctx, aws.ToString(out.FunctionName)); err != nil {
		return "", "", err
	}
	d.line.finish(fmt.Sprintf("created function %s (%s)", aws.ToString(out.FunctionName), what))
	return aws.ToString(out.CodeSha256), aws.ToString(out.FunctionName), nil
}

// update uploads the code, then changes the settings whose flags were given
// and differ from the function's, and returns the code's SHA-256, the
// function's name, and whether the code or a setting changed.
func (d *deployer) update(ctx context.Context, fn *types.FunctionConfiguration, code []byte, arch, fnArch, cpARN string, env map[string]string) (sha, name string, changed bool, err error) {
	o := d.o
	name = aws.ToString(fn.FunctionName)
	in := &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: code}
	if arch != fnArch {
		in.Architectures = []types.Architecture{types.Architecture(arch)}
	}
	d.line.begin()
	d.line.update("uploading the code of " + name)
	out, err := d.lc.UpdateFunctionCode(ctx, in)
	if err != nil {
		d.line.abandon()
		return "", "", false, sdkError(d.api, "UpdateFunctionCode", err)
	}
	if err := d.waitUpdated(ctx, name); err != nil {
		return "", "", false, err
	}
	sha = aws.ToString(out.CodeSha256)
	changed = sha != aws.ToString(fn.CodeSha256) || in.Architectures != nil
	if changed {
		d.line.finish("updated function " + name + ": new code")
	} else {
		d.line.finish("updated function " + name + ": code unchanged")
	}

	patch := &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name)}
	var changes []string
	if d.changed("memory") && o.memory != aws.ToInt32(fn.MemorySize) {
		patch.MemorySize = aws.Int32(o.memory)
		changes = append(changes, fmt.Sprintf("memory %d -> %d MB", aws.ToInt32(fn.MemorySize), o.memory))
	}
	if d.changed("timeout") && o.timeout != aws.ToInt32(fn.Timeout) {
		patch.Timeout = aws.Int32(o.timeout)
		changes = append(changes, fmt.Sprintf("timeout %d -> %d s", aws.ToInt32(fn.Timeout), o.timeout))
	}
	if d.changed("env") {
		var current map[string]string
		if fn.Environment != nil {
			current = fn.Environment.Variables
		}
		if !maps.Equal(env, current) {
			patch.Environment = &types.Environment{Variables: env}
			if patch.Environment.Variables == nil {
				patch.Environment.Variables = map[string]string{} // --env '' clears them
			}
			changes = append(changes, "environment")
		}
	}
	if d.changed("role") && o.role != aws.ToString(fn.Role) {
		patch.Role = aws.String(o.role)
		changes = append(changes, "role")
	}
	if d.changed("runtime") && o.runtime != string(fn.Runtime) {
		patch.Runtime = types.Runtime(o.runtime)
		changes = append(changes, "runtime "+o.runtime)
	}
	if d.changed("handler") && o.handler != aws.ToString(fn.Handler) {
		patch.Handler = aws.String(o.handler)
		changes = append(changes, "handler "+o.handler)
	}
	if cur := currentLMI(fn); cur != nil {
		// The API replaces the whole LMI configuration: send it merged.
		next := *cur
		lmiChanged := false
		if d.changed("max-concurrency") && o.maxConcurrency != aws.ToInt32(cur.PerExecutionEnvironmentMaxConcurrency) {
			next.PerExecutionEnvironmentMaxConcurrency = aws.Int32(o.maxConcurrency)
			changes = append(changes, fmt.Sprintf("max concurrency %d", o.maxConcurrency))
			lmiChanged = true
		}
		if cpARN != "" && cpARN != aws.ToString(cur.CapacityProviderArn) {
			next.CapacityProviderArn = aws.String(cpARN)
			changes = append(changes, "capacity provider "+o.capacityProvider)
			lmiChanged = true
		}
		if lmiChanged {
			patch.CapacityProviderConfig = &types.CapacityProviderConfig{LambdaManagedInstancesCapacityProviderConfig: &next}
		}
	}
	if len(changes) == 0 {
		return sha, name, changed, nil
	}
	d.line.begin()
	d.line.update("updating " + name + ": " + strings.Join(changes, ", "))
	if _, err := d.lc.UpdateFunctionConfiguration(ctx, patch); err != nil {
		d.line.abandon()
		return "", "", false, sdkError(d.api, "UpdateFunctionConfiguration", err)
	}
	if err := d.waitUpdated(ctx, name); err != nil {
		return "", "", false, err
	}
	d.line.finish("updated " + name + ": " + strings.Join(changes, ", "))
	return sha, name, true, nil
}

// publishedBefore reports whether a version's LastModified is before t:
// the version existed before this deploy. An unreadable time says no.
func publishedBefore(lastModified *string, t time.Time) bool {
	at, err := time.Parse("2006-01-02T15:04:05.000-0700", aws.ToString(lastModified))
	return err == nil && at.Before(t)
}

func currentLMI(fn *types.FunctionConfiguration) *types.LambdaManagedInstancesCapacityProviderConfig {
	if fn.CapacityProviderConfig == nil {
		return nil
	}
	return fn.CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig
}

// waitUpdated waits for an update of $LATEST to finish: Lambda refuses the
// next update or a publish while one is in progress.
func (d *deployer) waitUpdated(ctx context.Context, name string) error {
	for {
		c, err := d.lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
		if err != nil {
			d.line.abandon()
			return sdkError(d.api, "GetFunctionConfiguration", err)
		}
		switch {
		case c.State == types.StateFailed:
			d.line.abandon()
			return fmt.Errorf("the creation of %s failed: %s: %s", name, c.StateReasonCode, aws.ToString(c.StateReason))
		case c.LastUpdateStatus == types.LastUpdateStatusFailed:
			d.line.abandon()
			return fmt.Errorf("the update of %s failed: %s: %s", name, c.LastUpdateStatusReasonCode, aws.ToString(c.LastUpdateStatusReason))
		case c.State == types.StatePending:
			d.line.update("creating " + name + ": Pending")
		case c.LastUpdateStatus == types.LastUpdateStatusInProgress:
			d.line.update("updating " + name + ": InProgress")
		default:
			return nil
		}
		select {
		case <-ctx.Done():
			d.line.abandon()
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// waitActive polls the version until it is Active (or Deactivated, when
// the deploy asked for max 0), showing its EEs as the scaler counts them.
func (d *deployer) waitActive(ctx context.Context, name, version string, deactivate bool) (*lambda.GetFunctionConfigurationOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, d.o.waitTimeout)
	defer cancel()
	key := name + ":" + version
	d.line.begin()
	var ees string
	var lastStatus time.Time
	for {
		c, err := d.lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name), Qualifier: aws.String(version)})
		if err != nil {
			d.line.abandon()
			if ctx.Err() != nil {
				return nil, d.waitError(ctx, version, "")
			}
			return nil, sdkError(d.api, "GetFunctionConfiguration", err)
		}
		// The scaler measures once a second: asking more often would only
		// show the same counts.
		if time.Since(lastStatus) >= time.Second || c.State != types.StatePending {
			lastStatus = time.Now()
			ees = d.eeProgress(ctx, key)
		}
		msg := fmt.Sprintf("version %s: %s%s", version, c.State, ees)
		switch c.State {
		case types.StateActive:
			d.line.finish(msg)
			return c, nil
		case types.StateFailed:
			d.line.finish(msg)
			return c, fmt.Errorf("version %s failed to start: %s: %s", version, c.StateReasonCode, aws.ToString(c.StateReason))
		case types.StateInactive, types.StateDeactivated:
			d.line.finish(msg)
			if deactivate && c.State == types.StateDeactivated {
				return c, nil
			}
			return c, fmt.Errorf("version %s is %s: %s: %s", version, c.State, c.StateReasonCode, aws.ToString(c.StateReason))
		}
		d.line.update(msg)
		select {
		case <-ctx.Done():
			d.line.abandon()
			return c, d.waitError(ctx, version, string(c.State))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (d *deployer) waitError(ctx context.Context, version, state string) error {
	if state == "" {
		state = "not Active yet"
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("version %s is still %s after %v (--wait-timeout): `paddock status` shows its EEs", version, state, d.o.waitTimeout)
	}
	return fmt.Errorf("stopped waiting: version %s is %s, and Paddock keeps starting it", version, state)
}

// eeProgress is ", R/D EEs ready" for the version key ("fn:3") from
// Paddock's status API, or "" when it cannot tell: the scaler has not
// picked the version up yet, or this Paddock has no status API.
func (d *deployer) eeProgress(ctx context.Context, key string) string {
	var st lambdaapi.StatusResponse
	if err := d.api.getJSON(ctx, statusPath, &st); err != nil {
		return ""
	}
	for _, v := range st.Versions {
		if v.Key == key {
			return fmt.Sprintf(", %d/%d EEs ready", v.Ready, v.Desired)
		}
	}
	return ""
}

// parseEnv reads --env KEY=VALUE flags; nil when none was given. A single
// empty --env "" yields an empty map, which clears the variables.
func parseEnv(kvs []string) (map[string]string, error) {
	if kvs == nil {
		return nil, nil
	}
	env := map[string]string{}
	for _, kv := range kvs {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--env %q: want KEY=VALUE", kv)
		}
		env[k] = v
	}
	return env, nil
}

// --- packaging ---

type sourceKind int

const (
	sourceZip    sourceKind = iota // a .zip file, uploaded as it is
	sourceTree                     // a directory with a prebuilt bootstrap, zipped whole
	sourceGo                       // Go source, built into bootstrap
	sourceNode                     // a Node.js directory, zipped whole
	sourcePython                   // a Python directory, zipped whole
)

func (k sourceKind) String() string {
	return [...]string{"zip", "tree", "go", "nodejs", "python"}[k]
}

// runtimeFor is the runtime and handler a source deploys with: the flags'
// when given, else its language's defaults.
func runtimeFor(src source, runtime, handler string) (string, string) {
	defRuntime, defHandler := defaultDeployRuntime, "bootstrap" // a custom runtime runs bootstrap; the handler is the function's business
	switch src.kind {
	case sourceNode:
		defRuntime, defHandler = defaultNodeRuntime, defaultNodeHandler
	case sourcePython:
		defRuntime, defHandler = defaultPythonRuntime, defaultPythonHandler
	}
	return cmp.Or(runtime, defRuntime), cmp.Or(handler, defHandler)
}

// source is what deploy packages, as planSource decided.
type source struct {
	kind sourceKind
	// path is the zip file, the tree, or the directory go build runs in
	// ("" for the current one).
	path string
	pkg  string // for sourceGo: the package, as go build takes it
	// staleGo names, for a tree, a Go file newer than its bootstrap: the
	// prebuilt binary is deployed, but likely not what the user meant.
	staleGo string
}

// planSource decides how to package arg: a directory with a bootstrap is
// deployed as it is (a prebuilt binary wins over sources next to it, since
// building it may have taken flags deploy cannot guess); a directory of Go
// files without one, or anything else that is not a path, is a Go package to
// build.
func planSource(arg string) (source, error) {
	fi, err := os.Stat(arg)
	if errors.Is(err, fs.ErrNotExist) {
		if filepath.IsAbs(arg) || strings.HasPrefix(arg, ".") {
			return source{}, fmt.Errorf("%s: no such file or directory", arg)
		}
		// An import path, such as github.com/you/fn/cmd/handler: go build
		// resolves it in the current module, or says why not.
		return source{kind: sourceGo, pkg: arg}, nil
	}
	if err != nil {
		return source{}, err
	}
	if !fi.IsDir() {
		if strings.EqualFold(filepath.Ext(arg), ".zip") {
			return source{kind: sourceZip, path: arg}, nil
		}
		return source{}, fmt.Errorf("%s is a file: deploy takes a directory (with a bootstrap, or Go source), a Go package or a .zip", arg)
	}
	entries, err := os.ReadDir(arg)
	if err != nil {
		return source{}, err
	}
	var goFiles []string
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") && !e.IsDir() {
			goFiles = append(goFiles, n)
		}
	}
	boot := filepath.Join(arg, "bootstrap")
	bfi, err := os.Stat(boot)
	switch {
	case err == nil:
		if !bfi.Mode().IsRegular() {
			return source{}, fmt.Errorf("%s is not a file: Lambda runs bootstrap as the function's executable", boot)
		}
		if bfi.Mode().Perm()&0o111 == 0 {
			return source{}, fmt.Errorf("%s is not executable: chmod +x it (Lambda runs it as the function)", boot)
		}
		src := source{kind: sourceTree, path: arg}
		for _, g := range goFiles {
			if gfi, err := os.Stat(filepath.Join(arg, g)); err == nil && gfi.ModTime().After(bfi.ModTime()) {
				src.staleGo = g
				break
			}
		}
		return src, nil
	case !errors.Is(err, fs.ErrNotExist):
		return source{}, err
	case len(goFiles) > 0:
		return source{kind: sourceGo, path: arg, pkg: "."}, nil
	}
	for _, e := range entries {
		switch n := e.Name(); {
		case n == "package.json" || strings.HasSuffix(n, ".mjs") || strings.HasSuffix(n, ".js") || strings.HasSuffix(n, ".cjs"):
			return source{kind: sourceNode, path: arg}, nil
		case strings.HasSuffix(n, ".py"):
			return source{kind: sourcePython, path: arg}, nil
		}
	}
	return source{}, fmt.Errorf("%s has no bootstrap file, Go source, Node.js or Python: put the function's executable in it as bootstrap, or give a Go main package, a Node.js or Python directory, or a .zip", arg)
}

// chooseArch picks the architecture to build and deploy for: --arch, else
// the existing function's (a deploy should not switch it by accident),
// else the capacity provider's (its instances run only that), else a
// prebuilt bootstrap's, else this machine's. A prebuilt bootstrap must
// match what is chosen: it cannot be rebuilt.
func chooseArch(flag, fnArch, cpArch, binArch, goarch string) (string, error) {
	if flag != "" {
		a, ok := lambdaArch(flag)
		if !ok {
			return "", fmt.Errorf("--arch %q: want x86_64 or arm64", flag)
		}
		flag = a
	}
	host, _ := lambdaArch(goarch)
	arch := firstNonEmpty(flag, fnArch, cpArch, binArch, host)
	if arch == "" {
		return "", fmt.Errorf("this machine's architecture %s is not one Lambda runs: pass --arch x86_64 or --arch arm64", goarch)
	}
	if binArch != "" && binArch != arch {
		return "", fmt.Errorf("the prebuilt bootstrap is built for %s, but the function runs on %s: rebuild it for %s", binArch, arch, arch)
	}
	return arch, nil
}

// lambdaArch maps GOARCH names and Lambda's to Lambda's.
func lambdaArch(s string) (string, bool) {
	switch s {
	case "x86_64", "amd64":
		return "x86_64", true
	case "arm64", "aarch64":
		return "arm64", true
	}
	return "", false
}

func goArch(lambdaArch string) string {
	if lambdaArch == "x86_64" {
		return "amd64"
	}
	return lambdaArch
}

// binaryArch reads a prebuilt bootstrap's architecture, so that a binary
// built for the wrong machine fails here, clearly, rather than as a
// version that never becomes Active. A script returns "".
func binaryArch(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		head := make([]byte, 2)
		if r, oerr := os.Open(path); oerr == nil {
			_, _ = io.ReadFull(r, head)
			r.Close()
		}
		if string(head) == "#!" {
			return "", nil
		}
		return "", fmt.Errorf("%s is neither a Linux executable (ELF) nor a #! script: build it with GOOS=linux (or let deploy build the Go source)", path)
	}
	defer f.Close()
	switch f.Machine {
	case elf.EM_X86_64:
		return "x86_64", nil
	case elf.EM_AARCH64:
		return "arm64", nil
	}
	return "", fmt.Errorf("%s is built for %v, which Lambda does not run: build it for x86_64 or arm64", path, f.Machine)
}

// packageCode returns the deployment zip for src.
func (d *deployer) packageCode(ctx context.Context, src source, arch string) ([]byte, error) {
	switch src.kind {
	case sourceZip:
		return os.ReadFile(src.path)
	case sourceTree, sourceNode, sourcePython:
		if src.staleGo != "" {
			fmt.Fprintf(d.line.w, "warning: %s is newer than %s: deploying the prebuilt bootstrap; delete it to deploy the Go source\n",
				filepath.Join(src.path, src.staleGo), filepath.Join(src.path, "bootstrap"))
		}
		d.line.begin()
		d.line.update("zipping " + src.path)
		data, n, err := zipTree(src.path)
		if err != nil {
			d.line.abandon()
			return nil, err
		}
		d.line.finish(fmt.Sprintf("zipped %s: %d files, %s", src.path, n, mib(len(data))))
		return data, nil
	}
	bin, err := d.buildGo(ctx, src, arch)
	if err != nil {
		return nil, err
	}
	return zipFiles([]zipFile{{name: "bootstrap", data: bin, mode: 0o755}})
}

// buildGo builds src into a Linux executable for arch and returns it.
func (d *deployer) buildGo(ctx context.Context, src source, arch string) ([]byte, error) {
	if _, err := exec.LookPath("go"); err != nil {
		return nil, errors.New("deploying Go source needs the go command: install Go, or deploy a directory with a prebuilt bootstrap")
	}
	tmp, err := os.MkdirTemp("", "paddock-deploy-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "bootstrap")
	goarch := goArch(arch)
	what := src.pkg
	if src.path != "" {
		what = src.path
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, src.pkg)
	cmd.Dir = src.path
	// CGO off: Lambda's provided runtimes have no C toolchain's libraries
	// to promise, and a static binary runs on any of them.
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output

	d.line.begin()
	msg := fmt.Sprintf("building %s for linux/%s", what, goarch)
	d.line.update(msg)
	if err := cmd.Start(); err != nil {
		d.line.abandon()
		return nil, fmt.Errorf("go build: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for building := true; building; {
		select {
		case <-tick.C:
			d.line.update(msg)
		case err = <-done:
			building = false
		}
	}
	if err != nil {
		d.line.abandon()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("go build %s for linux/%s failed:\n%s", what, goarch, strings.TrimRight(output.String(), "\n"))
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		d.line.abandon()
		return nil, err
	}
	if !bytes.HasPrefix(bin, []byte(elf.ELFMAG)) {
		// go build -o of a package that is not main writes its archive.
		d.line.abandon()
		return nil, fmt.Errorf("%s is not a main package: a function is a program (package main, calling lambda.Start)", what)
	}
	d.line.finish(fmt.Sprintf("built %s for linux/%s: bootstrap %s", what, goarch, mib(len(bin))))
	return bin, nil
}

type zipFile struct {
	name string
	data []byte
	mode fs.FileMode
}

// zipEpoch is every entry's modification time. Fixed, so that the same
// code gives the same zip and CodeSha256, and deploying unchanged code
// publishes no new version.
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// zipFiles zips files in the order given, with their modes.
func zipFiles(files []zipFile) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: zipEpoch}
		h.SetMode(f.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// zipTree zips every file under dir, following symbolic links to files, and
// returns the zip and how many files it holds.
func zipTree(dir string) ([]byte, int, error) {
	var files []zipFile
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if n := e.Name(); path != dir && (n == ".git" || n == "__pycache__") {
				return filepath.SkipDir // not code: a repository, compiled bytecode
			}
			return nil
		}
		fi, err := os.Stat(path) // follows a link
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file: a deployment zip holds files only", path)
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		// Lambda's code is read-only: keep only whether a file executes.
		mode := fs.FileMode(0o644)
		if fi.Mode().Perm()&0o111 != 0 {
			mode = 0o755
		}
		files = append(files, zipFile{name: filepath.ToSlash(rel), data: data, mode: mode})
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	data, err := zipFiles(files)
	return data, len(files), err
}

func mib(n int) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// --- progress ---

// statusLine shows the progress of one step that takes seconds: on a
// terminal, a line redrawn in place with the time elapsed; elsewhere (CI
// logs, pipes), a plain line each time the message changes, so logs stay
// readable.
type statusLine struct {
	w     io.Writer
	tty   bool
	start time.Time
	shown string // the last message printed, off a terminal
	open  bool   // a line is drawn on the terminal and not ended
}

func newStatusLine(w io.Writer) *statusLine {
	return &statusLine{w: w, tty: isTerminal(w), start: time.Now()}
}

// isTerminal reports whether w is a terminal that understands \r and the
// erase-line sequence.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// begin starts timing a new step.
func (s *statusLine) begin() {
	s.start, s.shown = time.Now(), ""
}

func (s *statusLine) elapsed() string {
	return fmt.Sprintf("%.1fs", time.Since(s.start).Seconds())
}

// update shows msg as the step's current state.
func (s *statusLine) update(msg string) {
	if s.tty {
		fmt.Fprintf(s.w, "\r\x1b[K%s (%s)", msg, s.elapsed())
		s.open = true
		return
	}
	if msg != s.shown {
		fmt.Fprintf(s.w, "%s (%s)\n", msg, s.elapsed())
		s.shown = msg
	}
}

// finish ends the step with its outcome.
func (s *statusLine) finish(msg string) {
	if s.tty {
		fmt.Fprintf(s.w, "\r\x1b[K%s (%s)\n", msg, s.elapsed())
	} else if msg != s.shown {
		fmt.Fprintf(s.w, "%s (%s)\n", msg, s.elapsed())
	}
	s.open, s.shown = false, ""
}

// abandon ends a step that failed, keeping its last state on screen above
// the error that follows.
func (s *statusLine) abandon() {
	if s.open {
		fmt.Fprintln(s.w)
	}
	s.open, s.shown = false, ""
}
