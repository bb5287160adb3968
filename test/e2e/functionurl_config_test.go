package e2e

import (
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestFunctionUrlConfig drives CreateFunctionUrlConfig,
// GetFunctionUrlConfig, UpdateFunctionUrlConfig, DeleteFunctionUrlConfig
// and ListFunctionUrlConfigs through the SDK, as Terraform's
// aws_lambda_function_url does (create, read back, update, delete), on the
// unqualified function and an alias: the answers' members, the URL id
// kept for the config's life, the conflict of a second config, the
// not-found errors in AWS's texts (LocalStack's snapshot tests recorded
// against AWS, TestLambdaUrl), and the configs gone with their alias and
// their function.
func TestFunctionUrlConfig(t *testing.T) {
	e := start(t)
	c := ctx(t)
	in := createInput(t, "urlcfg", "", fnOpts{})
	in.CapacityProviderConfig, in.MemorySize = nil, aws.Int32(128) // default mode: publishing is immediate
	if _, err := e.lambda.CreateFunction(c, in); err != nil {
		t.Fatal(err)
	}
	e.settled("urlcfg")
	if _, err := e.lambda.PublishVersion(c, &lambda.PublishVersionInput{FunctionName: aws.String("urlcfg")}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"live", "beta"} {
		if _, err := e.lambda.CreateAlias(c, &lambda.CreateAliasInput{FunctionName: aws.String("urlcfg"), Name: aws.String(a), FunctionVersion: aws.String("1")}); err != nil {
			t.Fatal(err)
		}
	}
	const arn = "arn:aws:lambda:us-east-1:000000000000:function:urlcfg"
	idRE := regexp.MustCompile(`[/.]([a-z0-9]{32})[./]`)
	idOf := func(what string, u *string) string {
		t.Helper()
		m := idRE.FindStringSubmatch(aws.ToString(u))
		if m == nil {
			t.Fatalf("%s: FunctionUrl %q has no URL id of 32 lowercase letters and digits", what, aws.ToString(u))
		}
		return m[1]
	}
	stamp := func(what, s string) time.Time {
		t.Helper()
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || time.Since(at) > time.Minute || time.Until(at) > time.Second {
			t.Fatalf("%s: %q, want an ISO-8601 time about now (%v)", what, s, err)
		}
		return at
	}
	notFound := func(what string, err error, msg string) {
		t.Helper()
		var nf *types.ResourceNotFoundException
		if !asErr(err, &nf) || aws.ToString(nf.Message) != msg {
			t.Fatalf("%s: %v, want ResourceNotFoundException %q", what, err, msg)
		}
	}

	// Create, then a second Create.
	cr, err := e.lambda.CreateFunctionUrlConfig(c, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("urlcfg"), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatal(err)
	}
	id := idOf("Create", cr.FunctionUrl)
	created := stamp("Create's CreationTime", aws.ToString(cr.CreationTime))
	if aws.ToString(cr.FunctionArn) != arn || cr.AuthType != types.FunctionUrlAuthTypeNone || cr.Cors != nil || cr.InvokeMode != "" {
		t.Fatalf("Create: %+v", cr)
	}
	_, err = e.lambda.CreateFunctionUrlConfig(c, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("urlcfg"), AuthType: types.FunctionUrlAuthTypeAwsIam})
	var conflict *types.ResourceConflictException
	if !asErr(err, &conflict) || aws.ToString(conflict.Message) != "Failed to create function url config for [functionArn = "+arn+"]. Error message:  FunctionUrlConfig exists for this Lambda function" {
		t.Fatalf("a second Create: %v", err)
	}

	// Get: InvokeMode BUFFERED, the times.
	g, err := e.lambda.GetFunctionUrlConfig(c, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("urlcfg")})
	if err != nil {
		t.Fatal(err)
	}
	if idOf("Get", g.FunctionUrl) != id || aws.ToString(g.FunctionArn) != arn || g.InvokeMode != types.InvokeModeBuffered || g.AuthType != types.FunctionUrlAuthTypeNone ||
		!stamp("Get's CreationTime", aws.ToString(g.CreationTime)).Equal(created) || !stamp("Get's LastModifiedTime", aws.ToString(g.LastModifiedTime)).Equal(created) {
		t.Fatalf("Get: %+v", g)
	}

	// Update: what it names changes, the rest stays, LastModifiedTime moves.
	time.Sleep(5 * time.Millisecond)
	u, err := e.lambda.UpdateFunctionUrlConfig(c, &lambda.UpdateFunctionUrlConfigInput{FunctionName: aws.String("urlcfg"), AuthType: types.FunctionUrlAuthTypeAwsIam,
		Cors: &types.Cors{AllowOrigins: []string{"https://example.com"}, AllowMethods: []string{"GET"}, AllowCredentials: aws.Bool(true), MaxAge: aws.Int32(600)}})
	if err != nil {
		t.Fatal(err)
	}
	if idOf("Update", u.FunctionUrl) != id || u.AuthType != types.FunctionUrlAuthTypeAwsIam || u.Cors == nil || aws.ToInt32(u.Cors.MaxAge) != 600 ||
		!aws.ToBool(u.Cors.AllowCredentials) || len(u.Cors.AllowOrigins) != 1 || !stamp("Update's CreationTime", aws.ToString(u.CreationTime)).Equal(created) ||
		!stamp("Update's LastModifiedTime", aws.ToString(u.LastModifiedTime)).After(created) {
		t.Fatalf("Update: %+v", u)
	}
	u, err = e.lambda.UpdateFunctionUrlConfig(c, &lambda.UpdateFunctionUrlConfigInput{FunctionName: aws.String("urlcfg"), InvokeMode: types.InvokeModeResponseStream})
	if err != nil {
		t.Fatal(err)
	}
	if u.AuthType != types.FunctionUrlAuthTypeAwsIam || u.Cors == nil || u.InvokeMode != types.InvokeModeResponseStream {
		t.Fatalf("second Update: %+v", u)
	}

	// An alias: its own config, its ARN qualified, its own id.
	ca, err := e.lambda.CreateFunctionUrlConfig(c, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("urlcfg"), Qualifier: aws.String("live"),
		AuthType: types.FunctionUrlAuthTypeNone, InvokeMode: types.InvokeModeBuffered})
	if err != nil {
		t.Fatal(err)
	}
	liveID := idOf("Create of the alias", ca.FunctionUrl)
	if aws.ToString(ca.FunctionArn) != arn+":live" || liveID == id || ca.InvokeMode != types.InvokeModeBuffered {
		t.Fatalf("Create of the alias: %+v", ca)
	}
	if _, err := e.lambda.CreateFunctionUrlConfig(c, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String(arn + ":beta"), AuthType: types.FunctionUrlAuthTypeNone}); err != nil {
		t.Fatal(err)
	}

	// List: in the order of FunctionArn, paged.
	l, err := e.lambda.ListFunctionUrlConfigs(c, &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String("urlcfg")})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.FunctionUrlConfigs) != 3 || l.NextMarker != nil || aws.ToString(l.FunctionUrlConfigs[0].FunctionArn) != arn ||
		aws.ToString(l.FunctionUrlConfigs[1].FunctionArn) != arn+":beta" || aws.ToString(l.FunctionUrlConfigs[2].FunctionArn) != arn+":live" ||
		l.FunctionUrlConfigs[1].InvokeMode != types.InvokeModeBuffered || l.FunctionUrlConfigs[0].InvokeMode != types.InvokeModeResponseStream {
		t.Fatalf("List: %+v", l.FunctionUrlConfigs)
	}
	var arns []string
	p := lambda.NewListFunctionUrlConfigsPaginator(e.lambda, &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String("urlcfg"), MaxItems: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, fc := range page.FunctionUrlConfigs {
			arns = append(arns, aws.ToString(fc.FunctionArn))
		}
	}
	if len(arns) != 3 || arns[0] != arn || arns[2] != arn+":live" {
		t.Fatalf("List two a page: %q", arns)
	}

	// Not found, in AWS's texts.
	_, err = e.lambda.GetFunctionUrlConfig(c, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("doesnotexist")})
	notFound("Get of a missing function", err, "The resource you requested does not exist.")
	_, err = e.lambda.GetFunctionUrlConfig(c, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("urlcfg"), Qualifier: aws.String("v1")})
	notFound("Get of a missing alias", err, "The resource you requested does not exist.")
	_, err = e.lambda.CreateFunctionUrlConfig(c, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("doesnotexist"), AuthType: types.FunctionUrlAuthTypeNone})
	notFound("Create of a missing function", err, "Function does not exist")
	_, err = e.lambda.CreateFunctionUrlConfig(c, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("urlcfg"), Qualifier: aws.String("v1"), AuthType: types.FunctionUrlAuthTypeNone})
	notFound("Create of a missing alias", err, "Function does not exist")
	_, err = e.lambda.UpdateFunctionUrlConfig(c, &lambda.UpdateFunctionUrlConfigInput{FunctionName: aws.String("doesnotexist"), AuthType: types.FunctionUrlAuthTypeNone})
	notFound("Update of a missing function", err, "Function does not exist")
	_, err = e.lambda.ListFunctionUrlConfigs(c, &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String("doesnotexist")})
	notFound("List of a missing function", err, "Function does not exist")
	_, err = e.lambda.GetFunctionUrlConfig(c, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("urlcfg"), Qualifier: aws.String("1")})
	apiError(t, err, "ValidationException")
	_, err = e.lambda.GetFunctionUrlConfig(c, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("urlcfg"), Qualifier: aws.String("$LATEST")})
	apiError(t, err, "ValidationException")

	// Delete of the function's config leaves the aliases'; deleted, it is not found.
	if _, err := e.lambda.DeleteFunctionUrlConfig(c, &lambda.DeleteFunctionUrlConfigInput{FunctionName: aws.String("urlcfg")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.lambda.GetFunctionUrlConfig(c, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("urlcfg")})
	notFound("Get after Delete", err, "The resource you requested does not exist.")
	_, err = e.lambda.DeleteFunctionUrlConfig(c, &lambda.DeleteFunctionUrlConfigInput{FunctionName: aws.String("urlcfg")})
	notFound("Delete again", err, "The resource you requested does not exist.")
	if g, err := e.lambda.GetFunctionUrlConfig(c, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("urlcfg"), Qualifier: aws.String("live")}); err != nil || idOf("Get of the alias", g.FunctionUrl) != liveID {
		t.Fatalf("the alias's config after the function's Delete: %v", err)
	}
	// Recreated: a new URL id.
	cr, err = e.lambda.CreateFunctionUrlConfig(c, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("urlcfg"), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil || idOf("Create again", cr.FunctionUrl) == id {
		t.Fatalf("Create again: %+v %v (old id %s)", cr, err, id)
	}

	// An alias's config goes with the alias.
	if _, err := e.lambda.DeleteAlias(c, &lambda.DeleteAliasInput{FunctionName: aws.String("urlcfg"), Name: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.lambda.GetFunctionUrlConfig(c, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("urlcfg"), Qualifier: aws.String("live")})
	notFound("Get of a deleted alias's config", err, "The resource you requested does not exist.")

	// The function's configs go with it: a new function of the name has none.
	if _, err := e.lambda.DeleteFunction(c, &lambda.DeleteFunctionInput{FunctionName: aws.String("urlcfg")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lambda.CreateFunction(c, in); err != nil {
		t.Fatal(err)
	}
	e.settled("urlcfg")
	l, err = e.lambda.ListFunctionUrlConfigs(c, &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String("urlcfg")})
	if err != nil || len(l.FunctionUrlConfigs) != 0 {
		t.Fatalf("List of a new function of the name: %+v %v", l, err)
	}
}
