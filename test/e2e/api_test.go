package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"errors"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func TestCapacityProviderCRUDAndPaging(t *testing.T) {
	e := start(t)
	c := ctx(t)
	for i := 0; i < 5; i++ {
		e.capacityProvider(fmt.Sprintf("cp-%d", i))
	}
	got, err := e.lambda.GetCapacityProvider(c, &lambda.GetCapacityProviderInput{CapacityProviderName: aws.String("cp-3")})
	if err != nil {
		t.Fatal(err)
	}
	if got.CapacityProvider.State != types.CapacityProviderStateActive ||
		aws.ToString(got.CapacityProvider.CapacityProviderArn) != "arn:aws:lambda:us-east-1:000000000000:capacity-provider:cp-3" {
		t.Fatalf("unexpected capacity provider %+v", got.CapacityProvider)
	}
	if m := got.CapacityProvider.CapacityProviderScalingConfig; aws.ToInt32(m.MaxVCpuCount) != 400 || m.ScalingMode != types.CapacityProviderScalingModeAuto {
		t.Errorf("defaults: MaxVCpuCount %d mode %s, want 400 Auto", aws.ToInt32(m.MaxVCpuCount), m.ScalingMode)
	}

	// Paging with MaxItems 2 visits every provider once, in order.
	var names []string
	p := lambda.NewListCapacityProvidersPaginator(e.lambda, &lambda.ListCapacityProvidersInput{MaxItems: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(c)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.CapacityProviders) > 2 {
			t.Fatalf("page of %d, want at most 2", len(page.CapacityProviders))
		}
		for _, cp := range page.CapacityProviders {
			arn := aws.ToString(cp.CapacityProviderArn)
			names = append(names, arn[strings.LastIndex(arn, ":")+1:])
		}
	}
	if want := "cp-0,cp-1,cp-2,cp-3,cp-4"; strings.Join(names, ",") != want || pages != 3 {
		t.Fatalf("listed %v in %d pages, want %s in 3", names, pages, want)
	}

	up, err := e.lambda.UpdateCapacityProvider(c, &lambda.UpdateCapacityProviderInput{
		CapacityProviderName: aws.String("cp-1"),
		CapacityProviderScalingConfig: &types.CapacityProviderScalingConfig{
			MaxVCpuCount: aws.Int32(64), ScalingMode: types.CapacityProviderScalingModeManual,
			ScalingPolicies: []types.TargetTrackingScalingPolicy{{
				PredefinedMetricType: types.CapacityProviderPredefinedMetricTypeLambdaCapacityProviderAverageCPUUtilization,
				TargetValue:          aws.Float64(60)}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(up.CapacityProvider.CapacityProviderScalingConfig.MaxVCpuCount) != 64 {
		t.Fatalf("update not applied: %+v", up.CapacityProvider.CapacityProviderScalingConfig)
	}

	_, err = e.lambda.CreateCapacityProvider(c, &lambda.CreateCapacityProviderInput{
		CapacityProviderName: aws.String("cp-1"),
		VpcConfig:            &types.CapacityProviderVpcConfig{SubnetIds: []string{"s"}, SecurityGroupIds: []string{}},
		PermissionsConfig:    &types.CapacityProviderPermissionsConfig{CapacityProviderOperatorRoleArn: aws.String(opRole)},
	})
	apiError(t, err, "ResourceConflictException")

	if _, err := e.lambda.DeleteCapacityProvider(c, &lambda.DeleteCapacityProviderInput{CapacityProviderName: aws.String("cp-0")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.lambda.GetCapacityProvider(c, &lambda.GetCapacityProviderInput{CapacityProviderName: aws.String("cp-0")})
	apiError(t, err, "ResourceNotFoundException")

	// A capacity provider in use cannot be deleted.
	e.function("user", aws.ToString(got.CapacityProvider.CapacityProviderArn), fnOpts{})
	_, err = e.lambda.DeleteCapacityProvider(c, &lambda.DeleteCapacityProviderInput{CapacityProviderName: aws.String("cp-3")})
	apiError(t, err, "ResourceConflictException")
}

func TestBadInputGetsTheModelsErrors(t *testing.T) {
	e := start(t)
	c := ctx(t)
	cp := e.capacityProvider("cp")
	good := func() *lambda.CreateFunctionInput { return createInput(t, "fn", cp, fnOpts{}) }
	// The model's constraints (patterns, enums, ranges) are
	// ValidationException on AWS; Lambda's own rules beyond them are
	// InvalidParameterValueException. The conformance suite checks the texts.
	tests := []struct {
		name   string
		mutate func(*lambda.CreateFunctionInput)
		code   string
	}{
		{"bad name", func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String("bad name!") }, "ValidationException"},
		{"malformed role", func(in *lambda.CreateFunctionInput) { in.Role = aws.String("role") }, "ValidationException"},
		{"unknown runtime", func(in *lambda.CreateFunctionInput) { in.Runtime = "cobol85" }, "ValidationException"},
		{"runtime not supported yet", func(in *lambda.CreateFunctionInput) { in.Runtime = types.RuntimePython312 }, "InvalidParameterValueException"},
		{"memory below LMI minimum", func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(1024) }, "InvalidParameterValueException"},
		{"LMI timeout above 5400", func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(5401) }, "InvalidParameterValueException"},
		{"default mode timeout above 900", func(in *lambda.CreateFunctionInput) {
			in.CapacityProviderConfig = nil
			in.MemorySize = aws.Int32(128)
			in.Timeout = aws.Int32(901)
		}, "InvalidParameterValueException"},
		{"concurrency out of range", func(in *lambda.CreateFunctionInput) {
			in.CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig.PerExecutionEnvironmentMaxConcurrency = aws.Int32(1601)
		}, "ValidationException"},
		{"unknown capacity provider", func(in *lambda.CreateFunctionInput) {
			in.CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig.CapacityProviderArn = aws.String("arn:aws:lambda:us-east-1:000000000000:capacity-provider:nope")
		}, "ResourceNotFoundException"},
		{"not a zip", func(in *lambda.CreateFunctionInput) { in.Code.ZipFile = []byte("definitely not a zip") }, "InvalidParameterValueException"},
		{"zip escaping its directory", func(in *lambda.CreateFunctionInput) {
			in.Code.ZipFile = zipOf(map[string][]byte{"../../evil": []byte("x")})
		}, "InvalidParameterValueException"},
		{"default mode above 10240 MB", func(in *lambda.CreateFunctionInput) {
			in.CapacityProviderConfig = nil
			in.MemorySize = aws.Int32(10241)
		}, "InvalidParameterValueException"},
		{"default mode below 128 MB", func(in *lambda.CreateFunctionInput) {
			in.CapacityProviderConfig = nil
			in.MemorySize = aws.Int32(64)
		}, "ValidationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good()
			tt.mutate(in)
			_, err := e.lambda.CreateFunction(c, in)
			apiError(t, err, tt.code)
		})
	}
	// Nothing was created by the refused requests.
	fns, err := e.lambda.ListFunctions(c, &lambda.ListFunctionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fns.Functions) != 0 {
		t.Fatalf("refused requests created %d functions", len(fns.Functions))
	}

	// On LMI the Timeout may reach 5,400 s (for asynchronous and event
	// source invokes; synchronous ones stop at 900 s).
	long := good()
	long.FunctionName, long.Timeout = aws.String("long-lmi"), aws.Int32(5400)
	if out, err := e.lambda.CreateFunction(c, long); err != nil || aws.ToInt32(out.Timeout) != 5400 {
		t.Errorf("an LMI function with a 5,400 s timeout: %v", err)
	}

	_, err = e.lambda.GetFunction(c, &lambda.GetFunctionInput{FunctionName: aws.String("missing")})
	apiError(t, err, "ResourceNotFoundException")
	_, err = e.lambda.CreateCapacityProvider(c, &lambda.CreateCapacityProviderInput{
		CapacityProviderName:          aws.String("cp2"),
		VpcConfig:                     &types.CapacityProviderVpcConfig{SubnetIds: []string{"s"}, SecurityGroupIds: []string{}},
		PermissionsConfig:             &types.CapacityProviderPermissionsConfig{CapacityProviderOperatorRoleArn: aws.String(opRole)},
		CapacityProviderScalingConfig: &types.CapacityProviderScalingConfig{ScalingMode: "Sideways"},
	})
	apiError(t, err, "ValidationException")
	_, err = e.lambda.ListCapacityProviders(c, &lambda.ListCapacityProvidersInput{MaxItems: aws.Int32(51)})
	apiError(t, err, "ValidationException")

	// Requests the SDK would not send (it checks required fields itself),
	// signed by hand: the server must still answer with the model's errors
	// (a missing required member is ValidationException "Value null at ...").
	raw := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"function without role", "POST", "/2015-03-31/functions", `{"FunctionName":"f","Runtime":"provided.al2023","Code":{"ZipFile":"UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}}`, 400, "ValidationException"},
		{"function without code", "POST", "/2015-03-31/functions", `{"FunctionName":"f","Runtime":"provided.al2023","Role":"` + roleARN + `"}`, 400, "ValidationException"},
		{"malformed JSON", "POST", "/2015-03-31/functions", `{"FunctionName":`, 400, "InvalidRequestContentException"},
		{"capacity provider without VPC", "POST", "/2025-11-30/capacity-providers", `{"CapacityProviderName":"x","PermissionsConfig":{"CapacityProviderOperatorRoleArn":"` + opRole + `"}}`, 400, "ValidationException"},
		{"wrong enum", "POST", "/2025-11-30/capacity-providers", `{"CapacityProviderName":"x","VpcConfig":{"SubnetIds":["s"],"SecurityGroupIds":[]},"PermissionsConfig":{"CapacityProviderOperatorRoleArn":"` + opRole + `"},"InstanceRequirements":{"Architectures":["sparc"]}}`, 400, "ValidationException"},
		{"unknown operation", "GET", "/2015-03-31/nothing-here", ``, 404, "UnknownOperationException"},
		{"invoke with invalid JSON", "POST", "/2015-03-31/functions/f/invocations", `not json`, 400, "InvalidRequestContentException"},
		{"scaling config without qualifier", "GET", "/2025-11-30/functions/f/function-scaling-config", ``, 400, "ValidationException"},
	}
	for _, tt := range raw {
		t.Run(tt.name, func(t *testing.T) {
			status, code := e.signedCall(tt.method, tt.path, tt.body)
			if status != tt.status || code != tt.code {
				t.Fatalf("%s %s: %d %s, want %d %s", tt.method, tt.path, status, code, tt.status, tt.code)
			}
		})
	}
}

func TestOversizedPayloadIs413(t *testing.T) {
	e := start(t)
	e.activeFunction("big", fnOpts{})
	payload := `{"data":"` + strings.Repeat("x", 6<<20) + `"}`
	_, err := e.invoke("big", "1", payload)
	apiError(t, err, "RequestTooLargeException")
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusRequestEntityTooLarge {
		t.Fatalf("status: %v, want 413", err)
	}
	// The function still works.
	out, err := e.invoke("big", "1", `{"ok":1}`)
	if err != nil || string(out.Payload) != `{"ok":1}` {
		t.Fatalf("invoke after 413: %v %s", err, out.Payload)
	}
}

func TestUnsignedAndWronglySignedRequestsAreRefused(t *testing.T) {
	e := start(t)
	c := ctx(t)
	tests := []struct {
		name, key, secret, code string
	}{
		{"wrong secret", "AKIDPADDOCKTEST", "not-the-secret", "InvalidSignatureException"},
		{"unknown key", "AKIDSOMEONEELSE", "paddock-test-secret", "UnrecognizedClientException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client(e.p.Endpoint, tt.key, tt.secret).ListFunctions(c, &lambda.ListFunctionsInput{})
			apiError(t, err, tt.code)
			var re *awshttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
				t.Fatalf("status: %v, want 403", err)
			}
		})
	}
	resp, err := http.Get(e.p.Endpoint + "/2015-03-31/functions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned request: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}
