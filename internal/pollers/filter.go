package pollers

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Filter is a mapping's FilterCriteria: a record goes to the function when
// any pattern matches it (no patterns: every record). Patterns are
// EventBridge's event patterns as Lambda applies them to records: an
// object's keys must all match; a leaf is a list of what the value may be:
// a string, number, boolean or null equal to it, or {"prefix": s},
// {"suffix": s}, {"exists": bool}, {"anything-but": v or [v...]},
// {"numeric": [op, n, ...]} with op among = < <= > >=.
type Filter struct{ patterns []map[string]any }

// NewFilter parses patterns (JSON objects).
func NewFilter(patterns []string) (*Filter, error) {
	f := &Filter{}
	for _, p := range patterns {
		var m map[string]any
		if err := json.Unmarshal([]byte(p), &m); err != nil {
			return nil, fmt.Errorf("filter pattern %q: %w", p, err)
		}
		f.patterns = append(f.patterns, m)
	}
	return f, nil
}

// Match reports whether record (a decoded JSON object) passes.
func (f *Filter) Match(record map[string]any) bool {
	if f == nil || len(f.patterns) == 0 {
		return true
	}
	for _, p := range f.patterns {
		if matchObject(p, record) {
			return true
		}
	}
	return false
}

func matchObject(pattern, v map[string]any) bool {
	for k, want := range pattern {
		got, present := v[k]
		switch w := want.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !ok || !matchObject(w, sub) {
				return false
			}
		case []any:
			if !matchLeaf(w, got, present) {
				return false
			}
		default:
			return false // not a valid pattern: a leaf must be a list
		}
	}
	return true
}

// matchLeaf: any of the allowed values matches the value (or, for a list
// value, any of its elements).
func matchLeaf(allowed []any, got any, present bool) bool {
	values := []any{got}
	if l, ok := got.([]any); ok {
		values = l
	}
	for _, a := range allowed {
		if m, ok := a.(map[string]any); ok {
			if e, ok := m["exists"].(bool); ok && len(m) == 1 {
				if e == present {
					return true
				}
				continue
			}
		}
		if !present {
			continue
		}
		for _, v := range values {
			if matchValue(a, v) {
				return true
			}
		}
	}
	return false
}

func matchValue(allowed, v any) bool {
	m, ok := allowed.(map[string]any)
	if !ok {
		return equal(allowed, v)
	}
	for op, arg := range m {
		switch op {
		case "prefix":
			s, ok1 := v.(string)
			p, ok2 := arg.(string)
			return ok1 && ok2 && strings.HasPrefix(s, p)
		case "suffix":
			s, ok1 := v.(string)
			p, ok2 := arg.(string)
			return ok1 && ok2 && strings.HasSuffix(s, p)
		case "anything-but":
			list, ok := arg.([]any)
			if !ok {
				list = []any{arg}
			}
			for _, x := range list {
				if equal(x, v) {
					return false
				}
			}
			return true
		case "numeric":
			return matchNumeric(arg, v)
		}
	}
	return false
}

func matchNumeric(arg, v any) bool {
	n, ok := v.(float64)
	ops, ok2 := arg.([]any)
	if !ok || !ok2 || len(ops)%2 != 0 || len(ops) == 0 {
		return false
	}
	for i := 0; i < len(ops); i += 2 {
		op, _ := ops[i].(string)
		x, ok := ops[i+1].(float64)
		if !ok {
			return false
		}
		var pass bool
		switch op {
		case "=":
			pass = n == x
		case "<":
			pass = n < x
		case "<=":
			pass = n <= x
		case ">":
			pass = n > x
		case ">=":
			pass = n >= x
		}
		if !pass {
			return false
		}
	}
	return true
}

func equal(a, b any) bool {
	switch x := a.(type) {
	case string, float64, bool:
		return x == b
	case nil:
		return b == nil
	}
	return false
}
