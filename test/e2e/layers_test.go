package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

const layerARNPrefix = "arn:aws:lambda:us-east-1:000000000000:layer:"

// layerZip is a layer's content: a library under python/, as Lambda's
// layers for Python are laid out.
func layerZip(body string) []byte {
	return zipOf(map[string][]byte{"python/lib.py": []byte(body)})
}

// publishLayer publishes a version of a layer with the SDK.
func (e *env) publishLayer(name string, zip []byte, runtimes []types.Runtime, archs []types.Architecture) *lambda.PublishLayerVersionOutput {
	e.t.Helper()
	out, err := e.lambda.PublishLayerVersion(ctx(e.t), &lambda.PublishLayerVersionInput{
		LayerName: aws.String(name), Content: &types.LayerVersionContentInput{ZipFile: zip},
		CompatibleRuntimes: runtimes, CompatibleArchitectures: archs,
	})
	if err != nil {
		e.t.Fatalf("PublishLayerVersion %s: %v", name, err)
	}
	return out
}

// apiMessage asserts err is the AWS error code with exactly the message msg.
func apiMessage(t *testing.T, err error, code, msg string) {
	t.Helper()
	apiError(t, err, code)
	var ae smithy.APIError
	asErr(err, &ae)
	if ae.ErrorMessage() != msg {
		t.Fatalf("%s message %q, want %q", code, ae.ErrorMessage(), msg)
	}
}

// TestLayerLifecycle: publish, get, get by ARN, list with filters and
// pages, delete, and version numbers that go on after deletes, through
// the SDK, with the answers LocalStack recorded from AWS.
func TestLayerLifecycle(t *testing.T) {
	e := start(t)
	c := ctx(t)
	zip := layerZip("X = 1\n")
	sum := sha256.Sum256(zip)
	out, err := e.lambda.PublishLayerVersion(c, &lambda.PublishLayerVersionInput{
		LayerName: aws.String("lib"), Content: &types.LayerVersionContentInput{ZipFile: zip},
		Description: aws.String("a library"), LicenseInfo: aws.String("MIT"),
		CompatibleRuntimes:      []types.Runtime{types.RuntimeProvidedal2023, types.RuntimePython313},
		CompatibleArchitectures: []types.Architecture{types.ArchitectureX8664},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Version != 1 || aws.ToString(out.LayerArn) != layerARNPrefix+"lib" || aws.ToString(out.LayerVersionArn) != layerARNPrefix+"lib:1" ||
		aws.ToString(out.Description) != "a library" || aws.ToString(out.LicenseInfo) != "MIT" || aws.ToString(out.CreatedDate) == "" ||
		!slices.Equal(out.CompatibleArchitectures, []types.Architecture{types.ArchitectureX8664}) || len(out.CompatibleRuntimes) != 2 {
		t.Fatalf("PublishLayerVersion answered %+v", out)
	}
	if aws.ToString(out.Content.CodeSha256) != base64.StdEncoding.EncodeToString(sum[:]) || out.Content.CodeSize != int64(len(zip)) {
		t.Fatalf("Content %+v, want the zip's digest and size", out.Content)
	}
	// Content.Location gives the zip back, as AWS's presigned URL does.
	resp, err := http.Get(aws.ToString(out.Content.Location))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != string(zip) {
		t.Fatalf("Content.Location: %d, %d bytes", resp.StatusCode, len(got))
	}

	// No change is needed for a second version (AWS publishes it anyway).
	if v2 := e.publishLayer("lib", zip, []types.Runtime{types.RuntimeProvidedal2023}, []types.Architecture{types.ArchitectureX8664}); v2.Version != 2 {
		t.Fatalf("second version %d", v2.Version)
	}
	if v3 := e.publishLayer("lib", layerZip("X = 3\n"), []types.Runtime{types.RuntimePython313}, []types.Architecture{types.ArchitectureArm64}); v3.Version != 3 {
		t.Fatalf("third version %d", v3.Version)
	}
	e.publishLayer("other", layerZip("Y = 1\n"), nil, nil)

	g, err := e.lambda.GetLayerVersion(c, &lambda.GetLayerVersionInput{LayerName: aws.String("lib"), VersionNumber: aws.Int64(1)})
	if err != nil || aws.ToString(g.LayerVersionArn) != layerARNPrefix+"lib:1" || aws.ToString(g.Description) != "a library" ||
		aws.ToString(g.Content.CodeSha256) != aws.ToString(out.Content.CodeSha256) {
		t.Fatalf("GetLayerVersion: %+v, %v", g, err)
	}
	g, err = e.lambda.GetLayerVersion(c, &lambda.GetLayerVersionInput{LayerName: aws.String(layerARNPrefix + "lib"), VersionNumber: aws.Int64(3)})
	if err != nil || g.Version != 3 {
		t.Fatalf("GetLayerVersion by layer ARN: %+v, %v", g, err)
	}
	b, err := e.lambda.GetLayerVersionByArn(c, &lambda.GetLayerVersionByArnInput{Arn: aws.String(layerARNPrefix + "lib:2")})
	if err != nil || b.Version != 2 || aws.ToString(b.LayerArn) != layerARNPrefix+"lib" {
		t.Fatalf("GetLayerVersionByArn: %+v, %v", b, err)
	}

	// Errors, with AWS's texts.
	_, err = e.lambda.GetLayerVersion(c, &lambda.GetLayerVersionInput{LayerName: aws.String("nope"), VersionNumber: aws.Int64(1)})
	apiMessage(t, err, "ResourceNotFoundException", "The resource you requested does not exist.")
	_, err = e.lambda.GetLayerVersion(c, &lambda.GetLayerVersionInput{LayerName: aws.String("lib"), VersionNumber: aws.Int64(9)})
	apiMessage(t, err, "ResourceNotFoundException", "The resource you requested does not exist.")
	_, err = e.lambda.GetLayerVersion(c, &lambda.GetLayerVersionInput{LayerName: aws.String("lib"), VersionNumber: aws.Int64(0)})
	apiMessage(t, err, "InvalidParameterValueException", "Layer Version Cannot be less than 1")
	_, err = e.lambda.GetLayerVersionByArn(c, &lambda.GetLayerVersionByArnInput{Arn: aws.String(layerARNPrefix + "lib:9")})
	apiMessage(t, err, "ResourceNotFoundException", "The resource you requested does not exist.")
	_, err = e.lambda.GetLayerVersionByArn(c, &lambda.GetLayerVersionByArnInput{Arn: aws.String(layerARNPrefix + "lib")})
	apiError(t, err, "ValidationException")
	_, err = e.lambda.ListLayers(c, &lambda.ListLayersInput{CompatibleRuntime: "runtimedoesnotexist"})
	apiError(t, err, "ValidationException")
	_, err = e.lambda.ListLayers(c, &lambda.ListLayersInput{CompatibleArchitecture: "archdoesnotexist"})
	apiMessage(t, err, "ValidationException", "1 validation error detected: Value 'archdoesnotexist' at 'compatibleArchitecture' failed to satisfy constraint: Member must satisfy enum value set: [x86_64, arm64]")

	// ListLayerVersions: newest first, filtered, in pages of one.
	versions := func(in *lambda.ListLayerVersionsInput) []int64 {
		t.Helper()
		var out []int64
		p := lambda.NewListLayerVersionsPaginator(e.lambda, in)
		for pages := 0; p.HasMorePages(); pages++ {
			page, err := p.NextPage(c)
			if err != nil || pages > 10 {
				t.Fatalf("ListLayerVersions: %v (page %d)", err, pages)
			}
			for _, v := range page.LayerVersions {
				out = append(out, v.Version)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   lambda.ListLayerVersionsInput
		want []int64
	}{
		{"all", lambda.ListLayerVersionsInput{}, []int64{3, 2, 1}},
		{"pages of one", lambda.ListLayerVersionsInput{MaxItems: aws.Int32(1)}, []int64{3, 2, 1}},
		{"runtime", lambda.ListLayerVersionsInput{CompatibleRuntime: types.RuntimeProvidedal2023}, []int64{2, 1}},
		{"architecture", lambda.ListLayerVersionsInput{CompatibleArchitecture: types.ArchitectureArm64}, []int64{3}},
		{"both", lambda.ListLayerVersionsInput{CompatibleRuntime: types.RuntimePython313, CompatibleArchitecture: types.ArchitectureX8664, MaxItems: aws.Int32(1)}, []int64{1}},
		{"none match", lambda.ListLayerVersionsInput{CompatibleRuntime: types.RuntimeJava21}, nil},
	} {
		in := tc.in
		in.LayerName = aws.String("lib")
		if got := versions(&in); !slices.Equal(got, tc.want) {
			t.Errorf("ListLayerVersions %s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := versions(&lambda.ListLayerVersionsInput{LayerName: aws.String("layerdoesnotexist")}); len(got) != 0 {
		t.Errorf("ListLayerVersions of no layer: %v", got)
	}

	// ListLayers: each layer with its newest matching version.
	layers := func(in *lambda.ListLayersInput) []string {
		t.Helper()
		var out []string
		p := lambda.NewListLayersPaginator(e.lambda, in)
		for p.HasMorePages() {
			page, err := p.NextPage(c)
			if err != nil {
				t.Fatalf("ListLayers: %v", err)
			}
			for _, l := range page.Layers {
				if aws.ToString(l.LayerArn) != layerARNPrefix+aws.ToString(l.LayerName) {
					t.Errorf("LayerArn %s of %s", aws.ToString(l.LayerArn), aws.ToString(l.LayerName))
				}
				out = append(out, aws.ToString(l.LatestMatchingVersion.LayerVersionArn))
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   lambda.ListLayersInput
		want []string
	}{
		{"all", lambda.ListLayersInput{}, []string{layerARNPrefix + "lib:3", layerARNPrefix + "other:1"}},
		{"pages of one", lambda.ListLayersInput{MaxItems: aws.Int32(1)}, []string{layerARNPrefix + "lib:3", layerARNPrefix + "other:1"}},
		{"x86_64", lambda.ListLayersInput{CompatibleArchitecture: types.ArchitectureX8664}, []string{layerARNPrefix + "lib:2"}},
		{"python3.13", lambda.ListLayersInput{CompatibleRuntime: types.RuntimePython313}, []string{layerARNPrefix + "lib:3"}},
	} {
		if got := layers(&tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("ListLayers %s: %v, want %v", tc.name, got, tc.want)
		}
	}

	// Deletes succeed whether or not the version is there; numbers go on.
	for _, v := range []int64{1, 1, 2, 3, 7} {
		if _, err := e.lambda.DeleteLayerVersion(c, &lambda.DeleteLayerVersionInput{LayerName: aws.String("lib"), VersionNumber: aws.Int64(v)}); err != nil {
			t.Fatalf("DeleteLayerVersion %d: %v", v, err)
		}
	}
	if _, err := e.lambda.DeleteLayerVersion(c, &lambda.DeleteLayerVersionInput{LayerName: aws.String("nope"), VersionNumber: aws.Int64(1)}); err != nil {
		t.Fatalf("DeleteLayerVersion of no layer: %v", err)
	}
	_, err = e.lambda.DeleteLayerVersion(c, &lambda.DeleteLayerVersionInput{LayerName: aws.String("lib"), VersionNumber: aws.Int64(-1)})
	apiMessage(t, err, "InvalidParameterValueException", "Layer Version Cannot be less than 1")
	if got := versions(&lambda.ListLayerVersionsInput{LayerName: aws.String("lib")}); len(got) != 0 {
		t.Fatalf("versions left after deletes: %v", got)
	}
	if got := layers(&lambda.ListLayersInput{}); !slices.Equal(got, []string{layerARNPrefix + "other:1"}) {
		t.Fatalf("ListLayers after deletes: %v", got)
	}
	if v := e.publishLayer("lib", zip, nil, nil); v.Version != 4 {
		t.Fatalf("version after deletes %d, want 4", v.Version)
	}

	// Raw answers: the status codes and the lists as published (none
	// given: absent; [] given: []).
	status, _ := e.signedCall("POST", "/2018-10-31/layers/empty/versions",
		`{"Content":{"ZipFile":"`+base64.StdEncoding.EncodeToString(zip)+`"},"CompatibleRuntimes":[],"CompatibleArchitectures":[]}`)
	if status != 201 {
		t.Fatalf("PublishLayerVersion status %d", status)
	}
	resp = e.signedDo("GET", "/2018-10-31/layers/empty/versions/1", "")
	var raw map[string]any
	json.NewDecoder(resp.Body).Decode(&raw) //nolint:errcheck
	resp.Body.Close()
	if rt, ok := raw["CompatibleRuntimes"].([]any); !ok || len(rt) != 0 || raw["Description"] != "" {
		t.Fatalf("GetLayerVersion of empty lists: %v", raw)
	}
	resp = e.signedDo("GET", "/2018-10-31/layers/lib/versions/4", "")
	raw = nil
	json.NewDecoder(resp.Body).Decode(&raw) //nolint:errcheck
	resp.Body.Close()
	if _, ok := raw["CompatibleRuntimes"]; ok {
		t.Fatalf("GetLayerVersion of a version published without runtimes: %v", raw)
	}
	if status, _ := e.signedCall("DELETE", "/2018-10-31/layers/lib/versions/4", ""); status != 204 {
		t.Fatalf("DeleteLayerVersion status %d", status)
	}
	// S3 content is refused, as for functions' code.
	_, err = e.lambda.PublishLayerVersion(c, &lambda.PublishLayerVersionInput{LayerName: aws.String("s3"),
		Content: &types.LayerVersionContentInput{S3Bucket: aws.String("my-bucket"), S3Key: aws.String("k.zip")}})
	apiError(t, err, "InvalidParameterValueException")
	_, err = e.lambda.PublishLayerVersion(c, &lambda.PublishLayerVersionInput{LayerName: aws.String("bad"),
		Content: &types.LayerVersionContentInput{ZipFile: []byte("not a zip")}})
	apiMessage(t, err, "InvalidParameterValueException", "Could not unzip uploaded file. Please check your file, then try to upload again.")
}

// TestLayerPermissions: a layer version's policy through Add, Get and
// Remove, its RevisionId, and the errors LocalStack recorded from AWS.
func TestLayerPermissions(t *testing.T) {
	e := start(t)
	c := ctx(t)
	e.publishLayer("shared", layerZip("Z = 1\n"), nil, nil)
	ref := func(v int64) (*string, *int64) { return aws.String("shared"), aws.Int64(v) }
	name, one := ref(1)

	_, err := e.lambda.GetLayerVersionPolicy(c, &lambda.GetLayerVersionPolicyInput{LayerName: name, VersionNumber: one})
	apiMessage(t, err, "ResourceNotFoundException", "No policy is associated with the given resource.")

	a1, err := e.lambda.AddLayerVersionPermission(c, &lambda.AddLayerVersionPermissionInput{LayerName: name, VersionNumber: one,
		StatementId: aws.String("s1"), Action: aws.String("lambda:GetLayerVersion"), Principal: aws.String("*")})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"Sid":"s1","Effect":"Allow","Principal":"*","Action":"lambda:GetLayerVersion","Resource":"` + layerARNPrefix + `shared:1"}`; aws.ToString(a1.Statement) != want {
		t.Fatalf("Statement %s, want %s", aws.ToString(a1.Statement), want)
	}
	p1, err := e.lambda.GetLayerVersionPolicy(c, &lambda.GetLayerVersionPolicyInput{LayerName: name, VersionNumber: one})
	if err != nil || aws.ToString(p1.RevisionId) != aws.ToString(a1.RevisionId) {
		t.Fatalf("GetLayerVersionPolicy: %+v, %v", p1, err)
	}
	a2, err := e.lambda.AddLayerVersionPermission(c, &lambda.AddLayerVersionPermissionInput{LayerName: name, VersionNumber: one,
		StatementId: aws.String("s2"), Action: aws.String("lambda:GetLayerVersion"), Principal: aws.String("123456789012"),
		RevisionId: p1.RevisionId})
	if err != nil || aws.ToString(a2.RevisionId) == aws.ToString(a1.RevisionId) {
		t.Fatalf("second statement: %+v, %v", a2, err)
	}
	if !strings.Contains(aws.ToString(a2.Statement), `"Principal":{"AWS":"arn:aws:iam::123456789012:root"}`) {
		t.Fatalf("an account's statement: %s", aws.ToString(a2.Statement))
	}
	p2, err := e.lambda.GetLayerVersionPolicy(c, &lambda.GetLayerVersionPolicyInput{LayerName: name, VersionNumber: one})
	var doc struct {
		Version, Id string
		Statement   []struct{ Sid, Effect, Action, Resource string }
	}
	if err != nil || json.Unmarshal([]byte(aws.ToString(p2.Policy)), &doc) != nil || doc.Version != "2012-10-17" || doc.Id != "default" ||
		len(doc.Statement) != 2 || doc.Statement[1].Sid != "s2" || doc.Statement[1].Resource != layerARNPrefix+"shared:1" {
		t.Fatalf("policy %s (%v)", aws.ToString(p2.Policy), err)
	}

	_, err = e.lambda.AddLayerVersionPermission(c, &lambda.AddLayerVersionPermissionInput{LayerName: name, VersionNumber: one,
		StatementId: aws.String("s1"), Action: aws.String("lambda:GetLayerVersion"), Principal: aws.String("*")})
	apiMessage(t, err, "ResourceConflictException", "The statement id (s1) provided already exists. Please provide a new statement id, or remove the existing statement.")
	_, err = e.lambda.AddLayerVersionPermission(c, &lambda.AddLayerVersionPermissionInput{LayerName: name, VersionNumber: one,
		StatementId: aws.String("s3"), Action: aws.String("lambda:GetLayerVersion"), Principal: aws.String("*"), RevisionId: aws.String("wrong")})
	apiMessage(t, err, "PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id")
	_, err = e.lambda.AddLayerVersionPermission(c, &lambda.AddLayerVersionPermissionInput{LayerName: name, VersionNumber: one,
		StatementId: aws.String("s3"), Action: aws.String("*"), Principal: aws.String("*")})
	apiMessage(t, err, "ValidationException", "1 validation error detected: Value '*' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: lambda:GetLayerVersion")
	name2, two := ref(2)
	_, err = e.lambda.AddLayerVersionPermission(c, &lambda.AddLayerVersionPermissionInput{LayerName: name2, VersionNumber: two,
		StatementId: aws.String("s3"), Action: aws.String("lambda:GetLayerVersion"), Principal: aws.String("*")})
	apiMessage(t, err, "ResourceNotFoundException", "Layer version "+layerARNPrefix+"shared:2 does not exist.")
	_, err = e.lambda.GetLayerVersionPolicy(c, &lambda.GetLayerVersionPolicyInput{LayerName: aws.String("nope"), VersionNumber: one})
	apiMessage(t, err, "ResourceNotFoundException", "Layer version "+layerARNPrefix+"nope:1 does not exist.")
	_, err = e.lambda.RemoveLayerVersionPermission(c, &lambda.RemoveLayerVersionPermissionInput{LayerName: name2, VersionNumber: two, StatementId: aws.String("s1")})
	apiMessage(t, err, "ResourceNotFoundException", "Layer version "+layerARNPrefix+"shared:2 does not exist.")
	_, err = e.lambda.RemoveLayerVersionPermission(c, &lambda.RemoveLayerVersionPermissionInput{LayerName: name, VersionNumber: one, StatementId: aws.String("doesnotexist")})
	apiMessage(t, err, "ResourceNotFoundException", "Statement doesnotexist is not found in resource policy.")
	_, err = e.lambda.RemoveLayerVersionPermission(c, &lambda.RemoveLayerVersionPermissionInput{LayerName: name, VersionNumber: one, StatementId: aws.String("s1"), RevisionId: aws.String("wrong")})
	apiMessage(t, err, "PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id")

	if _, err := e.lambda.RemoveLayerVersionPermission(c, &lambda.RemoveLayerVersionPermissionInput{LayerName: name, VersionNumber: one,
		StatementId: aws.String("s2"), RevisionId: p2.RevisionId}); err != nil {
		t.Fatal(err)
	}
	p3, err := e.lambda.GetLayerVersionPolicy(c, &lambda.GetLayerVersionPolicyInput{LayerName: name, VersionNumber: one})
	if err != nil || aws.ToString(p3.RevisionId) == aws.ToString(p2.RevisionId) || strings.Contains(aws.ToString(p3.Policy), `"s2"`) {
		t.Fatalf("policy after removing s2: %+v, %v", p3, err)
	}
}

// TestLayerFunctions: functions with Layers: create and update answer them
// and GetFunction shows them in order, a published version keeps its own,
// a deleted layer version stays on the functions that have it, and the
// refusals LocalStack recorded from AWS.
func TestLayerFunctions(t *testing.T) {
	e := start(t)
	c := ctx(t)
	a1 := e.publishLayer("a", layerZip("A = 1\n"), nil, nil)
	a2 := e.publishLayer("a", layerZip("A = 2\n"), nil, nil)
	b1 := e.publishLayer("b", layerZip("B = 1\n"), nil, nil)

	in := createInput(t, "with-layers", "", fnOpts{})
	in.CapacityProviderConfig, in.MemorySize = nil, aws.Int32(128)
	in.Layers = []string{aws.ToString(b1.LayerVersionArn), aws.ToString(a1.LayerVersionArn)}
	created, err := e.lambda.CreateFunction(c, in)
	if err != nil {
		t.Fatal(err)
	}
	wantLayers := func(what string, got []types.Layer, want ...*lambda.PublishLayerVersionOutput) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: Layers %+v, want %d", what, got, len(want))
		}
		for i, w := range want {
			if aws.ToString(got[i].Arn) != aws.ToString(w.LayerVersionArn) || got[i].CodeSize != w.Content.CodeSize {
				t.Fatalf("%s: layer %d is %s (%d bytes), want %s (%d)", what, i, aws.ToString(got[i].Arn), got[i].CodeSize,
					aws.ToString(w.LayerVersionArn), w.Content.CodeSize)
			}
		}
	}
	wantLayers("CreateFunction", created.Layers, b1, a1)
	e.settled("with-layers")
	g, err := e.lambda.GetFunction(c, &lambda.GetFunctionInput{FunctionName: aws.String("with-layers")})
	if err != nil {
		t.Fatal(err)
	}
	wantLayers("GetFunction", g.Configuration.Layers, b1, a1)
	v1, err := e.lambda.PublishVersion(c, &lambda.PublishVersionInput{FunctionName: aws.String("with-layers")})
	if err != nil {
		t.Fatal(err)
	}
	wantLayers("PublishVersion", v1.Layers, b1, a1)

	u, err := e.lambda.UpdateFunctionConfiguration(c, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("with-layers"),
		Layers: []string{aws.ToString(a2.LayerVersionArn)}})
	if err != nil {
		t.Fatal(err)
	}
	wantLayers("UpdateFunctionConfiguration", u.Layers, a2)
	e.settled("with-layers")
	// An update of something else keeps the layers.
	if _, err := e.lambda.UpdateFunctionConfiguration(c, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("with-layers"),
		Description: aws.String("still layered")}); err != nil {
		t.Fatal(err)
	}
	e.settled("with-layers")
	gc, err := e.lambda.GetFunctionConfiguration(c, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("with-layers")})
	if err != nil {
		t.Fatal(err)
	}
	wantLayers("GetFunctionConfiguration after an update", gc.Layers, a2)
	gv, err := e.lambda.GetFunctionConfiguration(c, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("with-layers"), Qualifier: v1.Version})
	if err != nil {
		t.Fatal(err)
	}
	wantLayers("version 1", gv.Layers, b1, a1)

	// Deleting a layer version a function uses leaves the function as it is.
	if _, err := e.lambda.DeleteLayerVersion(c, &lambda.DeleteLayerVersionInput{LayerName: aws.String("a"), VersionNumber: aws.Int64(2)}); err != nil {
		t.Fatal(err)
	}
	gc, err = e.lambda.GetFunctionConfiguration(c, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("with-layers")})
	if err != nil {
		t.Fatal(err)
	}
	wantLayers("after the layer version's deletion", gc.Layers, a2)

	// Refusals.
	update := func(layers ...string) error {
		_, err := e.lambda.UpdateFunctionConfiguration(c, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("with-layers"), Layers: layers})
		return err
	}
	var six []string
	for i := range 6 {
		six = append(six, aws.ToString(e.publishLayer(fmt.Sprintf("l%d", i), layerZip("N = 1\n"), nil, nil).LayerVersionArn))
	}
	apiMessage(t, update(six...), "InvalidParameterValueException", "Cannot reference more than 5 layers.")
	apiMessage(t, update(aws.ToString(a2.LayerVersionArn)), "InvalidParameterValueException", "Layer version "+layerARNPrefix+"a:2 does not exist.")
	apiMessage(t, update(layerARNPrefix+"doesnotexist:1"), "InvalidParameterValueException", "Layer version "+layerARNPrefix+"doesnotexist:1 does not exist.")
	a3 := aws.ToString(e.publishLayer("a", layerZip("A = 3\n"), nil, nil).LayerVersionArn)
	apiMessage(t, update(aws.ToString(a1.LayerVersionArn), a3), "InvalidParameterValueException",
		"Two different versions of the same layer are not allowed to be referenced in the same function. "+aws.ToString(a1.LayerVersionArn)+" and "+a3+" are versions of the same layer.")
	apiMessage(t, update("arn:aws:lambda:us-west-2:000000000000:layer:a:1"), "InvalidParameterValueException",
		"Layers are not in the same region as the function. Layers are expected to be in region us-east-1.")
	apiError(t, update(layerARNPrefix+"a"), "ValidationException")
	in2 := createInput(t, "six-layers", "", fnOpts{})
	in2.CapacityProviderConfig, in2.MemorySize, in2.Layers = nil, aws.Int32(128), six
	_, err = e.lambda.CreateFunction(c, in2)
	apiMessage(t, err, "InvalidParameterValueException", "Cannot reference more than 5 layers.")

	// Layers [] removes them.
	u, err = e.lambda.UpdateFunctionConfiguration(c, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("with-layers"), Layers: []string{}})
	if err != nil || len(u.Layers) != 0 {
		t.Fatalf("Layers []: %+v, %v", u, err)
	}
}

// TestLayerCLI: the AWS CLI publishes a layer from a file, finds it by ARN
// and lists it, as a user would.
func TestLayerCLI(t *testing.T) {
	awsCLI, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("no aws command")
	}
	e := start(t)
	zipPath := filepath.Join(t.TempDir(), "layer.zip")
	if err := os.WriteFile(zipPath, layerZip("C = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_ACCESS_KEY_ID=" + e.p.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + e.p.SecretAccessKey, "AWS_DEFAULT_REGION=us-east-1"}
	run := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(awsCLI, append([]string{"--endpoint-url", e.p.Endpoint, "--output", "json", "lambda"}, args...)...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("aws lambda %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		var v map[string]any
		if len(out) > 0 {
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("aws lambda %s: %v\n%s", args[0], err, out)
			}
		}
		return v
	}
	pub := run("publish-layer-version", "--layer-name", "cli-lib", "--zip-file", "fileb://"+zipPath,
		"--compatible-runtimes", "provided.al2023", "--compatible-architectures", "x86_64")
	if pub["Version"] != float64(1) || pub["LayerVersionArn"] != layerARNPrefix+"cli-lib:1" {
		t.Fatalf("publish-layer-version: %v", pub)
	}
	got := run("get-layer-version-by-arn", "--arn", layerARNPrefix+"cli-lib:1")
	if got["LayerArn"] != layerARNPrefix+"cli-lib" {
		t.Fatalf("get-layer-version-by-arn: %v", got)
	}
	list := run("list-layers", "--compatible-runtime", "provided.al2023")
	if ls, _ := list["Layers"].([]any); len(ls) != 1 {
		t.Fatalf("list-layers: %v", list)
	}
	perm := run("add-layer-version-permission", "--layer-name", "cli-lib", "--version-number", "1",
		"--statement-id", "all", "--action", "lambda:GetLayerVersion", "--principal", "*")
	if perm["RevisionId"] == "" {
		t.Fatalf("add-layer-version-permission: %v", perm)
	}
	run("delete-layer-version", "--layer-name", "cli-lib", "--version-number", "1")
	if vs := run("list-layer-versions", "--layer-name", "cli-lib"); len(vs["LayerVersions"].([]any)) != 0 {
		t.Fatalf("list-layer-versions after delete: %v", vs)
	}
}
