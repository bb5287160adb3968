package control

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestParseLayerVersionARN(t *testing.T) {
	for _, tc := range []struct {
		arn   string
		layer string
		n     int64
		ok    bool
	}{
		{"arn:aws:lambda:us-east-1:000000000000:layer:my-layer:3", "arn:aws:lambda:us-east-1:000000000000:layer:my-layer", 3, true},
		{"arn:aws:lambda:us-east-1:000000000000:layer:my_layer-2:12", "arn:aws:lambda:us-east-1:000000000000:layer:my_layer-2", 12, true},
		{"arn:aws:lambda:us-east-1:000000000000:layer:my-layer", "", 0, false},
		{"arn:aws:lambda:us-east-1:000000000000:function:f:1", "", 0, false},
		{"arn:aws:lambda:us-east-1:00000000000:layer:l:1", "", 0, false},
		{"my-layer:1", "", 0, false},
	} {
		layer, n, ok := parseLayerVersionARN(tc.arn)
		if layer != tc.layer || n != tc.n || ok != tc.ok {
			t.Errorf("parseLayerVersionARN(%q) = %q, %d, %v; want %q, %d, %v", tc.arn, layer, n, ok, tc.layer, tc.n, tc.ok)
		}
	}
}

func TestParseLayerName(t *testing.T) {
	s := &Service{region: "us-east-1", account: "000000000000"}
	for _, tc := range []struct {
		in   string
		want layerID
	}{
		{"my-layer", layerID{"my-layer", "us-east-1", "000000000000"}},
		{"arn:aws:lambda:us-east-1:000000000000:layer:my-layer", layerID{"my-layer", "us-east-1", "000000000000"}},
		{"arn:aws:lambda:eu-west-1:123456789012:layer:x", layerID{"x", "eu-west-1", "123456789012"}},
	} {
		if got := s.parseLayerName(tc.in); got != tc.want {
			t.Errorf("parseLayerName(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestLayerFilter(t *testing.T) {
	v := &LayerVersion{Runtimes: []string{"python3.13", "nodejs22.x"}, Archs: []string{"arm64"}}
	none := &LayerVersion{}
	for _, tc := range []struct {
		f         LayerFilter
		v         *LayerVersion
		wantMatch bool
	}{
		{LayerFilter{}, v, true},
		{LayerFilter{}, none, true},
		{LayerFilter{Runtime: "python3.13"}, v, true},
		{LayerFilter{Runtime: "java21"}, v, false},
		{LayerFilter{Arch: "arm64"}, v, true},
		{LayerFilter{Arch: "x86_64"}, v, false},
		{LayerFilter{Runtime: "nodejs22.x", Arch: "arm64"}, v, true},
		{LayerFilter{Runtime: "nodejs22.x", Arch: "x86_64"}, v, false},
		{LayerFilter{Runtime: "python3.13"}, none, false}, // a version that lists none matches no filter
	} {
		if got := tc.f.matches(tc.v); got != tc.wantMatch {
			t.Errorf("%+v matches %+v = %v, want %v", tc.f, tc.v, got, tc.wantMatch)
		}
	}
}

func TestLayerVersionNumbersAreNeverReused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, s := openWithFunctions(t, dir)
	publish := func() int64 {
		t.Helper()
		v, err := s.PublishLayerVersion(ctx, PublishLayerInput{LayerName: "lib", Zip: testZip(t), Runtimes: []string{"provided.al2023"}})
		if err != nil {
			t.Fatal(err)
		}
		return v.Version
	}
	if a, b := publish(), publish(); a != 1 || b != 2 {
		t.Fatalf("versions %d, %d; want 1, 2", a, b)
	}
	for _, n := range []int64{1, 2, 2, 7} { // deleting what is gone, or never was, succeeds
		if err := s.DeleteLayerVersion(ctx, "lib", n); err != nil {
			t.Fatal(err)
		}
	}
	if vs, _, _ := s.ListLayerVersions("lib", LayerFilter{}, "", 0); len(vs) != 0 {
		t.Fatalf("versions after deletes: %v", vs)
	}
	if items, _, _ := s.ListLayers(LayerFilter{}, "", 0); len(items) != 0 {
		t.Fatalf("ListLayers lists a layer without versions: %v", items)
	}
	if n := publish(); n != 3 {
		t.Fatalf("version after deletes %d, want 3", n)
	}
	// A restart (or a follower) reads the same numbers back.
	s2, err := Open(ctx, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if v, err := s2.GetLayerVersion("lib", 3); err != nil || v.CodeSHA256 == "" {
		t.Fatalf("version 3 after reopening: %+v, %v", v, err)
	}
	if l := s2.layers["lib"]; l == nil || l.rec.LastVersion != 3 {
		t.Fatalf("layer after reopening: %+v", l)
	}
}

func TestListLayerVersionsPagesNewestFirst(t *testing.T) {
	ctx := context.Background()
	st, s := openWithFunctions(t, t.TempDir())
	defer st.Close()
	for i := 1; i <= 5; i++ {
		arch := "x86_64"
		if i%2 == 0 {
			arch = "arm64"
		}
		if _, err := s.PublishLayerVersion(ctx, PublishLayerInput{LayerName: "lib", Zip: testZip(t), Archs: []string{arch}}); err != nil {
			t.Fatal(err)
		}
	}
	var got []int64
	marker := ""
	for pages := 0; ; pages++ {
		vs, next, err := s.ListLayerVersions("lib", LayerFilter{}, marker, 2)
		if err != nil || pages > 5 {
			t.Fatal(err, pages)
		}
		for _, v := range vs {
			got = append(got, v.Version)
		}
		if next == "" {
			break
		}
		marker = next
	}
	if want := []int64{5, 4, 3, 2, 1}; !slices.Equal(got, want) {
		t.Errorf("pages gave %v, want %v", got, want)
	}
	vs, _, _ := s.ListLayerVersions("lib", LayerFilter{Arch: "arm64"}, "", 0)
	if len(vs) != 2 || vs[0].Version != 4 || vs[1].Version != 2 {
		t.Errorf("arm64 versions %+v, want 4 and 2", vs)
	}
	items, _, _ := s.ListLayers(LayerFilter{Arch: "x86_64"}, "", 0)
	if len(items) != 1 || items[0].Latest.Version != 5 {
		t.Errorf("ListLayers x86_64: %+v, want lib at 5", items)
	}
	items, _, _ = s.ListLayers(LayerFilter{Arch: "arm64"}, "", 0)
	if len(items) != 1 || items[0].Latest.Version != 4 {
		t.Errorf("ListLayers arm64: %+v, want lib at 4", items)
	}
}

func TestFunctionKeepsDeletedLayer(t *testing.T) {
	ctx := context.Background()
	st, s := openWithFunctions(t, t.TempDir(), "fn")
	defer st.Close()
	v, err := s.PublishLayerVersion(ctx, PublishLayerInput{LayerName: "lib", Zip: testZip(t)})
	if err != nil {
		t.Fatal(err)
	}
	arn := s.LayerARN("lib", v.Version)
	layers := []string{arn}
	c, err := s.UpdateFunctionConfiguration(ctx, "fn", ConfigPatch{Layers: &layers})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Layers) != 1 || c.Layers[0].ARN != arn || c.Layers[0].CodeSHA256 != v.CodeSHA256 {
		t.Fatalf("layers %+v", c.Layers)
	}
	if err := s.DeleteLayerVersion(ctx, "lib", v.Version); err != nil {
		t.Fatal(err)
	}
	d, err := s.GetFunction("fn", "")
	if err != nil || len(d.Config.Layers) != 1 || d.Config.LayerCode()[0] != CodeHex(v.CodeSHA256) {
		t.Fatalf("function after the layer's deletion: %+v, %v", d, err)
	}
}

func TestLayerPolicyRevisions(t *testing.T) {
	ctx := context.Background()
	st, s := openWithFunctions(t, t.TempDir())
	defer st.Close()
	if _, err := s.PublishLayerVersion(ctx, PublishLayerInput{LayerName: "lib", Zip: testZip(t)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetLayerVersionPolicy("lib", 1); errCode(err) != "ResourceNotFoundException" {
		t.Fatalf("policy before any statement: %v", err)
	}
	st1, rev1, err := s.AddLayerVersionPermission(ctx, "lib", 1, LayerPermissionInput{StatementID: "s1", Action: "lambda:GetLayerVersion", Principal: "*"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"Sid":"s1","Effect":"Allow","Principal":"*","Action":"lambda:GetLayerVersion","Resource":"arn:aws:lambda:us-east-1:000000000000:layer:lib:1"}`; st1 != want {
		t.Errorf("statement %s, want %s", st1, want)
	}
	_, rev2, err := s.AddLayerVersionPermission(ctx, "lib", 1, LayerPermissionInput{StatementID: "s2", Action: "lambda:GetLayerVersion", Principal: "123456789012", RevisionID: rev1})
	if err != nil || rev2 == rev1 {
		t.Fatalf("second statement: %v (revisions %s, %s)", err, rev1, rev2)
	}
	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"duplicate", second(s.AddLayerVersionPermission(ctx, "lib", 1, LayerPermissionInput{StatementID: "s1", Action: "lambda:GetLayerVersion", Principal: "*"})), "ResourceConflictException"},
		{"stale revision", second(s.AddLayerVersionPermission(ctx, "lib", 1, LayerPermissionInput{StatementID: "s3", Action: "lambda:GetLayerVersion", Principal: "*", RevisionID: rev1})), "PreconditionFailedException"},
		{"no such version", second(s.AddLayerVersionPermission(ctx, "lib", 2, LayerPermissionInput{StatementID: "s3", Action: "lambda:GetLayerVersion", Principal: "*"})), "ResourceNotFoundException"},
		{"remove stale revision", s.RemoveLayerVersionPermission(ctx, "lib", 1, "s1", rev1), "PreconditionFailedException"},
		{"remove no such statement", s.RemoveLayerVersionPermission(ctx, "lib", 1, "nope", ""), "ResourceNotFoundException"},
	} {
		if got := errCode(tc.err); got != tc.code {
			t.Errorf("%s: %q (%v), want %q", tc.name, got, tc.err, tc.code)
		}
	}
	policy, rev, err := s.GetLayerVersionPolicy("lib", 1)
	if err != nil || rev != rev2 {
		t.Fatalf("policy: %v, revision %s want %s", err, rev, rev2)
	}
	var doc struct {
		Statement []struct {
			Sid       string
			Principal any
		}
	}
	if err := json.Unmarshal([]byte(policy), &doc); err != nil || len(doc.Statement) != 2 ||
		!strings.Contains(policy, `"Principal":{"AWS":"arn:aws:iam::123456789012:root"}`) {
		t.Fatalf("policy %s (%v)", policy, err)
	}
	if err := s.RemoveLayerVersionPermission(ctx, "lib", 1, "s1", rev2); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveLayerVersionPermission(ctx, "lib", 1, "s2", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetLayerVersionPolicy("lib", 1); errCode(err) != "ResourceNotFoundException" {
		t.Fatalf("policy after its last statement: %v", err)
	}
}

// second is the error of a call that returns two values and an error.
func second[A, B any](_ A, _ B, err error) error { return err }
