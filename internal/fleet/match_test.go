package fleet

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

func names(types []InstanceType) []string {
	out := make([]string, len(types))
	for i, t := range types {
		out[i] = t.Name
	}
	return out
}

func TestMatchInstanceTypes(t *testing.T) {
	tests := []struct {
		name     string
		arch     string
		allowed  []string
		excluded []string
		want     []string // exact result in order; nil means check wantLen only
		wantLen  int
	}{
		{
			name:    "family wildcard, price order",
			arch:    ArchX86_64,
			allowed: []string{"m7i.*"},
			want: []string{"m7i.large", "m7i.xlarge", "m7i.2xlarge", "m7i.4xlarge", "m7i.8xlarge",
				"m7i.12xlarge", "m7i.16xlarge", "m7i.24xlarge"},
		},
		{
			name:    "exact names, cheapest first",
			arch:    ArchX86_64,
			allowed: []string{"m7i.large", "c6i.large", "c7i.large", "r7i.large"},
			want:    []string{"c6i.large", "c7i.large", "m7i.large", "r7i.large"},
		},
		{
			name:    "size across families",
			arch:    ArchARM64,
			allowed: []string{"*.2xlarge"},
			want:    []string{"c7g.2xlarge", "c8g.2xlarge", "m7g.2xlarge", "m8g.2xlarge", "r7g.2xlarge", "r8g.2xlarge"},
		},
		{
			name:    "prefix and suffix wildcard",
			arch:    ArchX86_64,
			allowed: []string{"c*.large"},
			want:    []string{"c6i.large", "c7i.large", "c7a.large"},
		},
		{
			name:    "allowed wildcard does not cross architectures",
			arch:    ArchX86_64,
			allowed: []string{"c7*.large"},
			want:    []string{"c7i.large", "c7a.large"},
		},
		{
			name:    "same pattern on arm64",
			arch:    ArchARM64,
			allowed: []string{"c7*.large"},
			want:    []string{"c7g.large"},
		},
		{
			name:    "several patterns, overlap counted once",
			arch:    ArchARM64,
			allowed: []string{"m8g.large", "m8g.*", "m8g.l*"},
			want: []string{"m8g.large", "m8g.xlarge", "m8g.2xlarge", "m8g.4xlarge", "m8g.8xlarge",
				"m8g.12xlarge", "m8g.16xlarge", "m8g.24xlarge"},
		},
		{
			name:     "allowed wins over excluded",
			arch:     ArchX86_64,
			allowed:  []string{"c6i.large"},
			excluded: []string{"c6i.*"},
			want:     []string{"c6i.large"},
		},
		{
			name:    "case-insensitive pattern",
			arch:    ArchX86_64,
			allowed: []string{"M7I.LARGE"},
			want:    []string{"m7i.large"},
		},
		{
			name:    "unknown type matches nothing",
			arch:    ArchX86_64,
			allowed: []string{"m5.large"},
			want:    []string{},
		},
		{
			name:    "arm type with x86 arch",
			arch:    ArchX86_64,
			allowed: []string{"m7g.large"},
			want:    []string{},
		},
		{
			name: "unknown arch",
			arch: "mips",
			want: []string{},
		},
		{
			name:    "no lists: every x86 type",
			arch:    ArchX86_64,
			wantLen: 9 * 8,
		},
		{
			name:    "no lists: every arm type",
			arch:    ArchARM64,
			wantLen: 3*7 + 3*8,
		},
		{
			name:    "empty arch: every type",
			wantLen: 12*8 + 3*7,
		},
		{
			name:     "exclude patterns that together cover every type",
			arch:     ArchARM64,
			excluded: []string{"r*", "*.*large", "c8g.*"},
			// "*.*large" removes every size, so nothing is left.
			want: []string{},
		},
		{
			name:     "exclude everything but one type",
			arch:     ArchARM64,
			excluded: []string{"r*", "m*", "c8g.*", "*x*"},
			want:     []string{"c7g.large"},
		},
		{
			name:     "exclude by substring",
			arch:     ArchX86_64,
			excluded: []string{"*7*", "*6i.*xlarge"},
			want:     []string{"c6i.large", "m6i.large", "r6i.large"},
		},
		{
			name:     "exclude star excludes all",
			arch:     ArchX86_64,
			excluded: []string{"*"},
			want:     []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MatchInstanceTypes(tt.arch, tt.allowed, tt.excluded)
			if tt.want != nil {
				if g := names(got); !slices.Equal(g, tt.want) {
					t.Fatalf("got %v, want %v", g, tt.want)
				}
			} else if len(got) != tt.wantLen {
				t.Fatalf("got %d types, want %d", len(got), tt.wantLen)
			}
			sorted := sort.SliceIsSorted(got, func(i, j int) bool {
				if got[i].PricePerHour != got[j].PricePerHour {
					return got[i].PricePerHour < got[j].PricePerHour
				}
				return got[i].Name < got[j].Name
			})
			if !sorted {
				t.Errorf("result not sorted by price then name: %v", names(got))
			}
			for _, it := range got {
				if tt.arch != "" && it.Arch != tt.arch {
					t.Errorf("%s has arch %s, want %s", it.Name, it.Arch, tt.arch)
				}
			}
		})
	}
}

func TestMatchPattern(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"m7i.large", "m7i.large", true},
		{"m7i.large", "m7i.xlarge", false},
		{"m7i.large", "m7i.large2", false},
		{"m7i.*", "m7i.large", true},
		{"m7i.*", "m7i.", true},
		{"m7i.*", "m7ia.large", false},
		{"m7i*", "m7i-flex.large", true},
		{"c*.large", "c7i.large", true},
		{"c*.large", "c7i.xlarge", false},
		{"*.2xlarge", "r8g.2xlarge", true},
		{"*.2xlarge", "r8g.12xlarge", false},
		{"*3*", "m7i.2xlarge", false},
		{"*2*", "m7i.2xlarge", true},
		{"*", "", true},
		{"", "", true},
		{"", "a", false},
		{"**", "abc", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
		{"*a*a*a*a*b", strings.Repeat("a", 40), false},
		{"r*", "m7i.large", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.name, func(t *testing.T) {
			if got := matchPattern(tt.pattern, tt.name); got != tt.want {
				t.Errorf("matchPattern(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
			}
		})
	}
}

func TestValidInstanceTypePattern(t *testing.T) {
	tests := []struct {
		pattern string
		want    bool
	}{
		{"m7i.large", true},
		{"m7i.*", true},
		{"c*.large", true},
		{"*.2xlarge", true},
		{"*", true},
		{"M7I.LARGE", true},
		{"m7i-flex.large", true},
		{"m5.metal", true},
		{strings.Repeat("a", 30), true},
		{strings.Repeat("a", 31), false},
		{"", false},
		{"m7i.large ", false},
		{"m7i_large", false},
		{"m7i.?", false},
		{"m7i.[lx]large", false},
		{"m7i/large", false},
		{"m7i.lärge", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			if got := ValidInstanceTypePattern(tt.pattern); got != tt.want {
				t.Errorf("ValidInstanceTypePattern(%q) = %v, want %v", tt.pattern, got, tt.want)
			}
		})
	}
}
