package control

import (
	"errors"
	"regexp"
	"testing"

	"github.com/paddockhq/paddock/internal/awserr"
)

func TestParseFunctionName(t *testing.T) {
	tests := []struct {
		in, name, qualifier string
		ok                  bool
	}{
		{"echo", "echo", "", true},
		{"echo:1", "echo", "1", true},
		{"echo:$LATEST", "echo", "$LATEST", true},
		{"echo:$LATEST.PUBLISHED", "echo", "$LATEST.PUBLISHED", true},
		{"echo:prod", "echo", "prod", true},
		{"arn:aws:lambda:us-east-1:000000000000:function:echo", "echo", "", true},
		{"arn:aws:lambda:us-east-1:000000000000:function:echo:7", "echo", "7", true},
		{"000000000000:function:echo", "echo", "", true},
		{"bad name", "", "", false},
		{"echo:bad qualifier", "", "", false},
		{"", "", "", false},
		{"a.b", "", "", false},
		{"x234567890123456789012345678901234567890123456789012345678901234567890", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			name, q, err := ParseFunctionName(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseFunctionName(%q) error %v, want ok=%v", tt.in, err, tt.ok)
			}
			if !tt.ok {
				var ae *awserr.Error
				if !errors.As(err, &ae) || ae.Code != "ValidationException" {
					t.Fatalf("error %v is not ValidationException (the text is the model constraint's)", err)
				}
				return
			}
			if name != tt.name || q != tt.qualifier {
				t.Fatalf("ParseFunctionName(%q) = %q, %q; want %q, %q", tt.in, name, q, tt.name, tt.qualifier)
			}
		})
	}
}

func TestResolveQualifier(t *testing.T) {
	tests := []struct {
		fromName, param, want string
		ok                    bool
	}{
		{"", "", "", true},
		{"1", "", "1", true},
		{"", "prod", "prod", true},
		{"1", "1", "1", true},
		{"1", "2", "", false},
		{"", "bad qualifier", "", false},
	}
	for _, tt := range tests {
		got, err := ResolveQualifier(tt.fromName, tt.param)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ResolveQualifier(%q, %q) = %q, %v; want %q ok=%v", tt.fromName, tt.param, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseCapacityProviderName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"cp1", "cp1", true},
		{"arn:aws:lambda:us-east-1:000000000000:capacity-provider:cp1", "cp1", true},
		{"arn:aws:lambda:us-gov-west-1:000000000000:capacity-provider:cp-2", "cp-2", true},
		{"has space", "", false},
		{"arn:aws:lambda:us-east-1:000000000000:function:fn", "", false},
	}
	for _, tt := range tests {
		got, err := ParseCapacityProviderName(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseCapacityProviderName(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestPage(t *testing.T) {
	items := []string{"a", "b", "c", "d", "e"}
	id := func(s string) string { return s }
	tests := []struct {
		marker   string
		max      int
		want     []string
		wantNext string
	}{
		{"", 2, []string{"a", "b"}, "b"},
		{"b", 2, []string{"c", "d"}, "d"},
		{"d", 2, []string{"e"}, ""},
		{"", 0, items, ""},
		{"e", 2, []string{}, ""},
		{"bb", 10, []string{"c", "d", "e"}, ""}, // a marker whose item was deleted meanwhile
	}
	for _, tt := range tests {
		got, next, _ := page(items, tt.marker, tt.max, 50, id)
		if len(got) != len(tt.want) || next != tt.wantNext {
			t.Errorf("page(marker %q, max %d) = %v next %q; want %v next %q", tt.marker, tt.max, got, next, tt.want, tt.wantNext)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("page(marker %q, max %d) = %v; want %v", tt.marker, tt.max, got, tt.want)
			}
		}
	}
}

func TestValidateScaling(t *testing.T) {
	p := func(n int) *int { return &n }
	tests := []struct {
		name string
		sc   ScalingConfig
		ok   bool
	}{
		{"defaults", ScalingConfig{}, true},
		{"min and max", ScalingConfig{Min: p(2), Max: p(10)}, true},
		{"deactivate", ScalingConfig{Min: p(0), Max: p(0)}, true},
		{"min zero alone", ScalingConfig{Min: p(0)}, false},
		{"max zero alone", ScalingConfig{Max: p(0), Min: p(1)}, false},
		{"min above max", ScalingConfig{Min: p(5), Max: p(4)}, false},
		{"above the model's maximum", ScalingConfig{Max: p(15001)}, false},
		{"negative", ScalingConfig{Min: p(-1)}, false},
		{"max below the default min", ScalingConfig{Max: p(2)}, false},
	}
	for _, tt := range tests {
		if err := validateScaling(tt.sc); (err == nil) != tt.ok {
			t.Errorf("%s: validateScaling = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestEESizing(t *testing.T) {
	tests := []struct {
		memory  int
		ratio   float64
		max     int
		vcpu    int
		maxConc int
	}{
		{2048, 2, 0, 1000, 8},
		{4096, 2, 0, 2000, 16},
		{8192, 4, 0, 2000, 16},
		{4096, 2, 100, 2000, 100},
		{3072, 2, 0, 1500, 12},
	}
	for _, tt := range tests {
		c := Config{MemorySize: tt.memory, LMI: &LMIConfig{GiBPerVCPU: tt.ratio, MaxConcurrency: tt.max}}
		if c.VCPUMilli() != tt.vcpu || c.MaxConcurrency() != tt.maxConc {
			t.Errorf("%d MB at %v GiB/vCPU (max %d): %d mvCPU, %d concurrency; want %d, %d",
				tt.memory, tt.ratio, tt.max, c.VCPUMilli(), c.MaxConcurrency(), tt.vcpu, tt.maxConc)
		}
	}
}

// The invoke path checks names and qualifiers by hand; the model states
// them as patterns. The two must agree on every input.
func TestNameChecksAgreeWithThePatterns(t *testing.T) {
	qualifier := regexp.MustCompile(`^(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+)$`)
	version := regexp.MustCompile(`^[0-9]+$`)
	for _, s := range []string{
		"", "1", "42", "007", "prod", "my-fn_2", "$LATEST", "$LATEST.PUBLISHED", "$LATEST.", "$latest",
		"LATEST", "a.b", "a:b", "a b", "é", "1a", "-", "_", "$", "fn\n", "\x00",
	} {
		if got, want := isQualifier(s), qualifier.MatchString(s); got != want {
			t.Errorf("isQualifier(%q) = %v, the pattern says %v", s, got, want)
		}
		if got, want := isVersion(s), version.MatchString(s); got != want {
			t.Errorf("isVersion(%q) = %v, the pattern says %v", s, got, want)
		}
		// A plain token takes the fast path of ParseFunctionName; the
		// full pattern must give the same name and no qualifier.
		if isNameToken(s) {
			m := functionNameRE.FindStringSubmatch(s)
			if m == nil || m[10] != s || m[11] != "" {
				t.Errorf("isNameToken(%q) but the pattern gives %q", s, m)
			}
		}
	}
}

func TestFunctionScope(t *testing.T) {
	tests := []struct{ in, region, account string }{
		{"f", "", ""},
		{"f:1", "", ""},
		{"arn:aws:lambda:us-west-2:123456789012:function:f", "us-west-2", "123456789012"},
		{"123456789012:function:f", "", "123456789012"},
		{"us-west-2:123456789012:function:f:1", "us-west-2", "123456789012"},
		{"arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST", "us-east-1", "000000000000"},
		{"not a name", "", ""},
	}
	for _, tt := range tests {
		if r, a := FunctionScope(tt.in); r != tt.region || a != tt.account {
			t.Errorf("FunctionScope(%q) = %q, %q; want %q, %q", tt.in, r, a, tt.region, tt.account)
		}
	}
}
