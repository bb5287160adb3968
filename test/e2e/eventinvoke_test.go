package e2e

import (
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestEventInvokeConfig drives PutFunctionEventInvokeConfig,
// UpdateFunctionEventInvokeConfig, GetFunctionEventInvokeConfig,
// DeleteFunctionEventInvokeConfig and ListFunctionEventInvokeConfigs
// through the SDK, as Terraform's aws_lambda_function_event_invoke_config
// does (put, read back, list, delete), on $LATEST, a version and an alias.
// The SDK parses LastModified (the model's timestamp, epoch seconds on the
// wire). The texts are AWS's answers as LocalStack's snapshot tests
// recorded them against AWS (TestLambdaEventInvokeConfig); the
// ValidationException texts are the model's constraints in AWS's words.
func TestEventInvokeConfig(t *testing.T) {
	e := start(t)
	c := ctx(t)
	for _, name := range []string{"async", "sink"} {
		in := createInput(t, name, "", fnOpts{})
		in.CapacityProviderConfig, in.MemorySize = nil, aws.Int32(128) // default mode: publishing is immediate
		if _, err := e.lambda.CreateFunction(c, in); err != nil {
			t.Fatal(err)
		}
		e.settled(name)
	}
	if _, err := e.lambda.PublishVersion(c, &lambda.PublishVersionInput{FunctionName: aws.String("async")}); err != nil {
		t.Fatal(err)
	}
	alias, err := e.lambda.CreateAlias(c, &lambda.CreateAliasInput{FunctionName: aws.String("async"), Name: aws.String("live"), FunctionVersion: aws.String("1")})
	if err != nil {
		t.Fatal(err)
	}
	const arn = "arn:aws:lambda:us-east-1:000000000000:function:"
	queue, sink := "arn:aws:sqs:us-east-1:000000000000:failed", arn+"sink"

	put := func(name, qualifier string, retries, age *int32, dest *types.DestinationConfig) (*lambda.PutFunctionEventInvokeConfigOutput, error) {
		in := &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String(name), MaximumRetryAttempts: retries, MaximumEventAgeInSeconds: age, DestinationConfig: dest}
		if qualifier != "" {
			in.Qualifier = aws.String(qualifier)
		}
		return e.lambda.PutFunctionEventInvokeConfig(c, in)
	}
	get := func(name, qualifier string) (*lambda.GetFunctionEventInvokeConfigOutput, error) {
		in := &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String(name)}
		if qualifier != "" {
			in.Qualifier = aws.String(qualifier)
		}
		return e.lambda.GetFunctionEventInvokeConfig(c, in)
	}
	dest := func(onSuccess, onFailure string) *types.DestinationConfig {
		d := &types.DestinationConfig{}
		if onSuccess != "" {
			d.OnSuccess = &types.OnSuccess{Destination: aws.String(onSuccess)}
		}
		if onFailure != "" {
			d.OnFailure = &types.OnFailure{Destination: aws.String(onFailure)}
		}
		return d
	}
	// check holds an answer to what was configured: nil pointers and ""
	// are not configured (AWS leaves the members out, and answers empty
	// OnSuccess and OnFailure objects).
	type answer struct {
		arn                  string
		retries, age         *int32
		onSuccess, onFailure string
	}
	check := func(what string, arnGot *string, lm *time.Time, retries, age *int32, d *types.DestinationConfig, want answer) {
		t.Helper()
		if aws.ToString(arnGot) != want.arn {
			t.Errorf("%s: FunctionArn %s, want %s", what, aws.ToString(arnGot), want.arn)
		}
		if lm == nil || time.Since(*lm) > time.Minute || time.Until(*lm) > time.Second {
			t.Errorf("%s: LastModified %v, want about now", what, lm)
		}
		if (retries == nil) != (want.retries == nil) || retries != nil && *retries != *want.retries {
			t.Errorf("%s: MaximumRetryAttempts %v, want %v", what, aws.ToInt32(retries), aws.ToInt32(want.retries))
		}
		if (age == nil) != (want.age == nil) || age != nil && *age != *want.age {
			t.Errorf("%s: MaximumEventAgeInSeconds %v, want %v", what, aws.ToInt32(age), aws.ToInt32(want.age))
		}
		if d == nil || d.OnSuccess == nil || d.OnFailure == nil {
			t.Errorf("%s: DestinationConfig %+v, want both members", what, d)
			return
		}
		if aws.ToString(d.OnSuccess.Destination) != want.onSuccess || aws.ToString(d.OnFailure.Destination) != want.onFailure {
			t.Errorf("%s: destinations %q %q, want %q %q", what, aws.ToString(d.OnSuccess.Destination), aws.ToString(d.OnFailure.Destination), want.onSuccess, want.onFailure)
		}
	}

	// Put, then Put again: the second replaces the whole config.
	p, err := put("async", "", aws.Int32(2), aws.Int32(60), dest("", queue))
	if err != nil {
		t.Fatal(err)
	}
	check("Put", p.FunctionArn, p.LastModified, p.MaximumRetryAttempts, p.MaximumEventAgeInSeconds, p.DestinationConfig,
		answer{arn: arn + "async:$LATEST", retries: aws.Int32(2), age: aws.Int32(60), onFailure: queue})
	if p, err = put("async", "$LATEST", aws.Int32(0), nil, nil); err != nil {
		t.Fatal(err)
	}
	check("second Put", p.FunctionArn, p.LastModified, p.MaximumRetryAttempts, p.MaximumEventAgeInSeconds, p.DestinationConfig,
		answer{arn: arn + "async:$LATEST", retries: aws.Int32(0)})
	// Update changes what it names and keeps the rest.
	u, err := e.lambda.UpdateFunctionEventInvokeConfig(c, &lambda.UpdateFunctionEventInvokeConfigInput{FunctionName: aws.String("async"),
		MaximumEventAgeInSeconds: aws.Int32(3600), DestinationConfig: dest(sink, queue)})
	if err != nil {
		t.Fatal(err)
	}
	check("Update", u.FunctionArn, u.LastModified, u.MaximumRetryAttempts, u.MaximumEventAgeInSeconds, u.DestinationConfig,
		answer{arn: arn + "async:$LATEST", retries: aws.Int32(0), age: aws.Int32(3600), onSuccess: sink, onFailure: queue})
	if u.LastModified.Before(*p.LastModified) {
		t.Errorf("Update's LastModified %v is before the Put's %v", u.LastModified, p.LastModified)
	}
	g, err := get("async", "")
	if err != nil {
		t.Fatal(err)
	}
	check("Get", g.FunctionArn, g.LastModified, g.MaximumRetryAttempts, g.MaximumEventAgeInSeconds, g.DestinationConfig,
		answer{arn: arn + "async:$LATEST", retries: aws.Int32(0), age: aws.Int32(3600), onSuccess: sink, onFailure: queue})
	if !g.LastModified.Equal(*u.LastModified) {
		t.Errorf("Get's LastModified %v, want the Update's %v", g.LastModified, u.LastModified)
	}

	// A version and an alias have configs of their own.
	if _, err := get("async", "1"); err == nil {
		t.Fatal("version 1 has a config before one was put")
	}
	if p, err = put("async", "1", nil, aws.Int32(120), nil); err != nil {
		t.Fatal(err)
	}
	check("Put of version 1", p.FunctionArn, p.LastModified, p.MaximumRetryAttempts, p.MaximumEventAgeInSeconds, p.DestinationConfig,
		answer{arn: arn + "async:1", age: aws.Int32(120)})
	if p, err = put(aws.ToString(alias.AliasArn), "", aws.Int32(1), nil, dest("", "arn:aws:s3:::records")); err != nil {
		t.Fatal(err)
	}
	check("Put of the alias by its ARN", p.FunctionArn, p.LastModified, p.MaximumRetryAttempts, p.MaximumEventAgeInSeconds, p.DestinationConfig,
		answer{arn: arn + "async:live", retries: aws.Int32(1), onFailure: "arn:aws:s3:::records"})

	// List, whole and in pages.
	arns := func(cs []types.FunctionEventInvokeConfig) []string {
		var out []string
		for _, c := range cs {
			out = append(out, aws.ToString(c.FunctionArn))
		}
		return out
	}
	l, err := e.lambda.ListFunctionEventInvokeConfigs(c, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String("async")})
	if err != nil {
		t.Fatal(err)
	}
	if got := arns(l.FunctionEventInvokeConfigs); len(got) != 3 || got[0] != arn+"async:$LATEST" || got[1] != arn+"async:1" || got[2] != arn+"async:live" || l.NextMarker != nil {
		t.Fatalf("List: %v next %v", got, aws.ToString(l.NextMarker))
	}
	var paged []string
	pages := lambda.NewListFunctionEventInvokeConfigsPaginator(e.lambda, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String("async"), MaxItems: aws.Int32(2)})
	for n := 0; pages.HasMorePages(); n++ {
		pg, err := pages.NextPage(c)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 && len(pg.FunctionEventInvokeConfigs) != 2 {
			t.Fatalf("first page of 2: %v", arns(pg.FunctionEventInvokeConfigs))
		}
		paged = append(paged, arns(pg.FunctionEventInvokeConfigs)...)
	}
	if len(paged) != 3 || paged[2] != arn+"async:live" {
		t.Fatalf("paged List: %v", paged)
	}

	notFound := func(q string) string {
		return `^The function ` + regexp.QuoteMeta(arn+q) + ` doesn't have an EventInvokeConfig$`
	}
	for _, tc := range []struct {
		name string
		call func() error
		code string
		msg  string
	}{
		{"Put with no setting", func() error { _, err := put("ghost", "", nil, nil, nil); return err },
			"InvalidParameterValueException", `^You must specify at least one of error handling or destination setting\.$`},
		{"Put of a missing function", func() error { _, err := put("ghost", "", aws.Int32(1), nil, nil); return err },
			"ResourceNotFoundException", `^The function doesn't exist\.$`},
		{"Put of a missing function by its ARN", func() error { _, err := put(arn+"ghost", "", aws.Int32(1), nil, nil); return err },
			"ResourceNotFoundException", `^The function doesn't exist\.$`},
		{"Put of a missing alias", func() error { _, err := put("async", "livedoesnotexist", aws.Int32(1), nil, nil); return err },
			"ResourceNotFoundException", `^The function doesn't exist\.$`},
		{"Put with a qualifier the ARN contradicts", func() error { _, err := put(aws.ToString(alias.AliasArn), "other", aws.Int32(1), nil, nil); return err },
			"InvalidParameterValueException", `^The derived qualifier from the function name does not match the specified qualifier\.$`},
		{"Put with 3 retries", func() error { _, err := put("async", "", aws.Int32(3), nil, nil); return err },
			"ValidationException", `^1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2$`},
		{"Put with an event age of 21601", func() error { _, err := put("async", "", nil, aws.Int32(21601), nil); return err },
			"ValidationException", `^1 validation error detected: Value '21601' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value less than or equal to 21600$`},
		{"Put with an event age of 59", func() error { _, err := put("async", "", nil, aws.Int32(59), nil); return err },
			"ValidationException", `^1 validation error detected: Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60$`},
		{"a destination that is not an ARN", func() error { _, err := put("async", "", nil, nil, dest("", "invalid")); return err },
			"ValidationException", `^1 validation error detected: Value 'invalid' at 'destinationConfig\.onFailure\.destination' failed to satisfy constraint: Member must satisfy regular expression pattern: \$\|kafka://`},
		{"a destination function that does not exist", func() error { _, err := put("async", "", nil, nil, dest(arn+"doesnotexist", "")); return err },
			"InvalidParameterValueException", `^The destination ARN ` + regexp.QuoteMeta(arn) + `doesnotexist is invalid\.$`},
		{"the function as its own destination", func() error { _, err := put("async", "", nil, nil, dest(arn+"async", "")); return err },
			"InvalidParameterValueException", `^You can't specify the function as a destination for itself\.$`},
		{"a destination of another service", func() error {
			_, err := put("async", "", nil, nil, dest("arn:aws:iam:us-east-1:000000000000:function:async", ""))
			return err
		}, "InvalidParameterValueException", `^The provided destination config DestinationConfig\(onSuccess=OnSuccess\(destination=arn:aws:iam:us-east-1:000000000000:function:async\), onFailure=null\) is invalid\.$`},
		{"Update of a missing function", func() error {
			_, err := e.lambda.UpdateFunctionEventInvokeConfig(c, &lambda.UpdateFunctionEventInvokeConfigInput{FunctionName: aws.String("ghost"), MaximumRetryAttempts: aws.Int32(0)})
			return err
		}, "ResourceNotFoundException", `^The function doesn't exist\.$`},
		{"Update of a function without a config", func() error {
			_, err := e.lambda.UpdateFunctionEventInvokeConfig(c, &lambda.UpdateFunctionEventInvokeConfigInput{FunctionName: aws.String("sink"), MaximumRetryAttempts: aws.Int32(0)})
			return err
		}, "ResourceNotFoundException", notFound("sink:$LATEST")},
		{"Get of a missing function", func() error { _, err := get("ghost", ""); return err }, "ResourceNotFoundException", notFound("ghost:$LATEST")},
		{"Get of a missing version", func() error { _, err := get("async", "1221"); return err }, "ResourceNotFoundException", notFound("async:1221")},
		{"Get of a function without a config", func() error { _, err := get("sink", ""); return err }, "ResourceNotFoundException", notFound("sink:$LATEST")},
		{"Delete of a function without a config", func() error {
			_, err := e.lambda.DeleteFunctionEventInvokeConfig(c, &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: aws.String("sink")})
			return err
		}, "ResourceNotFoundException", notFound("sink:$LATEST")},
		{"Delete of a missing function", func() error {
			_, err := e.lambda.DeleteFunctionEventInvokeConfig(c, &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: aws.String("ghost")})
			return err
		}, "ResourceNotFoundException", notFound("ghost:$LATEST")},
		{"List of a missing function", func() error {
			_, err := e.lambda.ListFunctionEventInvokeConfigs(c, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String("ghost")})
			return err
		}, "ResourceNotFoundException", `^The function doesn't exist\.$`},
		{"List MaxItems 51", func() error {
			_, err := e.lambda.ListFunctionEventInvokeConfigs(c, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String("async"), MaxItems: aws.Int32(51)})
			return err
		}, "ValidationException", `^1 validation error detected: Value '51' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 50$`},
	} {
		wantAPIError(t, tc.name, tc.call(), tc.code, tc.msg)
	}
	var rnf *types.ResourceNotFoundException
	if _, err := get("ghost", ""); !errors.As(err, &rnf) || aws.ToString(rnf.Type) != "User" {
		t.Errorf("Get of a missing function: %v, want the SDK's ResourceNotFoundException with Type User", err)
	}

	// Durable across a restart.
	e.p.Close()
	e = startIn(t, e.dataDir)
	c = ctx(t)
	if g, err = get("async", "live"); err != nil {
		t.Fatal(err)
	}
	check("Get of the alias after a restart", g.FunctionArn, g.LastModified, g.MaximumRetryAttempts, g.MaximumEventAgeInSeconds, g.DestinationConfig,
		answer{arn: arn + "async:live", retries: aws.Int32(1), onFailure: "arn:aws:s3:::records"})

	// Deleting the alias deletes its config: a new alias of the name has none.
	if _, err := e.lambda.DeleteAlias(c, &lambda.DeleteAliasInput{FunctionName: aws.String("async"), Name: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lambda.CreateAlias(c, &lambda.CreateAliasInput{FunctionName: aws.String("async"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	_, err = get("async", "live")
	wantAPIError(t, "Get of a re-created alias", err, "ResourceNotFoundException", notFound("async:live"))

	// Delete, then Get and Delete again.
	if _, err := e.lambda.DeleteFunctionEventInvokeConfig(c, &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: aws.String("async"), Qualifier: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	_, err = get("async", "1")
	wantAPIError(t, "Get after Delete", err, "ResourceNotFoundException", notFound("async:1"))
	_, err = e.lambda.DeleteFunctionEventInvokeConfig(c, &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: aws.String("async"), Qualifier: aws.String("1")})
	wantAPIError(t, "second Delete", err, "ResourceNotFoundException", notFound("async:1"))
	if l, err = e.lambda.ListFunctionEventInvokeConfigs(c, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String("async")}); err != nil {
		t.Fatal(err)
	}
	if got := arns(l.FunctionEventInvokeConfigs); len(got) != 1 || got[0] != arn+"async:$LATEST" {
		t.Fatalf("List after the deletes: %v", got)
	}

	// Deleting the function deletes its configs: the function made again has none.
	if _, err := e.lambda.DeleteFunction(c, &lambda.DeleteFunctionInput{FunctionName: aws.String("async")}); err != nil {
		t.Fatal(err)
	}
	in := createInput(t, "async", "", fnOpts{})
	in.CapacityProviderConfig, in.MemorySize = nil, aws.Int32(128)
	if _, err := e.lambda.CreateFunction(c, in); err != nil {
		t.Fatal(err)
	}
	if l, err = e.lambda.ListFunctionEventInvokeConfigs(c, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String("async")}); err != nil || len(l.FunctionEventInvokeConfigs) != 0 {
		t.Fatalf("List of the re-created function: %v %v, want none", l, err)
	}
	_, err = get("async", "")
	wantAPIError(t, "Get of the re-created function", err, "ResourceNotFoundException", notFound("async:$LATEST"))
}
