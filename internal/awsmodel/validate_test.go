package awsmodel

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/awserr"
)

// The expected texts follow recordings of AWS's answers found in public
// issue threads and tests:
//
//   - the sentence, value, path and pattern text:
//     "1 validation error detected: Value 'AWSLambdaBasicExecutionRole' at 'role' failed to satisfy
//     constraint: Member must satisfy regular expression pattern: arn:aws:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
//     (github.com/dbuarque/repack-lambda/issues/3; the same for 'lambdarole' in
//     github.com/aarondfrancis/sidecar/issues/147, with the body {"message":"..."}), and nested paths
//     "Value 's3://quintinwhi' at 'code.s3Bucket' ..." (github.com/awslabs/aws-lambda-security-controls/issues/1);
//   - ranges: "Value '3000' at 'timeout' failed to satisfy constraint: Member must have value less than
//     or equal to 900" (github.com/covidatlas/li/pull/575);
//   - a list whose member breaks a constraint lists ALL the member shape's constraints, max length
//     before min, then pattern, then "Member must not be null" — not only the broken ones:
//     "Value '[GET, POST, OPTIONS]' at 'cors.allowMethods' failed to satisfy constraint: Member must
//     satisfy constraint: [Member must have length less than or equal to 6, Member must have length
//     greater than or equal to 0, Member must satisfy regular expression pattern: .*, Member must not be null]"
//     (a CreateFunctionUrlConfig recording, twice in public repositories) and
//     "Value '[]' at 'layers' ... [Member must have length less than or equal to 2048, Member must have
//     length greater than or equal to 1, Member must satisfy regular expression pattern: ..., Member must
//     not be null]" (github.com/appleboy/lambda-action/issues/83); moto's test for Architectures
//     expects "[Member must satisfy enum value set: [x86_64, arm64], Member must not be null]";
//   - a sensitive member's value is not echoed: "Value at 'environment.variables' failed to satisfy
//     constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern:
//     [a-zA-Z]([a-zA-Z0-9_])+]" (github.com/trek10inc/serverless-secrets/issues/39);
//   - the members of a list of structures: 'tags.6.member.value' (an IAM recording in
//     github.com/SWO-GS/auto-tag/issues/90) and 'geoLocations.1.member.order' (IoT).
func TestValidate(t *testing.T) {
	path := func(m map[string]string) func(string) string { return func(l string) string { return m[l] } }
	fn := path(map[string]string{"FunctionName": "f"})
	const role = `"Role":"arn:aws:iam::123456789012:role/r"`
	const rolePattern = `arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`
	for _, tc := range []struct {
		name string
		op   string
		in   Input
		want string // "" for nil
	}{
		{"valid CreateFunction", "CreateFunction", Input{Body: []byte(`{"FunctionName":"my-function",` + role + `,"Runtime":"python3.12","Handler":"app.handler","Code":{"ZipFile":"UEsDBA=="},"MemorySize":256,"Timeout":30,"Architectures":["arm64"],"Environment":{"Variables":{"A1":"x"}}}`)}, ""},
		{"role pattern", "CreateFunction", Input{Body: []byte(`{"FunctionName":"f","Role":"bad","Code":{}}`)},
			"1 validation error detected: Value 'bad' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: " + rolePattern},
		{"missing role", "CreateFunction", Input{Body: []byte(`{"FunctionName":"f","Code":{}}`)},
			"1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null"},
		{"null role is missing", "CreateFunction", Input{Body: []byte(`{"FunctionName":"f","Role":null,"Code":{}}`)},
			"1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null"},
		{"empty body", "CreateFunction", Input{},
			"3 validation errors detected: Value null at 'functionName' failed to satisfy constraint: Member must not be null; Value null at 'role' failed to satisfy constraint: Member must not be null; Value null at 'code' failed to satisfy constraint: Member must not be null"},
		{"architectures enum", "CreateFunction", Input{Body: []byte(`{"FunctionName":"f",` + role + `,"Code":{},"Architectures":["X86_64"]}`)},
			"1 validation error detected: Value '[X86_64]' at 'architectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]"},
		{"architectures length", "CreateFunction", Input{Body: []byte(`{"FunctionName":"f",` + role + `,"Code":{},"Architectures":[]}`)},
			"1 validation error detected: Value '[]' at 'architectures' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"memory and timeout, in member order", "CreateFunction", Input{Body: []byte(`{"FunctionName":"f",` + role + `,"Code":{},"MemorySize":64,"Timeout":0}`)},
			"2 validation errors detected: Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"},
		{"memory too large", "CreateFunction", Input{Body: []byte(`{"FunctionName":"f",` + role + `,"Code":{},"MemorySize":40000}`)},
			"1 validation error detected: Value '40000' at 'memorySize' failed to satisfy constraint: Member must have value less than or equal to 32768"},
		// FunctionName: max 140, and its pattern's name part is unbounded,
		// so 200 letters break only the length.
		{"function name length", "CreateFunction", Input{Body: []byte(`{"FunctionName":"` + strings.Repeat("a", 200) + `",` + role + `,"Code":{}}`)},
			"1 validation error detected: Value '" + strings.Repeat("a", 200) + "' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 140"},
		{"function name length and pattern", "CreateFunction", Input{Body: []byte(`{"FunctionName":"` + strings.Repeat("a ", 100) + `",` + role + `,"Code":{}}`)},
			"2 validation errors detected: Value '" + strings.Repeat("a ", 100) + "' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 140; Value '" + strings.Repeat("a ", 100) + "' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"},
		{"environment key, sensitive", "CreateFunction", Input{Body: []byte(`{"FunctionName":"f",` + role + `,"Code":{},"Environment":{"Variables":{"1A":"x"}}}`)},
			"1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"},
		{"wrong JSON type left to the decoder", "CreateFunction", Input{Body: []byte(`{"FunctionName":"f",` + role + `,"Code":{},"MemorySize":"64","Timeout":1.5,"Architectures":"x"}`)}, ""},
		{"body not JSON left to the decoder", "CreateFunction", Input{Body: []byte(`{"FunctionName":`)}, ""},
		{"body not an object left to the decoder", "CreateFunction", Input{Body: []byte(`[1]`)}, ""},
		{"alias name all digits", "CreateAlias", Input{Path: fn, Body: []byte(`{"Name":"123","FunctionVersion":"1"}`)},
			"1 validation error detected: Value '123' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"},
		{"alias name ok", "CreateAlias", Input{Path: fn, Body: []byte(`{"Name":"v123","FunctionVersion":"1"}`)}, ""},
		{"path label pattern", "GetFunction", Input{Path: path(map[string]string{"FunctionName": "a b"})},
			"1 validation error detected: Value 'a b' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST(\\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"},
		{"capacity provider scaling, in member order", "CreateCapacityProvider", Input{Body: []byte(`{"CapacityProviderName":"cp","VpcConfig":{"SubnetIds":["subnet-1"],"SecurityGroupIds":["sg-1"]},"PermissionsConfig":{"CapacityProviderOperatorRoleArn":"arn:aws:iam::123456789012:role/r"},"CapacityProviderScalingConfig":{"ScalingMode":"AUTO","MaxVCpuCount":1}}`)},
			"2 validation errors detected: Value '1' at 'capacityProviderScalingConfig.maxVCpuCount' failed to satisfy constraint: Member must have value greater than or equal to 2; Value 'AUTO' at 'capacityProviderScalingConfig.scalingMode' failed to satisfy constraint: Member must satisfy enum value set: [Auto, Manual]"},
		{"nested required", "CreateCapacityProvider", Input{Body: []byte(`{"CapacityProviderName":"cp","VpcConfig":{"SubnetIds":["subnet-1"]},"PermissionsConfig":{"CapacityProviderOperatorRoleArn":"arn:aws:iam::123456789012:role/r"}}`)},
			"1 validation error detected: Value null at 'vpcConfig.securityGroupIds' failed to satisfy constraint: Member must not be null"},
		{"function scaling config", "PutFunctionScalingConfig", Input{Path: fn, Query: url.Values{"Qualifier": {"$LATEST"}}, Body: []byte(`{"FunctionScalingConfig":{"MinExecutionEnvironments":-1,"MaxExecutionEnvironments":100000}}`)},
			"3 validation errors detected: Value '$LATEST' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST\\.PUBLISHED|[0-9]+); Value '-1' at 'functionScalingConfig.minExecutionEnvironments' failed to satisfy constraint: Member must have value greater than or equal to 0; Value '100000' at 'functionScalingConfig.maxExecutionEnvironments' failed to satisfy constraint: Member must have value less than or equal to 15000"},
		{"function scaling config, missing qualifier", "PutFunctionScalingConfig", Input{Path: fn, Body: []byte(`{}`)},
			"1 validation error detected: Value null at 'qualifier' failed to satisfy constraint: Member must not be null"},
		{"invoke qualifier; payload not parsed", "Invoke", Input{Path: fn, Query: url.Values{"Qualifier": {"a b"}}, Body: []byte(`not json`)},
			"1 validation error detected: Value 'a b' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: \\$(LATEST(\\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"},
		{"invoke header enum", "Invoke", Input{Path: fn, Header: http.Header{"X-Amz-Invocation-Type": {"Async"}}, Body: []byte(`{}`)},
			"1 validation error detected: Value 'Async' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"},
		{"invoke ok", "Invoke", Input{Path: fn, Query: url.Values{"Qualifier": {"$LATEST"}}, Body: []byte(`[not json`)}, ""},
		{"invoke async: the blob payload is required", "InvokeAsync", Input{Path: fn},
			"1 validation error detected: Value null at 'invokeArgs' failed to satisfy constraint: Member must not be null"},
		{"invoke async: a body is the payload, not parsed", "InvokeAsync", Input{Path: fn, Body: []byte(`not json`)}, ""},
		{"list functions max items", "ListFunctions", Input{Query: url.Values{"MaxItems": {"0"}}},
			"1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"list functions ok", "ListFunctions", Input{Query: url.Values{"MaxItems": {"50"}, "FunctionVersion": {"ALL"}}}, ""},
		{"list functions max items not a number", "ListFunctions", Input{Query: url.Values{"MaxItems": {"x"}}}, ""},
		{"url cors methods (recorded)", "CreateFunctionUrlConfig", Input{Path: fn, Body: []byte(`{"AuthType":"NONE","Cors":{"AllowMethods":["GET","POST","OPTIONS"]}}`)},
			"1 validation error detected: Value '[GET, POST, OPTIONS]' at 'cors.allowMethods' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 6, Member must have length greater than or equal to 0, Member must satisfy regular expression pattern: .*, Member must not be null]"},
		{"unknown operation", "NoSuchOperation", Input{Body: []byte(`{}`)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.op, tc.in)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var e *awserr.Error
			if !errors.As(err, &e) {
				t.Fatalf("Validate = %v, want an *awserr.Error", err)
			}
			if e.Code != "ValidationException" || e.Status != 400 || e.Type != "" {
				t.Errorf("Code, Status, Type = %q, %d, %q", e.Code, e.Status, e.Type)
			}
			if e.Message != tc.want {
				t.Errorf("message\n got %s\nwant %s", e.Message, tc.want)
			}
		})
	}
}

// TestCapitalMessage holds awserr's list of exceptions that spell their
// message "Message" to the model.
func TestCapitalMessage(t *testing.T) {
	n := 0
	for name, s := range load().shapes {
		if !s.Exception {
			continue
		}
		capital, lower := false, false
		for _, mb := range s.Members {
			capital = capital || mb.Name == "Message"
			lower = lower || mb.Name == "message"
		}
		if !capital && !lower {
			continue
		}
		n++
		if got := awserr.CapitalMessage(name); got != capital {
			t.Errorf("awserr.CapitalMessage(%q) = %v, the model spells it %q", name, got, map[bool]string{true: "Message", false: "message"}[capital])
		}
	}
	if n < 30 {
		t.Errorf("only %d exception shapes with a message", n)
	}
	if _, ok := load().shapes["AccessDeniedException"]; ok {
		t.Log("AccessDeniedException is now in the model")
	}
}

func BenchmarkValidateCreateFunction(b *testing.B) {
	in := Input{Body: []byte(`{"FunctionName":"my-function","Role":"arn:aws:iam::123456789012:role/r","Runtime":"python3.12","Handler":"app.handler","Code":{"ZipFile":"UEsDBA=="},"MemorySize":256,"Timeout":30,"Architectures":["arm64"],"Environment":{"Variables":{"A1":"x","B2":"y"}},"Tags":{"team":"a"}}`)}
	load()
	b.ReportAllocs()
	for b.Loop() {
		if err := Validate("CreateFunction", in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateInvoke is the cost Validate adds to every invoke: the
// path label, the query and the headers (the payload is never parsed).
func BenchmarkValidateInvoke(b *testing.B) {
	in := Input{
		Path:   func(string) string { return "my-function" },
		Query:  url.Values{"Qualifier": {"1"}},
		Header: http.Header{"X-Amz-Invocation-Type": {"RequestResponse"}},
		Body:   []byte(`{"hello":"world"}`),
	}
	load()
	b.ReportAllocs()
	for b.Loop() {
		if err := Validate("Invoke", in); err != nil {
			b.Fatal(err)
		}
	}
}
