package awsmodel

import (
	"io"

	"bytes"
	"encoding/json"
	"fmt"
	"github.com/go-json-experiment/json/jsontext"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/paddockhq/paddock/internal/awserr"
)

// Input is a request as the HTTP layer sees it.
type Input struct {
	Path   func(label string) string // value of a URI label ("FunctionName"), already unescaped; "" if absent
	Query  url.Values
	Header http.Header
	Body   []byte // the JSON body ("" or empty means no members)
}

// Validate checks in against the constraints of op's input shape (required,
// length, pattern, range, enum) as AWS's front end does before Lambda runs,
// and returns nil or a ValidationException (*awserr.Error made with
// awserr.Validation) whose message is AWS's:
//
//	1 validation error detected: Value 'bad' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: ...
//
// Members whose JSON value has the wrong type, and all body members when the
// body is not a JSON object, are left to the HTTP layer's decoder. Blobs are
// not checked. An unknown op is not checked.
func Validate(op string, in Input) error {
	m := load()
	o, ok := m.byName[op]
	if !ok || o.input == "" {
		return nil
	}
	s := m.shapes[o.input]
	if s == nil || s.Type != "structure" {
		return nil
	}
	var body *object
	bodyOK := true
	var payload any
	if s.Payload != "" {
		// The body is the payload member itself: a blob (Invoke's
		// Payload) is not JSON and is not parsed; a structure is.
		for _, mb := range s.Members {
			switch {
			case mb.Name != s.Payload || len(in.Body) == 0:
			case mb.shape.Type == "structure":
				if len(bytes.TrimSpace(in.Body)) == 0 {
					break
				}
				v, err := decodeJSON(in.Body, mb.shape)
				if err != nil {
					bodyOK = false
				} else {
					payload = v
				}
			default: // a blob is present when there is a body (InvokeAsync's required InvokeArgs)
				payload = in.Body
			}
		}
	} else if len(bytes.TrimSpace(in.Body)) > 0 {
		v, err := decodeJSON(in.Body, s)
		body, _ = v.(*object)
		if err != nil || body == nil {
			bodyOK = false
		}
	}
	c := &checker{}
	for _, mb := range s.Members {
		path := lowerFirst(mb.Name)
		var v any
		present := false
		switch mb.Location {
		case "uri":
			if in.Path != nil {
				if x := in.Path(mb.locName()); x != "" {
					v, present = x, true
				}
			}
		case "querystring":
			if !in.Query.Has(mb.locName()) {
				break
			}
			if mb.shape.Type == "list" {
				var l []any
				for _, x := range in.Query[mb.locName()] {
					l = append(l, fromText(mb.shape.member, x))
				}
				v, present = l, true
			} else {
				v, present = fromText(mb.shape, in.Query.Get(mb.locName())), true
			}
		case "header":
			if x := in.Header.Get(mb.locName()); x != "" {
				v, present = fromText(mb.shape, x), true
			}
		case "":
			if mb.Name == s.Payload {
				if !bodyOK {
					continue
				}
				v, present = payload, payload != nil
			} else {
				if !bodyOK {
					continue
				}
				if body != nil {
					v, present = body.get(mb.locName())
					present = present && v != nil
				}
			}
		default: // headers (a prefix map), statusCode: nothing to check
			continue
		}
		if !present {
			if s.required[mb.Name] {
				c.null(path)
			}
			continue
		}
		c.value(path, mb.shape, v, false)
	}
	if len(c.errs) == 0 {
		return nil
	}
	n := "1 validation error detected: "
	if len(c.errs) > 1 {
		n = strconv.Itoa(len(c.errs)) + " validation errors detected: "
	}
	return awserr.Validation("%s", n+strings.Join(c.errs, "; "))
}

func (m *member) locName() string {
	if m.LocationName != "" {
		return m.LocationName
	}
	return m.Name
}

func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}

// fromText turns a URI, query or header value into the JSON value its
// shape's type decodes from; a number that does not parse stays a string,
// which the checks then leave alone (the HTTP layer reports it).
func fromText(s *shape, x string) any {
	if s == nil {
		return x
	}
	switch s.Type {
	case "integer", "long", "double", "float":
		if _, err := strconv.ParseFloat(x, 64); err == nil {
			return json.Number(x)
		}
	case "boolean":
		if b, err := strconv.ParseBool(x); err == nil {
			return b
		}
	}
	return x
}

type checker struct{ errs []string }

func (c *checker) null(path string) {
	c.errs = append(c.errs, "Value null at '"+path+"' failed to satisfy constraint: Member must not be null")
}

// fail records one failed constraint. AWS does not echo sensitive values:
// "Value at 'environment.variables' failed to satisfy constraint: ..."
// (see validate_test.go).
func (c *checker) fail(path string, s *shape, v any, sensitive bool, constraint string) {
	if sensitive {
		c.errs = append(c.errs, "Value at '"+path+"' failed to satisfy constraint: "+constraint)
		return
	}
	c.errs = append(c.errs, "Value '"+format(s, v)+"' at '"+path+"' failed to satisfy constraint: "+constraint)
}

// value checks v, the value of a member of shape s at path.
func (c *checker) value(path string, s *shape, v any, sensitive bool) {
	sensitive = sensitive || s.Sensitive
	switch s.Type {
	case "string", "integer", "long", "double", "float":
		for _, f := range failed(s, v) {
			c.fail(path, s, v, sensitive, f)
		}
	case "list":
		l, ok := v.([]any)
		if !ok {
			return
		}
		for _, f := range lengthFailed(s, len(l)) {
			c.fail(path, s, v, sensitive, f)
		}
		el := s.member
		if el == nil {
			return
		}
		if el.Type == "structure" || el.Type == "list" || el.Type == "map" {
			for i, e := range l {
				if e != nil {
					c.value(path+"."+strconv.Itoa(i+1)+".member", el, e, sensitive)
				}
			}
			return
		}
		for _, e := range l {
			if e == nil || len(failed(el, e)) > 0 {
				c.fail(path, s, v, sensitive, "Member must satisfy constraint: ["+strings.Join(append(all(el), "Member must not be null"), ", ")+"]")
				break
			}
		}
	case "map":
		o, ok := v.(*object)
		if !ok {
			return
		}
		for _, f := range lengthFailed(s, len(o.keys)) {
			c.fail(path, s, v, sensitive, f)
		}
		if s.key != nil {
			for _, k := range o.keys {
				if len(failed(s.key, k)) > 0 {
					c.fail(path, s, v, sensitive, "Map keys must satisfy constraint: ["+strings.Join(all(s.key), ", ")+"]")
					break
				}
			}
		}
		if el := s.value; el != nil {
			if el.Type == "structure" || el.Type == "list" || el.Type == "map" {
				for _, k := range o.keys {
					if e := o.m[k]; e != nil {
						c.value(path+"."+k, el, e, sensitive)
					}
				}
				return
			}
			for _, k := range o.keys {
				if e := o.m[k]; e != nil && len(failed(el, e)) > 0 {
					c.fail(path, s, v, sensitive, "Map value must satisfy constraint: ["+strings.Join(all(el), ", ")+"]")
					break
				}
			}
		}
	case "structure":
		o, ok := v.(*object)
		if !ok {
			return
		}
		for _, mb := range s.Members {
			p := path + "." + lowerFirst(mb.Name)
			x, present := o.get(mb.locName())
			if !present || x == nil {
				if s.required[mb.Name] {
					c.null(p)
				}
				continue
			}
			c.value(p, mb.shape, x, sensitive)
		}
	}
}

// failed lists the constraints of scalar shape s that v breaks: length,
// then pattern, then range, then enum. A value of the wrong JSON type
// breaks none (the HTTP layer's decoder reports it).
func failed(s *shape, v any) []string {
	var out []string
	switch s.Type {
	case "string":
		str, ok := v.(string)
		if !ok {
			return nil
		}
		out = lengthFailed(s, utf16Len(str))
		if s.match != nil && !s.match(str) {
			out = append(out, patternText(s))
		}
		if len(s.Enum) > 0 {
			found := false
			for _, e := range s.Enum {
				if e == str {
					found = true
					break
				}
			}
			if !found {
				out = append(out, "Member must satisfy enum value set: "+s.enumText)
			}
		}
	case "integer", "long", "double", "float":
		f, ok := number(s, v)
		if !ok {
			return nil
		}
		if s.Max != nil && f > *s.Max {
			out = append(out, "Member must have value less than or equal to "+num(*s.Max))
		}
		if s.Min != nil && f < *s.Min {
			out = append(out, "Member must have value greater than or equal to "+num(*s.Min))
		}
	}
	return out
}

// all lists every constraint of scalar shape s, as AWS names them for a
// list's members or a map's keys and values: max length, min length,
// pattern, max value, min value, enum.
func all(s *shape) []string {
	var out []string
	switch s.Type {
	case "string", "list", "map", "blob":
		if s.Max != nil {
			out = append(out, "Member must have length less than or equal to "+num(*s.Max))
		}
		if s.Min != nil {
			out = append(out, "Member must have length greater than or equal to "+num(*s.Min))
		}
	case "integer", "long", "double", "float":
		if s.Max != nil {
			out = append(out, "Member must have value less than or equal to "+num(*s.Max))
		}
		if s.Min != nil {
			out = append(out, "Member must have value greater than or equal to "+num(*s.Min))
		}
	}
	if s.Pattern != "" {
		out = append(out, patternText(s))
	}
	if len(s.Enum) > 0 {
		out = append(out, "Member must satisfy enum value set: "+s.enumText)
	}
	return out
}

func lengthFailed(s *shape, n int) []string {
	var out []string
	if s.Max != nil && float64(n) > *s.Max {
		out = append(out, "Member must have length less than or equal to "+num(*s.Max))
	}
	if s.Min != nil && float64(n) < *s.Min {
		out = append(out, "Member must have length greater than or equal to "+num(*s.Min))
	}
	return out
}

func patternText(s *shape) string {
	return "Member must satisfy regular expression pattern: " + s.Pattern
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// number is v's value when v is a JSON number of s's type (an integer for
// integer and long shapes).
func number(s *shape, v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	if s.Type == "integer" || s.Type == "long" {
		i, err := strconv.ParseInt(string(n), 10, 64)
		return float64(i), err == nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	return f, err == nil
}

// utf16Len is the length Java's String.length() gives.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// format prints v as AWS (Java's toString) does: strings as they are,
// lists [a, b], maps and structures {k=v, k2=v2}.
func format(s *shape, v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		if s != nil && (s.Type == "integer" || s.Type == "long") {
			if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
				return strconv.FormatInt(i, 10)
			}
		}
		if f, err := strconv.ParseFloat(string(x), 64); err == nil {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
		return string(x)
	case []any:
		var el *shape
		if s != nil {
			el = s.member
		}
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = format(el, e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *object:
		parts := make([]string, 0, len(x.keys))
		for _, k := range x.keys {
			var el *shape
			if s != nil {
				if s.Type == "map" {
					el = s.value
				} else {
					for _, mb := range s.Members {
						if mb.locName() == k {
							el = mb.shape
						}
					}
				}
			}
			parts = append(parts, k+"="+format(el, x.m[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// object is a decoded JSON object that keeps its keys' order.
type object struct {
	keys []string
	m    map[string]any
}

func (o *object) get(k string) (any, bool) {
	v, ok := o.m[k]
	return v, ok
}

// decodeJSON decodes one JSON value of shape s (objects as *object,
// numbers as json.Number, blobs as skipped) and nothing after it.
//
// It reads with jsontext, whose scanning is several times faster than
// encoding/json's, and skips the values of blob members without building
// them: a CreateFunction body carries the zip as one base64 string of up
// to 70 MB, which encoding/json's decoder took 80 ms to step through for
// 6.5 MB. Duplicate names and invalid UTF-8 are let through, as
// encoding/json (which decodes the request afterwards) lets them.
func decodeJSON(b []byte, s *shape) (any, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(b), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	v, err := decodeValue(dec, s)
	if err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, fmt.Errorf("awsmodel: data after the JSON value")
	}
	return v, nil
}

// skipped stands for a blob's value, which is not checked.
type skipped struct{}

// memberShape is the shape of the value under key k of a value of shape s
// (nil when the model does not say).
func memberShape(s *shape, k string) *shape {
	switch {
	case s == nil:
		return nil
	case s.Type == "map":
		return s.value
	case s.Type == "structure":
		for _, mb := range s.Members {
			if mb.Location == "" && mb.locName() == k {
				return mb.shape
			}
		}
	}
	return nil
}

func decodeValue(dec *jsontext.Decoder, s *shape) (any, error) {
	if s != nil && s.Type == "blob" {
		return skipped{}, dec.SkipValue()
	}
	t, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch t.Kind() {
	case '{':
		o := &object{m: map[string]any{}}
		for dec.PeekKind() != '}' {
			kt, err := dec.ReadToken()
			if err != nil {
				return nil, err
			}
			k := kt.String()
			v, err := decodeValue(dec, memberShape(s, k))
			if err != nil {
				return nil, err
			}
			if _, dup := o.m[k]; !dup {
				o.keys = append(o.keys, k)
			}
			o.m[k] = v
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		return o, nil
	case '[':
		var el *shape
		if s != nil && s.Type == "list" {
			el = s.member
		}
		l := []any{}
		for dec.PeekKind() != ']' {
			v, err := decodeValue(dec, el)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		return l, nil
	case '"':
		return t.String(), nil
	case '0':
		return json.Number(t.String()), nil
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case 'n':
		return nil, nil
	}
	return nil, fmt.Errorf("awsmodel: unexpected %v", t)
}
