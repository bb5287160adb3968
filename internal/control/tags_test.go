package control

import (
	"errors"
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/awserr"
)

// errCode is the AWS error code of err, "" for nil.
func errCode(err error) string {
	if err == nil {
		return ""
	}
	var e *awserr.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "not an awserr: " + err.Error()
}

func TestParseTaggableResource(t *testing.T) {
	const fn = "arn:aws:lambda:us-east-1:000000000000:function:"
	for _, tc := range []struct {
		arn, kind, name, code string
	}{
		{fn + "my-fn", "function", "my-fn", ""},
		{"arn:aws:lambda:us-east-1:000000000000:capacity-provider:cp-1", "capacity-provider", "cp-1", ""},
		// Versions and aliases are not taggable (AWS's text).
		{fn + "my-fn:1", "", "", "InvalidParameterValueException"},
		{fn + "my-fn:live", "", "", "InvalidParameterValueException"},
		// The model's TaggableResource pattern and length: ValidationException.
		{"my-fn", "", "", "ValidationException"},
		{"arn:aws:lambda:us-east-1:000000000000:layer:x", "", "", "ValidationException"},
		{fn + strings.Repeat("a", 250), "", "", "ValidationException"},
		{"", "", "", "ValidationException"},
		// Valid in the model, not a resource Paddock has.
		{"arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdefg", "", "", "ResourceNotFoundException"},
	} {
		r, err := ParseTaggableResource(tc.arn)
		if got := errCode(err); got != tc.code {
			t.Errorf("%q: error %q (%v), want %q", tc.arn, got, err, tc.code)
			continue
		}
		if err == nil && (r.Kind != tc.kind || r.Name != tc.name) {
			t.Errorf("%q: got %+v, want %s %s", tc.arn, r, tc.kind, tc.name)
		}
	}
}

func TestValidateTags(t *testing.T) {
	many := map[string]string{}
	for i := range 51 {
		many["k"+strings.Repeat("x", i)] = "v"
	}
	fifty := map[string]string{}
	for i := range 50 {
		fifty["k"+strings.Repeat("x", i)] = "v"
	}
	for _, tc := range []struct {
		name string
		tags map[string]string
		code string
		msg  string
	}{
		{"ok", map[string]string{"team": "a", "empty": ""}, "", ""},
		{"fifty", fifty, "", ""},
		{"fifty-one", many, "InvalidParameterValueException", "limit of 50"},
		{"key 128", map[string]string{strings.Repeat("k", 128): "v"}, "", ""},
		{"key 129", map[string]string{strings.Repeat("k", 129): "v"}, "InvalidParameterValueException", "between 1 and 128"},
		{"key empty", map[string]string{"": "v"}, "InvalidParameterValueException", "between 1 and 128"},
		{"key unicode 128 runes", map[string]string{strings.Repeat("é", 128): "v"}, "", ""},
		{"value 256", map[string]string{"k": strings.Repeat("v", 256)}, "", ""},
		{"value 257", map[string]string{"k": strings.Repeat("v", 257)}, "InvalidParameterValueException", "no longer than 256"},
		{"aws prefix", map[string]string{"aws:cloudformation:stack-name": "x"}, "InvalidParameterValueException", "reserved"},
		{"AWS prefix any case", map[string]string{"AwS:x": "x"}, "InvalidParameterValueException", "reserved"},
		{"aws without colon", map[string]string{"awsome": "x"}, "", ""},
	} {
		err := ValidateTags(tc.tags)
		if got := errCode(err); got != tc.code {
			t.Errorf("%s: error %q (%v), want %q", tc.name, got, err, tc.code)
		} else if err != nil && !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: message %q, want it to contain %q", tc.name, err, tc.msg)
		}
	}
}
