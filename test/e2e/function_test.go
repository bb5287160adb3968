package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/paddockhq/paddock/internal/codezip"
)

func TestFunctionLifecycle(t *testing.T) {
	e := start(t)
	c := ctx(t)
	cp := e.capacityProvider("cp")
	created := e.function("life", cp, fnOpts{maxConcurrency: 4})
	// CreateFunction answers Pending, as AWS does; once settled (e.function
	// waits), an LMI function's $LATEST is ActiveNonInvocable.
	if created.State != types.StatePending || aws.ToString(created.Version) != "$LATEST" {
		t.Fatalf("new LMI function: state %s version %s, want Pending $LATEST", created.State, aws.ToString(created.Version))
	}
	if st := e.waitState("life", "$LATEST", func(types.State) bool { return true }); st != types.StateActiveNonInvocable {
		t.Fatalf("settled LMI function: state %s, want ActiveNonInvocable", st)
	}
	if want := codezip.CodeSha256(exampleZip(t, "echo")); aws.ToString(created.CodeSha256) != want {
		t.Fatalf("CodeSha256 %s, want %s", aws.ToString(created.CodeSha256), want)
	}

	// No published version yet: an unqualified invoke says so; $LATEST is never invocable.
	_, err := e.invoke("life", "", `{}`)
	apiError(t, err, "NoPublishedVersionException")
	_, err = e.invoke("life", "$LATEST", `{}`)
	apiError(t, err, "ResourceConflictException")

	// RevisionId guards updates.
	_, err = e.lambda.UpdateFunctionConfiguration(c, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("life"), RevisionId: aws.String("stale"), Timeout: aws.Int32(5)})
	apiError(t, err, "PreconditionFailedException")
	upd, err := e.lambda.UpdateFunctionConfiguration(c, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("life"), RevisionId: created.RevisionId, Timeout: aws.Int32(5),
		Environment: &types.Environment{Variables: map[string]string{"GREETING": "hello"}}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(upd.Timeout) != 5 || upd.Environment.Variables["GREETING"] != "hello" {
		t.Fatalf("update not applied: %+v", upd)
	}

	v, st := e.publish("life")
	if v != "1" || st != types.StateActive {
		t.Fatalf("publish: version %s state %s, want 1 Active", v, st)
	}
	// Publishing again with nothing changed returns the same version.
	again, err := e.lambda.PublishVersion(c, &lambda.PublishVersionInput{FunctionName: aws.String("life")})
	if err != nil || aws.ToString(again.Version) != "1" {
		t.Fatalf("republish: %v %v, want version 1", err, aws.ToString(again.Version))
	}
	_, err = e.lambda.PublishVersion(c, &lambda.PublishVersionInput{FunctionName: aws.String("life"), CodeSha256: aws.String("abc")})
	apiError(t, err, "InvalidParameterValueException")

	// A plain numbered publish does not move $LATEST.PUBLISHED, which an
	// unqualified invoke runs (AWS: only PublishTo LATEST_PUBLISHED writes it;
	// see versions_test.go).
	_, err = e.invoke("life", "", `{}`)
	apiError(t, err, "NoPublishedVersionException")
	if lp, err := e.lambda.PublishVersion(c, &lambda.PublishVersionInput{FunctionName: aws.String("life"),
		PublishTo: types.FunctionVersionLatestPublishedLatestPublished}); err != nil || aws.ToString(lp.Version) != "$LATEST.PUBLISHED" {
		t.Fatalf("PublishTo LATEST_PUBLISHED: %v, want version $LATEST.PUBLISHED", err)
	}

	// Invoke by version, unqualified ($LATEST.PUBLISHED) and through an alias.
	for _, q := range []string{"1", "", "$LATEST.PUBLISHED"} {
		out, err := e.invoke("life", q, `{"n":1}`)
		if err != nil {
			t.Fatalf("invoke %q: %v", q, err)
		}
		if string(out.Payload) != `{"n":1}` || out.FunctionError != nil {
			t.Fatalf("invoke %q: %s version %s error %v", q, out.Payload, aws.ToString(out.ExecutedVersion), out.FunctionError)
		}
		if q == "1" && aws.ToString(out.ExecutedVersion) != "1" {
			t.Fatalf("invoke 1: executed version %s", aws.ToString(out.ExecutedVersion))
		}
	}
	al, err := e.lambda.CreateAlias(c, &lambda.CreateAliasInput{FunctionName: aws.String("life"), Name: aws.String("live"), FunctionVersion: aws.String("1")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(al.AliasArn) != "arn:aws:lambda:us-east-1:000000000000:function:life:live" {
		t.Fatalf("alias ARN %s", aws.ToString(al.AliasArn))
	}
	out, err := e.invoke("life", "live", `{"via":"alias"}`)
	if err != nil || string(out.Payload) != `{"via":"alias"}` {
		t.Fatalf("invoke alias: %v %s", err, out.Payload)
	}
	out, err = e.invoke("arn:aws:lambda:us-east-1:000000000000:function:life:live", "", `{"via":"arn"}`)
	if err != nil || string(out.Payload) != `{"via":"arn"}` {
		t.Fatalf("invoke alias ARN: %v %s", err, out.Payload)
	}
	_, err = e.lambda.CreateAlias(c, &lambda.CreateAliasInput{FunctionName: aws.String("life"), Name: aws.String("live"), FunctionVersion: aws.String("1")})
	apiError(t, err, "ResourceConflictException")
	_, err = e.lambda.UpdateAlias(c, &lambda.UpdateAliasInput{FunctionName: aws.String("life"), Name: aws.String("live"), RevisionId: aws.String("stale")})
	apiError(t, err, "PreconditionFailedException")
	_, err = e.lambda.CreateAlias(c, &lambda.CreateAliasInput{FunctionName: aws.String("life"), Name: aws.String("ghost"), FunctionVersion: aws.String("9")})
	apiError(t, err, "ResourceNotFoundException")
	aliases, err := e.lambda.ListAliases(c, &lambda.ListAliasesInput{FunctionName: aws.String("life")})
	if err != nil || len(aliases.Aliases) != 1 {
		t.Fatalf("ListAliases: %v %d", err, len(aliases.Aliases))
	}
	_, err = e.lambda.DeleteFunction(c, &lambda.DeleteFunctionInput{FunctionName: aws.String("life"), Qualifier: aws.String("1")})
	apiError(t, err, "ResourceConflictException") // the alias points at it

	// Scaling config: defaults applied, requested as given.
	sc, err := e.lambda.GetFunctionScalingConfig(c, &lambda.GetFunctionScalingConfigInput{FunctionName: aws.String("life"), Qualifier: aws.String("1")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(sc.AppliedFunctionScalingConfig.MinExecutionEnvironments) != 3 {
		t.Fatalf("applied min %d, want 3", aws.ToInt32(sc.AppliedFunctionScalingConfig.MinExecutionEnvironments))
	}
	_, err = e.lambda.PutFunctionScalingConfig(c, &lambda.PutFunctionScalingConfigInput{FunctionName: aws.String("life"), Qualifier: aws.String("1"),
		FunctionScalingConfig: &types.FunctionScalingConfig{MinExecutionEnvironments: aws.Int32(0), MaxExecutionEnvironments: aws.Int32(5)}})
	apiError(t, err, "InvalidParameterValueException")

	// Code update and a second version, listed in order.
	code, err := e.lambda.UpdateFunctionCode(c, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("life"), ZipFile: exampleZip(t, "sleep"), Publish: true})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(code.Version) != "2" {
		t.Fatalf("UpdateFunctionCode with Publish gave version %s, want 2", aws.ToString(code.Version))
	}
	e.waitState("life", "2", func(s types.State) bool { return s == types.StateActive })
	vs, err := e.lambda.ListVersionsByFunction(c, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("life")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs.Versions {
		got = append(got, aws.ToString(v.Version))
	}
	if len(got) != 3 || got[0] != "$LATEST" || got[1] != "1" || got[2] != "2" {
		t.Fatalf("versions %v, want [$LATEST 1 2]", got)
	}
	byCP, err := e.lambda.ListFunctionVersionsByCapacityProvider(c, &lambda.ListFunctionVersionsByCapacityProviderInput{CapacityProviderName: aws.String("cp")})
	if err != nil || len(byCP.FunctionVersions) != 2 {
		t.Fatalf("ListFunctionVersionsByCapacityProvider: %v %+v", err, byCP)
	}
	all, err := e.lambda.ListFunctions(c, &lambda.ListFunctionsInput{FunctionVersion: types.FunctionVersionAll})
	if err != nil || len(all.Functions) != 3 {
		t.Fatalf("ListFunctions ALL: %v %d, want 3", err, len(all.Functions))
	}

	if _, err := e.lambda.DeleteAlias(c, &lambda.DeleteAliasInput{FunctionName: aws.String("life"), Name: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lambda.DeleteFunction(c, &lambda.DeleteFunctionInput{FunctionName: aws.String("life")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.invoke("life", "1", `{}`)
	apiError(t, err, "ResourceNotFoundException")
}

func TestListFunctionsPaging(t *testing.T) {
	e := start(t)
	cp := e.capacityProvider("cp")
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		e.function(n, cp, fnOpts{})
	}
	var names []string
	p := lambda.NewListFunctionsPaginator(e.lambda, &lambda.ListFunctionsInput{MaxItems: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page.Functions {
			names = append(names, aws.ToString(f.FunctionName))
		}
	}
	if len(names) != 5 || names[0] != "a" || names[4] != "e" {
		t.Fatalf("paged names %v", names)
	}
}
