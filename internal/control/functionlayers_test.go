package control

import (
	"slices"
	"strings"
	"testing"
)

func TestResolveLayerRefs(t *testing.T) {
	const arn = "arn:aws:lambda:us-east-1:000000000000:layer:"
	versions := map[string]*LayerVersion{
		"a:1": {Name: "a", Version: 1, CodeSHA256: "AAAA", CodeSize: 10, UnzippedSize: 100},
		"a:2": {Name: "a", Version: 2, CodeSHA256: "BBBB", CodeSize: 20, UnzippedSize: 200},
		"b:1": {Name: "b", Version: 1, CodeSHA256: "CCCC", CodeSize: 30, UnzippedSize: 300},
	}
	find := func(name string, n int64) *LayerVersion { return versions[name+":"+versionString(int(n))] }
	six := []string{arn + "a:1", arn + "b:1", arn + "c:1", arn + "d:1", arn + "e:1", arn + "f:1"}
	for _, tc := range []struct {
		name string
		arns []string
		code string // "" for success
		msg  string // the message, in full
		want []string
	}{
		{"none", nil, "", "", nil},
		{"two layers in order", []string{arn + "b:1", arn + "a:2"}, "", "", []string{arn + "b:1", arn + "a:2"}},
		{"six", six, "InvalidParameterValueException", "Cannot reference more than 5 layers.", nil},
		{"missing layer", []string{arn + "nope:1"}, "InvalidParameterValueException", "Layer version " + arn + "nope:1 does not exist.", nil},
		{"missing version", []string{arn + "a:9"}, "InvalidParameterValueException", "Layer version " + arn + "a:9 does not exist.", nil},
		{"two versions of a layer", []string{arn + "a:1", arn + "b:1", arn + "a:2"}, "InvalidParameterValueException",
			"Two different versions of the same layer are not allowed to be referenced in the same function. " + arn + "a:1 and " + arn + "a:2 are versions of the same layer.", nil},
		{"the same version twice", []string{arn + "a:1", arn + "a:1"}, "InvalidParameterValueException",
			"Two different versions of the same layer are not allowed to be referenced in the same function. " + arn + "a:1 and " + arn + "a:1 are versions of the same layer.", nil},
		{"another region", []string{"arn:aws:lambda:us-west-2:000000000000:layer:a:1"}, "InvalidParameterValueException",
			"Layers are not in the same region as the function. Layers are expected to be in region us-east-1.", nil},
		{"another account", []string{"arn:aws:lambda:us-east-1:123456789012:layer:a:1"}, "AccessDeniedException",
			"User: arn:aws:iam::000000000000:root is not authorized to perform: lambda:GetLayerVersion on resource: arn:aws:lambda:us-east-1:123456789012:layer:a:1 because no resource-based policy allows the lambda:GetLayerVersion action", nil},
		{"a layer ARN without a version", []string{arn + "a"}, "ValidationException", "", nil},
	} {
		refs, err := resolveLayerRefs(tc.arns, "us-east-1", "000000000000", find)
		if got := errCode(err); got != tc.code {
			t.Errorf("%s: error %q (%v), want %q", tc.name, got, err, tc.code)
			continue
		}
		if err != nil {
			if tc.msg != "" && !strings.HasSuffix(err.Error(), ": "+tc.msg) {
				t.Errorf("%s: %v, want message %q", tc.name, err, tc.msg)
			}
			continue
		}
		var got []string
		for _, r := range refs {
			got = append(got, r.ARN)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: layers %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestResolveLayerRefsKeepsCode(t *testing.T) {
	v := &LayerVersion{Name: "a", Version: 3, CodeSHA256: "q83vEjRWeJA=", CodeSize: 7, UnzippedSize: 70}
	refs, err := resolveLayerRefs([]string{"arn:aws:lambda:us-east-1:000000000000:layer:a:3"}, "us-east-1", "000000000000",
		func(string, int64) *LayerVersion { return v })
	if err != nil || len(refs) != 1 {
		t.Fatal(refs, err)
	}
	if r := refs[0]; r.CodeSHA256 != v.CodeSHA256 || r.CodeSize != 7 || r.UnzippedSize != 70 {
		t.Errorf("ref %+v, want the version's code", r)
	}
}

func TestLayerCode(t *testing.T) {
	c := Config{Layers: []LayerRef{{CodeSHA256: "q83vEjRWeJA="}, {CodeSHA256: "AAECAw=="}}}
	if got, want := c.LayerCode(), []string{"abcdef1234567890", "00010203"}; !slices.Equal(got, want) {
		t.Errorf("LayerCode() = %v, want %v", got, want)
	}
	if got := (&Config{}).LayerCode(); got != nil {
		t.Errorf("LayerCode() of no layers = %v, want nil", got)
	}
}

func TestCheckUnzippedTotal(t *testing.T) {
	const limit = 262144000
	for _, tc := range []struct {
		name   string
		code   int64
		layers []int64
		code2  string
	}{
		{"code alone at the limit", limit, nil, ""},
		{"code and layers at the limit", limit - 300, []int64{100, 200}, ""},
		{"one byte over", limit - 300, []int64{100, 201}, "InvalidParameterValueException"},
		{"code stored before sizes were kept", 0, []int64{limit}, ""},
	} {
		c := Config{CodeUnzipped: tc.code}
		for _, n := range tc.layers {
			c.Layers = append(c.Layers, LayerRef{UnzippedSize: n})
		}
		err := checkUnzippedTotal(c)
		if got := errCode(err); got != tc.code2 {
			t.Errorf("%s: %q (%v), want %q", tc.name, got, err, tc.code2)
		}
		if err != nil && !strings.Contains(err.Error(), "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. The actual size is 262144001 bytes.") {
			t.Errorf("%s: message %v", tc.name, err)
		}
	}
}
