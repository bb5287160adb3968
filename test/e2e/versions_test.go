package e2e

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// Versions, as AWS answers them. Sources:
//   - [pv] PublishVersion, API reference and the model (botocore
//     data/lambda/2015-03-31/service-2.json): "Lambda doesn't publish a version
//     if the function's configuration and code haven't changed since the last
//     version"; Description is "A description for the version to override the
//     description in the function configuration" (so not compared); $LATEST's
//     Description is configuration (UpdateFunctionConfiguration sets it).
//   - [lp] "$LATEST.PUBLISHED version in Lambda Managed Instances"
//     (docs.aws.amazon.com/lambda/latest/dg/lambda-managed-instances-version-publishing.html):
//     `publish-version --publish-to LATEST_PUBLISHED` answers "Version":
//     "$LATEST.PUBLISHED" and FunctionArn "...:function:my-function:$LATEST.PUBLISHED";
//     "When you invoke a Lambda Managed Instances function using an
//     unqualified ARN, Lambda implicitly invokes the $LATEST.PUBLISHED version".
//     A plain numbered publish does not write it, so an unqualified invoke
//     then is NoPublishedVersionException (the model lists it for Invoke,
//     httpStatusCode 400; SPEC §3).
//   - [del] DeleteFunction: the model binds DeleteFunctionResponse.StatusCode to
//     the HTTP status ("The HTTP status code returned by the operation"); AWS
//     answers 202 for a function on a capacity provider (deletion is
//     asynchronous), 204 for others (recorded AWS answers, issue 13).

// versionStep is one request of a sequence and what AWS answers.
type versionStep struct {
	op         string // publish | publishTo | describe | code | invoke | delete
	arg        string // publish: Description; describe: new Description; code: example; invoke/delete: qualifier
	wantVer    string // publish*, code: the Version answered
	wantErr    string // an error code, "" for success
	wantStatus int    // HTTP status, 0: not checked
}

func TestVersionSequences(t *testing.T) {
	e := start(t)
	cp := e.capacityProvider("cp-versions")
	cases := []struct {
		name  string
		lmi   bool
		steps []versionStep
	}{
		{"unchanged $LATEST with a new description returns the existing version [pv]", true, []versionStep{
			{op: "publish", wantVer: "1"},
			{op: "publish", arg: "release notes", wantVer: "1"},
			{op: "publish", arg: "other notes", wantVer: "1"},
		}},
		{"first publish with a description, then unchanged [pv]", true, []versionStep{
			{op: "publish", arg: "v1 notes", wantVer: "1"},
			{op: "publish", wantVer: "1"},
		}},
		{"a description-only change of $LATEST publishes a new version [pv]", true, []versionStep{
			{op: "publish", wantVer: "1"},
			{op: "describe", arg: "changed"},
			{op: "publish", wantVer: "2"},
			{op: "publish", wantVer: "2"},
		}},
		{"a code change publishes a new version [pv]", true, []versionStep{
			{op: "publish", wantVer: "1"},
			{op: "code", arg: "sleep", wantVer: "$LATEST"},
			{op: "publish", arg: "sleep", wantVer: "2"},
		}},
		{"unqualified invoke after a plain numbered publish [lp]", true, []versionStep{
			{op: "invoke", wantErr: "NoPublishedVersionException", wantStatus: 400},
			{op: "publish", wantVer: "1"},
			{op: "invoke", arg: "1", wantStatus: 200},
			{op: "invoke", wantErr: "NoPublishedVersionException", wantStatus: 400},
			{op: "invoke", arg: "$LATEST.PUBLISHED", wantErr: "NoPublishedVersionException", wantStatus: 400},
			{op: "publishTo", wantVer: "$LATEST.PUBLISHED"},
			{op: "invoke", wantStatus: 200},
			{op: "invoke", arg: "$LATEST.PUBLISHED", wantStatus: 200},
			{op: "delete", wantStatus: 202},
		}},
		{"PublishTo LATEST_PUBLISHED answers $LATEST.PUBLISHED [lp]", true, []versionStep{
			{op: "publishTo", wantVer: "$LATEST.PUBLISHED"},
			{op: "invoke", wantStatus: 200},
			{op: "publishTo", wantVer: "$LATEST.PUBLISHED"},
			{op: "publish", wantVer: "1"}, // $LATEST unchanged since
		}},
		{"deleting a version of an LMI function [del]", true, []versionStep{
			{op: "publish", wantVer: "1"},
			{op: "delete", arg: "1", wantStatus: 202},
			{op: "delete", wantStatus: 202},
		}},
		{"default mode: unchanged publish, unqualified invoke runs $LATEST, delete 204 [pv][del]", false, []versionStep{
			{op: "publish", wantVer: "1"},
			{op: "publish", arg: "notes", wantVer: "1"},
			{op: "invoke", wantStatus: 200},
			{op: "describe", arg: "changed"},
			{op: "publish", wantVer: "2"},
			{op: "delete", arg: "1", wantStatus: 204},
			{op: "delete", wantStatus: 204},
		}},
	}
	for i, tc := range cases {
		name := "ver" + string(rune('a'+i))
		t.Run(tc.name, func(t *testing.T) {
			if tc.lmi {
				e.function(name, cp, fnOpts{})
			} else {
				e.defaultFunction(name, "echo", 128, 3)
			}
			for j, s := range tc.steps {
				ver, status, err := e.versionStep(t, name, s)
				where := func() string { return tc.steps[j].op + " " + tc.steps[j].arg }
				if s.wantErr != "" {
					var ae smithy.APIError
					if !errors.As(err, &ae) || ae.ErrorCode() != s.wantErr {
						t.Fatalf("step %d (%s): got %v, want %s", j, where(), err, s.wantErr)
					}
				} else if err != nil {
					t.Fatalf("step %d (%s): %v", j, where(), err)
				}
				if s.wantStatus != 0 && status != s.wantStatus {
					t.Fatalf("step %d (%s): status %d, want %d", j, where(), status, s.wantStatus)
				}
				if s.wantVer != "" && ver != s.wantVer {
					t.Fatalf("step %d (%s): version %q, want %q", j, where(), ver, s.wantVer)
				}
			}
		})
	}
}

// versionStep runs one step: the Version answered, the HTTP status, the error.
func (e *env) versionStep(t *testing.T, name string, s versionStep) (string, int, error) {
	c := ctx(t)
	switch s.op {
	case "publish", "publishTo":
		in := &lambda.PublishVersionInput{FunctionName: aws.String(name)}
		if s.arg != "" {
			in.Description = aws.String(s.arg)
		}
		if s.op == "publishTo" {
			in.PublishTo = types.FunctionVersionLatestPublishedLatestPublished
		}
		o, err := e.lambda.PublishVersion(c, in)
		if err != nil {
			return "", status(err), err
		}
		v := aws.ToString(o.Version)
		if v == "$LATEST.PUBLISHED" && !strings.HasSuffix(aws.ToString(o.FunctionArn), ":function:"+name+":$LATEST.PUBLISHED") {
			t.Fatalf("PublishTo answered FunctionArn %s", aws.ToString(o.FunctionArn))
		}
		e.waitState(name, v, func(st types.State) bool { return st != types.StatePending })
		return v, 201, nil
	case "describe":
		o, err := e.lambda.UpdateFunctionConfiguration(c, &lambda.UpdateFunctionConfigurationInput{
			FunctionName: aws.String(name), Description: aws.String(s.arg)})
		if err != nil {
			return "", status(err), err
		}
		e.settled(name)
		return aws.ToString(o.Version), 200, nil
	case "code":
		o, err := e.lambda.UpdateFunctionCode(c, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: exampleZip(t, s.arg)})
		if err != nil {
			return "", status(err), err
		}
		e.settled(name)
		return aws.ToString(o.Version), 200, nil
	case "invoke":
		o, err := e.invoke(name, s.arg, `{}`)
		if err != nil {
			return "", status(err), err
		}
		return aws.ToString(o.ExecutedVersion), int(o.StatusCode), nil
	case "delete":
		in := &lambda.DeleteFunctionInput{FunctionName: aws.String(name)}
		if s.arg != "" {
			in.Qualifier = aws.String(s.arg)
		}
		o, err := e.lambda.DeleteFunction(c, in)
		if err != nil {
			return "", status(err), err
		}
		return "", int(o.StatusCode), nil
	}
	t.Fatalf("unknown step %q", s.op)
	return "", 0, nil
}

// waitUpdated waits until $LATEST's last update is done (AWS answers
// InProgress first; publishing during it is a conflict).
// status is the HTTP status of an SDK error (0 if none).
func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
