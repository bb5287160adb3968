// Package awsmodel carries the AWS Lambda API model inside the binary and
// answers, from the model alone, which operations exist and their HTTP
// routes, and whether a request breaks one of the model's constraints
// (with the ValidationException text AWS's front end sends).
//
// lambda-2015-03-31.json.gz is botocore 1.43.11's
// botocore/data/lambda/2015-03-31/service-2.json.gz, unchanged. To refresh it:
//
//	pip install -U botocore
//	cp $(python3 -c "import botocore,os;print(os.path.dirname(botocore.__file__))")/data/lambda/2015-03-31/service-2.json.gz internal/awsmodel/lambda-2015-03-31.json.gz
//
// then update the version above and run go test ./internal/awsmodel: the
// tests fail when the refresh brings a pattern Go's regexp cannot compile
// and patterns.go has no translation for.
package awsmodel

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
)

//go:embed lambda-2015-03-31.json.gz
var modelGz []byte

// Operation is one operation of the model.
type Operation struct {
	Name   string            // "ListFunctions"
	Method string            // "GET"
	URI    string            // the model's requestUri, e.g. "/2018-10-31/layers?find=LayerVersion"
	Path   string            // URI without its query part, labels kept: "/2015-03-31/functions/{FunctionName}"
	Query  map[string]string // fixed query part of the URI, e.g. {"find":"LayerVersion"}; nil if none
	Status int               // responseCode, 200 when absent

	input string // input shape name; "" if none
}

type rawModel struct {
	Operations map[string]struct {
		Name string `json:"name"`
		HTTP struct {
			Method       string `json:"method"`
			RequestURI   string `json:"requestUri"`
			ResponseCode int    `json:"responseCode"`
		} `json:"http"`
		Input struct {
			Shape string `json:"shape"`
		} `json:"input"`
	} `json:"operations"`
	Shapes map[string]*shape `json:"shapes"`
}

type ref struct {
	Shape string `json:"shape"`
}

// member is one member of a structure shape.
type member struct {
	Name         string
	Shape        string `json:"shape"`
	Location     string `json:"location"`
	LocationName string `json:"locationName"`

	shape *shape
}

// members keeps the model's JSON order (a Go map would lose it).
type members []*member

func (ms *members) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("awsmodel: members: not an object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		m := &member{}
		if err := dec.Decode(m); err != nil {
			return err
		}
		m.Name = t.(string)
		*ms = append(*ms, m)
	}
	return nil
}

type shape struct {
	Type      string   `json:"type"`
	Members   members  `json:"members"`
	Required  []string `json:"required"`
	Pattern   string   `json:"pattern"`
	Min       *float64 `json:"min"`
	Max       *float64 `json:"max"`
	Enum      []string `json:"enum"`
	Member    ref      `json:"member"`
	Key       ref      `json:"key"`
	Value     ref      `json:"value"`
	Payload   string   `json:"payload"`
	Exception bool     `json:"exception"`
	Sensitive bool     `json:"sensitive"`

	name               string
	required           map[string]bool
	match              func(string) bool // nil: no pattern
	member, key, value *shape
	enumText           string
}

type model struct {
	ops    []Operation
	byName map[string]Operation
	shapes map[string]*shape
	// untranslated lists the model's patterns that neither compile nor
	// have a translation; the tests require it to be empty.
	untranslated []string
}

// recordedEnumText is AWS's spelling of an enum's values where it is not
// the model's order: InvokeMode, "Member must satisfy enum value set:
// [RESPONSE_STREAM, BUFFERED]" (LocalStack's snapshot tests, recorded
// against AWS: test_lambda.snapshot.json,
// TestLambdaURL::test_lambda_url_invalid_invoke_mode, 2025-11-24).
var recordedEnumText = map[string]string{
	"InvokeMode": "[RESPONSE_STREAM, BUFFERED]",
}

var load = sync.OnceValue(func() *model {
	m, err := parse(modelGz)
	if err != nil {
		panic(err)
	}
	return m
})

func parse(gz []byte) (*model, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("awsmodel: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("awsmodel: %w", err)
	}
	var rm rawModel
	if err := json.Unmarshal(raw, &rm); err != nil {
		return nil, fmt.Errorf("awsmodel: %w", err)
	}
	m := &model{byName: map[string]Operation{}, shapes: rm.Shapes}
	for name, o := range rm.Operations {
		op := Operation{Name: name, Method: o.HTTP.Method, URI: o.HTTP.RequestURI, Path: o.HTTP.RequestURI, Status: o.HTTP.ResponseCode, input: o.Input.Shape}
		if o.Name != "" {
			op.Name = o.Name
		}
		if op.Status == 0 {
			op.Status = 200
		}
		if p, q, ok := strings.Cut(op.URI, "?"); ok {
			op.Path = p
			vs, err := url.ParseQuery(q)
			if err != nil {
				return nil, fmt.Errorf("awsmodel: %s: %w", name, err)
			}
			op.Query = map[string]string{}
			for k, v := range vs {
				op.Query[k] = v[0]
			}
		}
		m.ops = append(m.ops, op)
		m.byName[op.Name] = op
	}
	sort.Slice(m.ops, func(i, j int) bool { return m.ops[i].Name < m.ops[j].Name })

	compiled := map[string]func(string) bool{}
	get := func(n string) *shape {
		if n == "" {
			return nil
		}
		return rm.Shapes[n]
	}
	for name, s := range rm.Shapes {
		s.name = name
		s.member, s.key, s.value = get(s.Member.Shape), get(s.Key.Shape), get(s.Value.Shape)
		for _, mb := range s.Members {
			mb.shape = get(mb.Shape)
			if mb.shape == nil {
				return nil, fmt.Errorf("awsmodel: %s.%s: no shape %q", name, mb.Name, mb.Shape)
			}
		}
		if len(s.Required) > 0 {
			s.required = map[string]bool{}
			for _, r := range s.Required {
				s.required[r] = true
			}
		}
		if len(s.Enum) > 0 {
			s.enumText = "[" + strings.Join(s.Enum, ", ") + "]"
			if t, ok := recordedEnumText[name]; ok {
				s.enumText = t
			}
		}
		if s.Pattern != "" {
			f, ok := compiled[s.Pattern]
			if !ok {
				f = compilePattern(s.Pattern)
				if f == nil {
					m.untranslated = append(m.untranslated, s.Pattern)
				}
				compiled[s.Pattern] = f
			}
			s.match = f
		}
	}
	sort.Strings(m.untranslated)
	return m, nil
}

// compilePattern returns the whole-value matcher for a model pattern (Java's
// String.matches), or nil if Go's regexp cannot compile it and patterns.go
// has no translation.
func compilePattern(p string) func(string) bool {
	if f, ok := translated[p]; ok {
		return f
	}
	re, err := regexp.Compile(`^(?:` + p + `)$`)
	if err != nil {
		return nil
	}
	return (&memo{match: re.MatchString}).matches
}

// memo remembers a pattern's answers for the values it saw last. Every
// invoke brings the same few function names and qualifiers, and a match of
// the model's FunctionName pattern costs microseconds where a map lookup
// costs tens of nanoseconds. Bounded: a caller sending ever new values
// only makes the memo start over.
type memo struct {
	match func(string) bool
	mu    sync.Mutex
	seen  map[string]bool
}

const (
	memoEntries  = 1024
	memoValueLen = 256 // longer values are matched each time
)

func (m *memo) matches(v string) bool {
	if len(v) > memoValueLen {
		return m.match(v)
	}
	m.mu.Lock()
	ok, found := m.seen[v]
	m.mu.Unlock()
	if found {
		return ok
	}
	ok = m.match(v)
	m.mu.Lock()
	if m.seen == nil || len(m.seen) >= memoEntries {
		m.seen = make(map[string]bool, memoEntries)
	}
	m.seen[v] = ok
	m.mu.Unlock()
	return ok
}

// Operations returns all the model's operations, sorted by Name.
func Operations() []Operation {
	return append([]Operation(nil), load().ops...)
}

// Lookup returns the operation named name.
func Lookup(name string) (Operation, bool) {
	op, ok := load().byName[name]
	return op, ok
}
