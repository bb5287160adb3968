package control

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestValidatePermission(t *testing.T) {
	ok := PermissionInput{StatementID: "s3-invoke", Action: "lambda:InvokeFunction", Principal: "s3.amazonaws.com"}
	with := func(f func(*PermissionInput)) PermissionInput { in := ok; f(&in); return in }
	for _, tc := range []struct {
		name string
		in   PermissionInput
		code string
		at   string // the member named in the message
	}{
		{"ok", ok, "", ""},
		{"all the options", with(func(in *PermissionInput) {
			in.SourceArn, in.SourceAccount, in.PrincipalOrgID = "arn:aws:s3:::bucket", "123456789012", "o-abcdefghij"
			in.EventSourceToken, in.FunctionURLAuthType = "tok.en-1", "NONE"
		}), "", ""},
		{"action star", with(func(in *PermissionInput) { in.Action = "*" }), "", ""},
		{"action lambda star", with(func(in *PermissionInput) { in.Action = "lambda:*" }), "", ""},
		{"no statement id", with(func(in *PermissionInput) { in.StatementID = "" }), "ValidationException", "statementId"},
		{"statement id with a dot", with(func(in *PermissionInput) { in.StatementID = "a.b" }), "ValidationException", "statementId"},
		{"statement id 101", with(func(in *PermissionInput) { in.StatementID = strings.Repeat("a", 101) }), "ValidationException", "statementId"},
		{"action of another service", with(func(in *PermissionInput) { in.Action = "s3:GetObject" }), "ValidationException", "action"},
		{"no action", with(func(in *PermissionInput) { in.Action = "" }), "ValidationException", "action"},
		{"principal with a space", with(func(in *PermissionInput) { in.Principal = "s3 amazonaws.com" }), "ValidationException", "principal"},
		{"source arn not an arn", with(func(in *PermissionInput) { in.SourceArn = "bucket" }), "ValidationException", "sourceArn"},
		{"source account 11 digits", with(func(in *PermissionInput) { in.SourceAccount = "12345678901" }), "ValidationException", "sourceAccount"},
		{"org id", with(func(in *PermissionInput) { in.PrincipalOrgID = "org-1234567890" }), "ValidationException", "principalOrgID"},
		{"url auth type", with(func(in *PermissionInput) { in.FunctionURLAuthType = "IAM" }), "ValidationException", "functionUrlAuthType"},
	} {
		err := ValidatePermission(tc.in)
		if got := errCode(err); got != tc.code {
			t.Errorf("%s: error %q (%v), want %q", tc.name, got, err, tc.code)
		} else if err != nil && !strings.Contains(err.Error(), "1 validation error detected: Value '") ||
			err != nil && !strings.Contains(err.Error(), "at '"+tc.at+"'") {
			t.Errorf("%s: message %q, want AWS's validation text at %q", tc.name, err, tc.at)
		}
	}
}

func TestValidateStatementID(t *testing.T) {
	for sid, code := range map[string]string{
		"s3": "", "a.b_c-1": "", "": "ValidationException", "a b": "ValidationException",
		strings.Repeat("a", 101): "ValidationException",
	} {
		if got := errCode(ValidateStatementID(sid)); got != code {
			t.Errorf("%q: %q, want %q", sid, got, code)
		}
	}
}

// The statement JSON as AWS writes it: field order Sid, Effect, Principal,
// Action, Resource, Condition; principals as AWS expands them. The shapes
// follow the examples of AWS's AddPermission/GetPolicy documentation.
func TestStatementShape(t *testing.T) {
	const res = "arn:aws:lambda:us-east-1:000000000000:function:f"
	for _, tc := range []struct {
		in   PermissionInput
		want string
	}{
		{PermissionInput{StatementID: "s3", Action: "lambda:InvokeFunction", Principal: "s3.amazonaws.com",
			SourceArn: "arn:aws:s3:::my-bucket", SourceAccount: "123456789012"},
			`{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + res +
				`","Condition":{"StringEquals":{"AWS:SourceAccount":"123456789012"},"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::my-bucket"}}}`},
		{PermissionInput{StatementID: "xaccount", Action: "lambda:InvokeFunction", Principal: "123456789012"},
			`{"Sid":"xaccount","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"lambda:InvokeFunction","Resource":"` + res + `"}`},
		{PermissionInput{StatementID: "role", Action: "lambda:GetFunction", Principal: "arn:aws:iam::123456789012:role/r"},
			`{"Sid":"role","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/r"},"Action":"lambda:GetFunction","Resource":"` + res + `"}`},
		{PermissionInput{StatementID: "url", Action: "lambda:InvokeFunctionUrl", Principal: "*", FunctionURLAuthType: "NONE"},
			`{"Sid":"url","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"` + res +
				`","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"NONE"}}}`},
	} {
		st := policyStatement{Sid: tc.in.StatementID, Effect: "Allow", Principal: principalJSON(tc.in.Principal),
			Action: tc.in.Action, Resource: res, Condition: conditionJSON(tc.in)}
		data, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != tc.want {
			t.Errorf("statement\n got %s\nwant %s", data, tc.want)
		}
	}
	doc := (&policyRecord{Statements: []policyStatement{{Sid: "a", Effect: "Allow", Principal: principalJSON("*"), Action: "*", Resource: res}}}).document()
	if want := `{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"a","Effect":"Allow","Principal":"*","Action":"*","Resource":"` + res + `"}]}`; doc != want {
		t.Errorf("document\n got %s\nwant %s", doc, want)
	}
}

func TestPolicyKeyIsAValidKVKey(t *testing.T) {
	for _, q := range []string{"", "1", "$LATEST.PUBLISHED", "live"} {
		k := policyKey("fn", q)
		for _, r := range k {
			if !(r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				t.Errorf("qualifier %q: key %q has %q", q, k, r)
			}
		}
	}
}

func TestAllowsPublicURL(t *testing.T) {
	ctx := context.Background()
	st, s := openWithFunctions(t, t.TempDir(), "fn")
	defer st.Close()
	v, err := s.PublishVersion(ctx, "fn", PublishVersionInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAlias(ctx, "fn", AliasInput{Name: "live", Version: &v.Version}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		qualifier string // of the statement added; the URL checked is the unqualified function's
		in        PermissionInput
		want      bool
	}{
		{"none yet", "", PermissionInput{}, false},
		{"another action", "", PermissionInput{StatementID: "a", Action: "lambda:InvokeFunction", Principal: "*"}, false},
		{"another principal", "", PermissionInput{StatementID: "b", Action: "lambda:InvokeFunctionUrl", Principal: "123456789012", FunctionURLAuthType: "NONE"}, false},
		{"for AWS_IAM URLs only", "", PermissionInput{StatementID: "c", Action: "lambda:InvokeFunctionUrl", Principal: "*", FunctionURLAuthType: "AWS_IAM"}, false},
		{"from one account only", "", PermissionInput{StatementID: "d", Action: "lambda:InvokeFunctionUrl", Principal: "*", FunctionURLAuthType: "NONE", SourceAccount: "123456789012"}, false},
		{"on the alias, not the function", "live", PermissionInput{StatementID: "e", Action: "lambda:InvokeFunctionUrl", Principal: "*", FunctionURLAuthType: "NONE"}, false},
		{"public, NONE", "", PermissionInput{StatementID: "f", Action: "lambda:InvokeFunctionUrl", Principal: "*", FunctionURLAuthType: "NONE"}, true},
	}
	for _, tt := range tests {
		if tt.in.StatementID != "" {
			if _, err := s.AddPermission(ctx, "fn", tt.qualifier, tt.in); err != nil {
				t.Fatalf("%s: AddPermission: %v", tt.name, err)
			}
		}
		if got := s.AllowsPublicURL("fn", ""); got != tt.want {
			t.Errorf("after %q: AllowsPublicURL = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !s.AllowsPublicURL("fn", "live") {
		t.Error("the alias's public statement does not open the alias's URL")
	}
	if err := s.RemovePermission(ctx, "fn", "", "f", ""); err != nil {
		t.Fatal(err)
	}
	if s.AllowsPublicURL("fn", "") {
		t.Error("still public after the statement was removed")
	}
}
