package awsmodel

import "strings"

// translated holds the model's patterns that Go's regexp (RE2) cannot
// compile — Java lookaround — each with a hand translation that decides
// the same thing as Java's String.matches(pattern). TestPatterns fails
// when a model refresh brings a pattern that neither compiles nor is here.
var translated = map[string]func(string) bool{
	// Alias names (Alias): not all digits, and [a-zA-Z0-9-_]+.
	`(?!^[0-9]+$)([a-zA-Z0-9-_]+)`: notAllDigitsName,
	// The same for another name shape, spelled differently.
	`((?!^\d+$)^[0-9a-zA-Z-_]+$)`: notAllDigitsName,
	// Does not start with "system.", starts with [_a-zA-Z0-9], and
	// contains no '$' ([^$] is "anything but a dollar sign").
	`(^(?!(system\x2e)))(^[_a-zA-Z0-9])([^$]*)`: func(s string) bool {
		return s != "" && !strings.HasPrefix(s, "system.") && isNameByte(s[0], "_") && !strings.Contains(s, "$")
	},
	// [0-9A-Za-z.\-_]* not ending in '.' (the empty string matches).
	`[0-9A-Za-z\.\-_]*(?<!\.)`: func(s string) bool {
		return allBytes(s, ".-_") && !strings.HasSuffix(s, ".")
	},
}

func notAllDigitsName(s string) bool {
	if s == "" || !allBytes(s, "-_") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return true
		}
	}
	return false
}

// isNameByte reports whether c is an ASCII letter or digit or one of extra.
func isNameByte(c byte, extra string) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0
}

func allBytes(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], extra) {
			return false
		}
	}
	return true
}
