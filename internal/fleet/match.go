package fleet

import (
	"sort"
	"strings"
)

// MaxInstanceTypePatternLen is the longest pattern the Lambda API accepts in
// AllowedInstanceTypes or ExcludedInstanceTypes.
const MaxInstanceTypePatternLen = 30

// ValidInstanceTypePattern reports whether p is syntactically acceptable as an
// entry of AllowedInstanceTypes or ExcludedInstanceTypes: 1 to 30 characters
// from [a-zA-Z0-9.*-], as in the AWS API model. It checks syntax only, so a
// pattern that matches no known type is still valid, as it is for AWS; this
// lets configurations name types that are newer than this catalog.
func ValidInstanceTypePattern(p string) bool {
	if len(p) < 1 || len(p) > MaxInstanceTypePatternLen {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '-', c == '*':
		default:
			return false
		}
	}
	return true
}

// MatchInstanceTypes returns the catalog types of arch allowed by the AWS
// InstanceRequirements rules: if allowed is non-empty, only types matching at
// least one of its patterns (excluded is then ignored: EC2 attribute-based
// selection does not accept both lists together); otherwise all types except those matching a
// pattern in excluded. An empty arch matches every architecture.
//
// Patterns use '*' as AWS does: it stands for any run of characters,
// including '.', so "m7i.*" is the m7i family, "c7*" is c7i, c7a and c7g,
// "*.2xlarge" is one size across families and "r*" is the whole r class.
// Matching ignores case, because instance type names are lower-case and a
// pattern such as "M7i.*" would otherwise silently match nothing.
//
// The result is sorted by price ascending, then by name, which is the order
// placement walks when it looks for the cheapest type that fits.
func MatchInstanceTypes(arch string, allowed, excluded []string) []InstanceType {
	var out []InstanceType
	for _, t := range catalog {
		if arch != "" && t.Arch != arch {
			continue
		}
		if len(allowed) > 0 {
			if !matchAny(allowed, t.Name) {
				continue
			}
		} else if matchAny(excluded, t.Name) {
			continue
		}
		out = append(out, t)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].PricePerHour != out[j].PricePerHour {
			return out[i].PricePerHour < out[j].PricePerHour
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// matchAny reports whether name matches one of patterns.
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if matchPattern(strings.ToLower(p), name) {
			return true
		}
	}
	return false
}

// matchPattern reports whether name matches p, where '*' matches any
// (possibly empty) run of characters and every other byte matches itself.
// It is the classic greedy wildcard match with a single backtrack point, so it
// runs in O(len(p)*len(name)) at worst and cannot blow up on patterns such as
// "*a*a*a*"; path.Match is not used because it gives '?', '[' and '\' meaning.
func matchPattern(p, name string) bool {
	pi, ni := 0, 0
	star, mark := -1, 0 // position of the last '*' in p, and of name when it was seen
	for ni < len(name) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ni
			pi++
		case pi < len(p) && p[pi] == name[ni]:
			pi++
			ni++
		case star >= 0:
			// Let the last '*' swallow one more character and retry.
			mark++
			pi, ni = star+1, mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
