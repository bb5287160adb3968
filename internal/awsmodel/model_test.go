package awsmodel

import (
	"reflect"
	"regexp"
	"sort"
	"testing"
)

func TestOperations(t *testing.T) {
	ops := Operations()
	if len(ops) != 85 {
		t.Errorf("%d operations, want 85", len(ops))
	}
	if !sort.SliceIsSorted(ops, func(i, j int) bool { return ops[i].Name < ops[j].Name }) {
		t.Error("Operations not sorted by Name")
	}
	for _, tc := range []struct {
		name string
		want Operation
	}{
		{"ListFunctions", Operation{Name: "ListFunctions", Method: "GET", URI: "/2015-03-31/functions", Path: "/2015-03-31/functions", Status: 200}},
		{"GetLayerVersionByArn", Operation{Name: "GetLayerVersionByArn", Method: "GET", URI: "/2018-10-31/layers?find=LayerVersion", Path: "/2018-10-31/layers", Query: map[string]string{"find": "LayerVersion"}, Status: 200}},
		{"CreateFunction", Operation{Name: "CreateFunction", Method: "POST", URI: "/2015-03-31/functions", Path: "/2015-03-31/functions", Status: 201}},
		{"Invoke", Operation{Name: "Invoke", Method: "POST", URI: "/2015-03-31/functions/{FunctionName}/invocations", Path: "/2015-03-31/functions/{FunctionName}/invocations", Status: 200}},
		{"ListProvisionedConcurrencyConfigs", Operation{Name: "ListProvisionedConcurrencyConfigs", Method: "GET", URI: "/2019-09-30/functions/{FunctionName}/provisioned-concurrency?List=ALL", Path: "/2019-09-30/functions/{FunctionName}/provisioned-concurrency", Query: map[string]string{"List": "ALL"}, Status: 200}},
	} {
		got, ok := Lookup(tc.name)
		if !ok {
			t.Errorf("Lookup(%q): not found", tc.name)
			continue
		}
		got.input = ""
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Lookup(%q) = %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if _, ok := Lookup("NoSuchOperation"); ok {
		t.Error("Lookup(NoSuchOperation) found")
	}
	for _, op := range ops {
		if op.Method == "" || op.Path == "" || op.Path[0] != '/' {
			t.Errorf("%s: bad route %q %q", op.Name, op.Method, op.URI)
		}
	}
}

// TestPatterns holds every pattern of the model to compile in Go's regexp
// or to have a hand translation in patterns.go, so that a model refresh
// bringing a new Java-only pattern fails here rather than being skipped.
func TestPatterns(t *testing.T) {
	m := load()
	if len(m.untranslated) > 0 {
		t.Errorf("patterns neither compiling nor translated: %q", m.untranslated)
	}
	used := map[string]bool{}
	for _, s := range m.shapes {
		if s.Pattern != "" {
			used[s.Pattern] = true
		}
	}
	for p := range translated {
		if !used[p] {
			t.Errorf("translation for %q, which the model no longer has", p)
		}
		if _, err := regexp.Compile(`^(?:` + p + `)$`); err == nil {
			t.Errorf("translation for %q, which Go compiles", p)
		}
	}
}

func TestTranslations(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		value   string
		want    bool
	}{
		{`(?!^[0-9]+$)([a-zA-Z0-9-_]+)`, "123", false},
		{`(?!^[0-9]+$)([a-zA-Z0-9-_]+)`, "v1", true},
		{`(?!^[0-9]+$)([a-zA-Z0-9-_]+)`, "1-", true},
		{`(?!^[0-9]+$)([a-zA-Z0-9-_]+)`, "", false},
		{`(?!^[0-9]+$)([a-zA-Z0-9-_]+)`, "a b", false},
		{`((?!^\d+$)^[0-9a-zA-Z-_]+$)`, "42", false},
		{`((?!^\d+$)^[0-9a-zA-Z-_]+$)`, "prod_2", true},
		{`(^(?!(system\x2e)))(^[_a-zA-Z0-9])([^$]*)`, "system.x", false},
		{`(^(?!(system\x2e)))(^[_a-zA-Z0-9])([^$]*)`, "systemx", true},
		{`(^(?!(system\x2e)))(^[_a-zA-Z0-9])([^$]*)`, "_a b/c", true},
		{`(^(?!(system\x2e)))(^[_a-zA-Z0-9])([^$]*)`, "a$", false},
		{`(^(?!(system\x2e)))(^[_a-zA-Z0-9])([^$]*)`, "-a", false},
		{`(^(?!(system\x2e)))(^[_a-zA-Z0-9])([^$]*)`, "", false},
		{`[0-9A-Za-z\.\-_]*(?<!\.)`, "", true},
		{`[0-9A-Za-z\.\-_]*(?<!\.)`, "a.b", true},
		{`[0-9A-Za-z\.\-_]*(?<!\.)`, "a.", false},
		{`[0-9A-Za-z\.\-_]*(?<!\.)`, "a/b", false},
	} {
		if got := translated[tc.pattern](tc.value); got != tc.want {
			t.Errorf("%s matches %q = %v, want %v", tc.pattern, tc.value, got, tc.want)
		}
	}
}
