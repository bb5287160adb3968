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
	versionRE      = regexp.MustCompile(`^[0-9]+$`)
	qualifierRE    = regexp.MustCompile(`^(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+)$`)
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
		return "", "", awserr.InvalidParameter("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 140", s)
	}
	m := functionNameRE.FindStringSubmatch(s)
	if m == nil || strings.Contains(m[10], ".") {
		return "", "", awserr.InvalidParameter("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?", s)
	}
	name, qualifier = m[10], strings.TrimPrefix(m[11], ":")
	if len(name) > 64 {
		return "", "", awserr.InvalidParameter("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64", name)
	}
	return name, qualifier, nil
}

// ResolveQualifier merges the qualifier from the name with the Qualifier
// parameter; Lambda refuses the two when they disagree.
func ResolveQualifier(fromName, param string) (string, error) {
	if param != "" && !qualifierRE.MatchString(param) || len(param) > 128 {
		return "", awserr.InvalidParameter("1 validation error detected: Value '%s' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)", param)
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
		return "", awserr.InvalidParameter("1 validation error detected: Value '%s' at 'capacityProviderName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+", s)
	}
	if m[6] != "" {
		return m[6], nil
	}
	return m[7], nil
}

// isVersion reports whether q is a published version number.
func isVersion(q string) bool { return versionRE.MatchString(q) }

func versionString(n int) string { return strconv.Itoa(n) }
