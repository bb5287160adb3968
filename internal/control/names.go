package control

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/paddockhq/paddock/internal/awserr"
)

// Patterns from the AWS Lambda API model (service-2.json), anchored.
var (
	functionNameRE = regexp.MustCompile(`^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?$`)
	plainNameRE    = regexp.MustCompile(`^[a-zA-Z0-9-_]+$`)
	aliasRE        = regexp.MustCompile(`^[a-zA-Z0-9-_]+$`)
	cpNameRE       = regexp.MustCompile(`^(arn:aws[a-zA-Z-]*:lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:capacity-provider:([a-zA-Z0-9-_]+))$|^([a-zA-Z0-9-_]+)$`)
	cpARNRE        = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:capacity-provider:([a-zA-Z0-9-_]+)$`)
	roleARNRE      = regexp.MustCompile(`^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$`)
	envNameRE      = regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9_])+$`)
	handlerRE      = regexp.MustCompile(`^[^\s]+$`)
)

// Qualifiers with a meaning of their own.
const (
	Latest          = "$LATEST"
	LatestPublished = "$LATEST.PUBLISHED"
)

// ParseFunctionName splits a FunctionName path parameter (a name, a partial
// ARN or a full ARN, each optionally qualified) into name and qualifier.
func ParseFunctionName(s string) (name, qualifier string, err error) {
	if len(s) < 1 || len(s) > 256 {
		return "", "", awserr.Validation("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 140", s)
	}
	if isNameToken(s) {
		// A plain name, the usual case on the invoke path: the pattern's
		// other parts all need a colon, so it can only match as the name.
		if len(s) > 64 {
			return "", "", awserr.Validation("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64", s)
		}
		return s, "", nil
	}
	m := functionNameRE.FindStringSubmatch(s)
	if m == nil || strings.Contains(m[10], ".") {
		return "", "", awserr.Validation("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?", s)
	}
	name, qualifier = m[10], strings.TrimPrefix(m[11], ":")
	if len(name) > 64 {
		return "", "", awserr.Validation("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64", name)
	}
	return name, qualifier, nil
}

// FunctionScope is the region and account named in a FunctionName ARN
// (full or partial), "" where it names none.
func FunctionScope(s string) (region, account string) {
	if isNameToken(s) {
		return "", ""
	}
	m := functionNameRE.FindStringSubmatch(s)
	if m == nil {
		return "", ""
	}
	return strings.TrimSuffix(m[3], ":"), strings.TrimSuffix(m[8], ":")
}

// ResolveQualifier merges the qualifier from the name with the Qualifier
// parameter; Lambda refuses the two when they disagree.
func ResolveQualifier(fromName, param string) (string, error) {
	if param != "" && !isQualifier(param) || len(param) > 128 {
		return "", awserr.Validation("1 validation error detected: Value '%s' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)", param)
	}
	switch {
	case fromName == "":
		return param, nil
	case param == "" || param == fromName:
		return fromName, nil
	default:
		return "", awserr.InvalidParameter("The derived qualifier from the function name does not match the specified qualifier.")
	}
}

// ParseCapacityProviderName accepts a name or an ARN.
func ParseCapacityProviderName(s string) (string, error) {
	m := cpNameRE.FindStringSubmatch(s)
	if m == nil || len(s) > 140 {
		return "", awserr.Validation("1 validation error detected: Value '%s' at 'capacityProviderName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+", s)
	}
	if m[6] != "" {
		return m[6], nil
	}
	return m[7], nil
}

// isVersion reports whether q is a published version number.
func isVersion(q string) bool {
	if q == "" {
		return false
	}
	for i := 0; i < len(q); i++ {
		if q[i] < '0' || q[i] > '9' {
			return false
		}
	}
	return true
}

// isNameToken reports whether s is non-empty and made of [a-zA-Z0-9-_]
// only: a function name, alias or version as Lambda spells them.
func isNameToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isQualifier matches (\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+), the model's
// pattern for a qualifier, without a regexp: it is checked on every invoke.
func isQualifier(q string) bool {
	return q == Latest || q == LatestPublished || isNameToken(q)
}

func versionString(n int) string { return strconv.Itoa(n) }
