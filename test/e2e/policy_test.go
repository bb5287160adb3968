package e2e

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// TestPolicy drives AddPermission, RemovePermission and GetPolicy the way
// Terraform's aws_lambda_permission does (add, read back, remove). The
// policy JSON is AWS's: the shape of the GetPolicy and AddPermission
// examples in AWS's API reference (Version 2012-10-17, Id default,
// statements of Sid, Effect, Principal, Action, Resource, Condition). The
// codes are the model's (service-2.json); the texts of a duplicate
// statement id and of a missing policy are AWS's answers. Paddock stores
// policies and does not enforce them.
func TestPolicy(t *testing.T) {
	e := start(t)
	c := ctx(t)
	in := createInput(t, "guarded", "", fnOpts{})
	in.CapacityProviderConfig = nil // default mode: publishing is immediate
	in.MemorySize = aws.Int32(128)
	created, err := e.lambda.CreateFunction(c, in)
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.FunctionArn)
	e.settled("guarded")
	if _, err := e.lambda.PublishVersion(c, &lambda.PublishVersionInput{FunctionName: aws.String("guarded")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lambda.CreateAlias(c, &lambda.CreateAliasInput{FunctionName: aws.String("guarded"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}

	getPolicy := func(qualifier string) (*lambda.GetPolicyOutput, error) {
		in := &lambda.GetPolicyInput{FunctionName: aws.String("guarded")}
		if qualifier != "" {
			in.Qualifier = aws.String(qualifier)
		}
		return e.lambda.GetPolicy(c, in)
	}
	_, err = getPolicy("")
	wantAPIError(t, "GetPolicy with no policy", err, "ResourceNotFoundException", `^The resource you requested does not exist\.$`)

	s3 := func(sid string) *lambda.AddPermissionInput {
		return &lambda.AddPermissionInput{
			FunctionName: aws.String("guarded"), StatementId: aws.String(sid), Action: aws.String("lambda:InvokeFunction"),
			Principal: aws.String("s3.amazonaws.com"), SourceArn: aws.String("arn:aws:s3:::my-bucket"), SourceAccount: aws.String("123456789012"),
		}
	}
	out, err := e.lambda.AddPermission(c, s3("s3-invoke"))
	if err != nil {
		t.Fatal(err)
	}
	wantStatement := `{"Sid":"s3-invoke","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + arn +
		`","Condition":{"StringEquals":{"AWS:SourceAccount":"123456789012"},"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::my-bucket"}}}`
	if got := aws.ToString(out.Statement); got != wantStatement {
		t.Fatalf("AddPermission Statement\n got %s\nwant %s", got, wantStatement)
	}
	p, err := getPolicy("")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"Version":"2012-10-17","Id":"default","Statement":[` + wantStatement + `]}`; aws.ToString(p.Policy) != want {
		t.Fatalf("GetPolicy\n got %s\nwant %s", aws.ToString(p.Policy), want)
	}
	rev := aws.ToString(p.RevisionId)
	if rev == "" {
		t.Fatal("GetPolicy: no RevisionId")
	}
	// As on AWS, the policy's RevisionId is the function's, which the
	// permission moved.
	if fn, err := e.lambda.GetFunction(c, &lambda.GetFunctionInput{FunctionName: aws.String("guarded")}); err != nil ||
		aws.ToString(fn.Configuration.RevisionId) != rev || rev == aws.ToString(created.RevisionId) {
		t.Fatalf("GetPolicy RevisionId %s; the function's is now %v (created with %s): want the function's, moved by AddPermission", rev, fn, aws.ToString(created.RevisionId))
	}

	withRev := func(in *lambda.AddPermissionInput, r string) *lambda.AddPermissionInput {
		in.RevisionId = aws.String(r)
		return in
	}
	qualified := func(in *lambda.AddPermissionInput, q string) *lambda.AddPermissionInput {
		in.Qualifier = aws.String(q)
		return in
	}
	for _, tc := range []struct {
		name string
		in   *lambda.AddPermissionInput
		code string
		msg  string
	}{
		{"duplicate statement id", s3("s3-invoke"), "ResourceConflictException",
			`^The statement id \(s3-invoke\) provided already exists\. Please provide a new statement id, or remove the existing statement\.$`},
		{"stale revision", withRev(s3("other"), "not-the-revision"), "PreconditionFailedException", "Revision Id"},
		{"current revision", withRev(s3("sns"), rev), "", ""},
		{"account principal", &lambda.AddPermissionInput{FunctionName: aws.String("guarded"), StatementId: aws.String("xaccount"),
			Action: aws.String("lambda:GetFunction"), Principal: aws.String("111122223333")}, "", ""},
		{"version", qualified(s3("v1"), "1"), "", ""},
		{"alias", qualified(s3("alias"), "live"), "", ""},
		{"$LATEST", qualified(s3("latest"), "$LATEST"), "InvalidParameterValueException", `^We currently do not support adding policies for \$LATEST\.$`},
		{"missing version", qualified(s3("v9"), "9"), "ResourceNotFoundException", `^Function not found: ` + regexp.QuoteMeta(arn) + `:9$`},
		{"missing function", &lambda.AddPermissionInput{FunctionName: aws.String("nope"), StatementId: aws.String("a"),
			Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")}, "ResourceNotFoundException", `^Function not found: .*:function:nope$`},
		{"statement id pattern", s3("a b"), "ValidationException", `^1 validation error detected: Value 'a b' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern`},
		{"action pattern", &lambda.AddPermissionInput{FunctionName: aws.String("guarded"), StatementId: aws.String("s3x"),
			Action: aws.String("s3:GetObject"), Principal: aws.String("s3.amazonaws.com")}, "ValidationException", `at 'action'`},
		{"source account pattern", &lambda.AddPermissionInput{FunctionName: aws.String("guarded"), StatementId: aws.String("acct"),
			Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"), SourceAccount: aws.String("12345")}, "ValidationException", `at 'sourceAccount'`},
	} {
		_, err := e.lambda.AddPermission(c, tc.in)
		wantAPIError(t, "AddPermission "+tc.name, err, tc.code, tc.msg)
	}

	sids := func(qualifier string) []string {
		t.Helper()
		p, err := getPolicy(qualifier)
		if err != nil {
			t.Fatalf("GetPolicy %q: %v", qualifier, err)
		}
		var doc struct {
			Statement []struct{ Sid, Resource string }
		}
		if err := json.Unmarshal([]byte(aws.ToString(p.Policy)), &doc); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, st := range doc.Statement {
			want := arn
			if qualifier != "" {
				want += ":" + qualifier
			}
			if st.Resource != want {
				t.Errorf("statement %s of %q: Resource %s, want %s", st.Sid, qualifier, st.Resource, want)
			}
			out = append(out, st.Sid)
		}
		return out
	}
	eq := func(a, b []string) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	if got := sids(""); !eq(got, []string{"s3-invoke", "sns", "xaccount"}) {
		t.Fatalf("unqualified statements %v", got)
	}
	if got := sids("1"); !eq(got, []string{"v1"}) {
		t.Fatalf("version 1 statements %v", got)
	}
	if got := sids("live"); !eq(got, []string{"alias"}) {
		t.Fatalf("alias statements %v", got)
	}

	p, _ = getPolicy("")
	rev = aws.ToString(p.RevisionId)
	remove := func(sid, qualifier, revision string) error {
		in := &lambda.RemovePermissionInput{FunctionName: aws.String("guarded"), StatementId: aws.String(sid)}
		if qualifier != "" {
			in.Qualifier = aws.String(qualifier)
		}
		if revision != "" {
			in.RevisionId = aws.String(revision)
		}
		_, err := e.lambda.RemovePermission(c, in)
		return err
	}
	for _, tc := range []struct {
		name, sid, qualifier, revision string
		code, msg                      string
	}{
		{"stale revision", "sns", "", "not-the-revision", "PreconditionFailedException", `^The Revision Id provided does not match the latest Revision Id\.`},
		{"current revision", "sns", "", rev, "", ""},
		{"no revision", "xaccount", "", "", "", ""},
		{"absent statement", "never", "", "", "ResourceNotFoundException", `^Statement never is not found in resource policy\.$`},
		{"absent statement, stale revision", "never", "", "not-the-revision", "ResourceNotFoundException", `^Statement never`},
		{"the version's only statement", "v1", "1", "", "", ""},
		{"now no policy", "v1", "1", "", "ResourceNotFoundException", `^No policy is associated with the given resource\.$`},
		{"missing function qualifier", "a", "9", "", "ResourceNotFoundException", `^Function not found: `},
	} {
		wantAPIError(t, "RemovePermission "+tc.name, remove(tc.sid, tc.qualifier, tc.revision), tc.code, tc.msg)
	}
	_, err = getPolicy("1")
	wantAPIError(t, "GetPolicy of the version after its last statement went", err, "ResourceNotFoundException", `^The resource you requested does not exist\.$`)
	_, err = e.lambda.GetPolicy(c, &lambda.GetPolicyInput{FunctionName: aws.String("nope")})
	wantAPIError(t, "GetPolicy of a missing function", err, "ResourceNotFoundException", `^Function not found: `)

	// Durable across a restart.
	e.p.Close()
	e = startIn(t, e.dataDir)
	c = ctx(t)
	if got := sids(""); !eq(got, []string{"s3-invoke"}) {
		t.Fatalf("statements after restart %v", got)
	}
	if got := sids("live"); !eq(got, []string{"alias"}) {
		t.Fatalf("alias statements after restart %v", got)
	}

	// Deleting the function drops its policies.
	if _, err := e.lambda.DeleteFunction(c, &lambda.DeleteFunctionInput{FunctionName: aws.String("guarded")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lambda.CreateFunction(c, in); err != nil {
		t.Fatal(err)
	}
	_, err = getPolicy("")
	wantAPIError(t, "GetPolicy of a re-created function", err, "ResourceNotFoundException", `^The resource you requested does not exist\.$`)
}
