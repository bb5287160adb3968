package e2e

import (
	"errors"
	"maps"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// wantAPIError checks err against an AWS error code and a message pattern
// ("" code: no error).
func wantAPIError(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
		return
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Errorf("%s: got %v, want %s", what, err, code)
		return
	}
	if ae.ErrorCode() != code {
		t.Errorf("%s: got %s (%s), want %s", what, ae.ErrorCode(), ae.ErrorMessage(), code)
		return
	}
	if msg != "" && !regexp.MustCompile(msg).MatchString(ae.ErrorMessage()) {
		t.Errorf("%s: message %q does not match %q", what, ae.ErrorMessage(), msg)
	}
}

// TestTags drives TagResource, UntagResource and ListTags the way
// Terraform's aws_lambda_function and aws_lambda_capacity_provider do:
// tags given at create time, then changed in place on later deploys.
// Codes are the model's (service-2.json: TagResource/UntagResource/ListTags
// errors); texts are AWS's where it documents them ("Tags on function
// aliases and versions are not supported"), limits are those of the Lambda
// developer guide's tag restrictions (50 tags, 128/256 characters, aws:).
func TestTags(t *testing.T) {
	e := start(t)
	c := ctx(t)
	cpARN := e.capacityProvider("cp-tags")
	in := createInput(t, "tagged", cpARN, fnOpts{})
	in.Tags = map[string]string{"team": "core", "paddock:overflow": "off"}
	e.function("tagged", cpARN, fnOpts{})
	// A second function, created with tags.
	in.FunctionName = aws.String("tagged-at-create")
	created, err := e.lambda.CreateFunction(c, in)
	if err != nil {
		t.Fatal(err)
	}
	fnARN := aws.ToString(created.FunctionArn)
	bare := strings.TrimSuffix(fnARN, "tagged-at-create") + "tagged"

	listTags := func(arn string) (map[string]string, error) {
		out, err := e.lambda.ListTags(c, &lambda.ListTagsInput{Resource: aws.String(arn)})
		if err != nil {
			return nil, err
		}
		return out.Tags, nil
	}
	getFunctionTags := func(name string) map[string]string {
		out, err := e.lambda.GetFunction(c, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
		if err != nil {
			t.Fatalf("GetFunction %s: %v", name, err)
		}
		return out.Tags
	}

	// Tags given at create time are readable.
	if got, err := listTags(fnARN); err != nil || !maps.Equal(got, in.Tags) {
		t.Fatalf("ListTags after create: %v %v, want %v", got, err, in.Tags)
	}
	if got, err := listTags(bare); err != nil || len(got) != 0 {
		t.Fatalf("ListTags of an untagged function: %v %v, want {}", got, err)
	}

	many := map[string]string{}
	for i := range 49 {
		many["k"+strings.Repeat("x", i)] = "v"
	}
	const other = "arn:aws:lambda:us-east-1:000000000000:function:nope"
	for _, tc := range []struct {
		name     string
		resource string
		tags     map[string]string
		code     string
		msg      string
	}{
		{"add and replace", fnARN, map[string]string{"team": "edge", "env": "prod"}, "", ""},
		{"capacity provider", cpARN, map[string]string{"owner": "ops"}, "", ""},
		{"empty value", fnARN, map[string]string{"flag": ""}, "", ""},
		{"qualified ARN", fnARN + ":1", map[string]string{"a": "b"}, "InvalidParameterValueException", "^Tags on function aliases and versions are not supported. Please specify a function ARN.$"},
		{"not an ARN", "tagged", map[string]string{"a": "b"}, "ValidationException", "^1 validation error detected: Value 'tagged' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern"},
		{"missing function", other, map[string]string{"a": "b"}, "ResourceNotFoundException", "^Function not found: " + regexp.QuoteMeta(other) + "$"},
		{"missing capacity provider", strings.Replace(cpARN, "cp-tags", "cp-none", 1), map[string]string{"a": "b"}, "ResourceNotFoundException", "^Capacity provider not found: "},
		{"reserved prefix", fnARN, map[string]string{"aws:cloudformation:stack-name": "s"}, "InvalidParameterValueException", "aws:"},
		{"key too long", fnARN, map[string]string{strings.Repeat("k", 129): "v"}, "InvalidParameterValueException", "128"},
		{"value too long", fnARN, map[string]string{"k": strings.Repeat("v", 257)}, "InvalidParameterValueException", "256"},
		{"over 50 in all", fnARN, many, "InvalidParameterValueException", "50"},
	} {
		_, err := e.lambda.TagResource(c, &lambda.TagResourceInput{Resource: aws.String(tc.resource), Tags: tc.tags})
		wantAPIError(t, "TagResource "+tc.name, err, tc.code, tc.msg)
	}
	want := map[string]string{"team": "edge", "env": "prod", "flag": "", "paddock:overflow": "off"}
	if got, err := listTags(fnARN); err != nil || !maps.Equal(got, want) {
		t.Fatalf("ListTags after TagResource: %v %v, want %v", got, err, want)
	}
	if got := getFunctionTags("tagged-at-create"); !maps.Equal(got, want) {
		t.Fatalf("GetFunction Tags after TagResource: %v, want %v", got, want)
	}
	if got, err := listTags(cpARN); err != nil || !maps.Equal(got, map[string]string{"owner": "ops"}) {
		t.Fatalf("ListTags of the capacity provider: %v %v", got, err)
	}

	for _, tc := range []struct {
		name     string
		resource string
		keys     []string
		code     string
		msg      string
	}{
		{"remove two", fnARN, []string{"env", "flag"}, "", ""},
		{"absent key is fine", fnARN, []string{"never-set"}, "", ""},
		{"capacity provider", cpARN, []string{"owner"}, "", ""},
		{"qualified ARN", fnARN + ":live", []string{"team"}, "InvalidParameterValueException", "^Tags on function aliases and versions are not supported"},
		{"missing function", other, []string{"team"}, "ResourceNotFoundException", "^Function not found: "},
		{"reserved prefix", fnARN, []string{"aws:x"}, "InvalidParameterValueException", "aws:"},
	} {
		_, err := e.lambda.UntagResource(c, &lambda.UntagResourceInput{Resource: aws.String(tc.resource), TagKeys: tc.keys})
		wantAPIError(t, "UntagResource "+tc.name, err, tc.code, tc.msg)
	}
	want = map[string]string{"team": "edge", "paddock:overflow": "off"}
	if got, err := listTags(fnARN); err != nil || !maps.Equal(got, want) {
		t.Fatalf("ListTags after UntagResource: %v %v, want %v", got, err, want)
	}
	if got, err := listTags(cpARN); err != nil || len(got) != 0 {
		t.Fatalf("ListTags of the capacity provider after UntagResource: %v %v", got, err)
	}
	_, err = listTags(other)
	wantAPIError(t, "ListTags of a missing function", err, "ResourceNotFoundException", "^Function not found: ")
	_, err = listTags(fnARN + ":1")
	wantAPIError(t, "ListTags of a version", err, "InvalidParameterValueException", "aliases and versions")

	// CreateCapacityProvider applies the same rules to the tags it is given.
	_, err = e.lambda.CreateCapacityProvider(c, &lambda.CreateCapacityProviderInput{
		CapacityProviderName: aws.String("cp-bad-tags"),
		VpcConfig:            &types.CapacityProviderVpcConfig{SubnetIds: []string{"subnet-1"}, SecurityGroupIds: []string{"sg-1"}},
		PermissionsConfig:    &types.CapacityProviderPermissionsConfig{CapacityProviderOperatorRoleArn: aws.String(opRole)},
		Tags:                 map[string]string{"aws:reserved": "x"},
	})
	wantAPIError(t, "CreateCapacityProvider with a reserved tag key", err, "InvalidParameterValueException", "aws:")

	// Durable: the changed tags survive a restart.
	if _, err := e.lambda.TagResource(c, &lambda.TagResourceInput{Resource: aws.String(cpARN), Tags: map[string]string{"kept": "yes"}}); err != nil {
		t.Fatal(err)
	}
	e.p.Close()
	e = startIn(t, e.dataDir)
	c = ctx(t)
	if got, err := listTags(fnARN); err != nil || !maps.Equal(got, want) {
		t.Fatalf("ListTags after restart: %v %v, want %v", got, err, want)
	}
	if got, err := listTags(cpARN); err != nil || !maps.Equal(got, map[string]string{"kept": "yes"}) {
		t.Fatalf("capacity provider tags after restart: %v %v", got, err)
	}

	// Deleting the function drops its tags: a new function of the same name starts with none.
	if _, err := e.lambda.DeleteFunction(c, &lambda.DeleteFunctionInput{FunctionName: aws.String("tagged-at-create")}); err != nil {
		t.Fatal(err)
	}
	_, err = listTags(fnARN)
	wantAPIError(t, "ListTags of a deleted function", err, "ResourceNotFoundException", "^Function not found: ")
	in.Tags = nil
	if _, err := e.lambda.CreateFunction(c, in); err != nil {
		t.Fatal(err)
	}
	e.p.Close()
	e = startIn(t, e.dataDir)
	c = ctx(t)
	if got, err := listTags(fnARN); err != nil || len(got) != 0 {
		t.Fatalf("tags of a re-created function after restart: %v %v, want none", got, err)
	}
}
