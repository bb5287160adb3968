package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/store"
)

// Function URL configs (CreateFunctionUrlConfig, GetFunctionUrlConfig,
// UpdateFunctionUrlConfig, DeleteFunctionUrlConfig,
// ListFunctionUrlConfigs), and FunctionURLByID, which the data plane that
// serves the URLs reads on every request.
//
// One config per function and qualifier: the unqualified function
// ($LATEST) or an alias. The model's FunctionUrlQualifier pattern,
// ((?!^\d+$)^[0-9a-zA-Z-_]+$), refuses versions and $LATEST given as the
// Qualifier parameter (awsmodel.Validate answers that); a qualifier taken
// from the function name (f:1, f:$LATEST) is refused here with the same
// text, as LocalStack's provider does (_validate_qualifier; AWS's answer
// to that spelling is not recorded). Each config is a record
// furl.NAME.QUALIFIER-IN-HEX ($LATEST for the unqualified function) of the
// replicated configuration, kept in memory with its function
// (fnState.urls) and deleted with the function or the alias.
//
// Each config has a URL id, 32 random lowercase letters and digits, drawn
// at creation and kept for the config's life (a deleted and recreated
// config gets a new one, as on AWS: LocalStack's generate_random_url_id,
// "32 characters [0-9a-z] url ID").
//
// Texts, from AWS's answers as LocalStack's snapshot tests recorded them
// against AWS (tests/aws/services/lambda_/test_lambda_api.snapshot.json,
// TestLambdaUrl, recorded 2025-11-25; and test_lambda.snapshot.json,
// TestLambdaURL, recorded 2025-11-24):
//   - "Function does not exist" (Create and Update of a function or an
//     alias that does not exist; List of a function that does not exist)
//   - "The resource you requested does not exist." (Get and Delete,
//     whether the function, the alias or only the config is missing;
//     Update of an existing function or alias without a config)
//   - "Failed to create function url config for [functionArn = ARN].
//     Error message:  FunctionUrlConfig exists for this Lambda function"
//     (a second Create; two spaces after "Error message:"). Recorded for
//     the unqualified function; for an alias the ARN is the alias's, as in
//     LocalStack's provider (not recorded).
//   - the ValidationException of the qualifier, the model's pattern in
//     AWS's words (recorded for 1, 2 and $LATEST as the Qualifier).
//
// The answers' shapes (test_lambda_update_function_url_config,
// test_lambda_url_echo_invoke, test_url_config_lifecycle): Create and
// Update answer InvokeMode only once a request has given one (AWS answered
// none to a Create without it, and none to an Update without it of a
// config created without it, but RESPONSE_STREAM to an Update without it
// of a config set to RESPONSE_STREAM); Get and List answer BUFFERED for a
// config never given one. Cors is answered as given; no recording shows
// one, so its spelling back (members absent from the request left out) is
// not confirmed.

// InvokeModes of a function URL.
const (
	InvokeBuffered       = "BUFFERED"
	InvokeResponseStream = "RESPONSE_STREAM"
)

// FunctionURLConfig is a function URL's configuration.
type FunctionURLConfig struct {
	ID                string   // 32 lowercase letters and digits
	Function          string   // the function's name
	Qualifier         string   // "" or an alias name
	FunctionARN       string   // qualified with the alias when there is one
	AuthType          string   // "NONE" or "AWS_IAM"
	Cors              *URLCors // nil: no CORS
	InvokeMode        string   // "BUFFERED" or "RESPONSE_STREAM"
	Created, Modified time.Time
}

// URLCors is a function URL's CORS settings.
type URLCors struct {
	AllowCredentials                                        bool
	AllowHeaders, AllowMethods, AllowOrigins, ExposeHeaders []string
	MaxAge                                                  int // seconds, 0 none
}

// URLConfig is a function URL config as stored and as the API answers it:
// the members as the requests gave them (Cors's absent members stay
// absent; InvokeMode "" until a request gives one).
type URLConfig struct {
	ID         string     `json:"id"`
	Function   string     `json:"function"`
	Qualifier  string     `json:"qualifier,omitempty"` // "" or an alias
	AuthType   string     `json:"authType"`
	Cors       *CorsInput `json:"cors,omitempty"`
	InvokeMode string     `json:"invokeMode,omitempty"` // "": never given (BUFFERED)
	Created    time.Time  `json:"created"`
	Modified   time.Time  `json:"modified"`
}

// CorsInput is a Cors as a request gives it: nil members are absent.
type CorsInput struct {
	AllowCredentials *bool    `json:"allowCredentials,omitempty"`
	AllowHeaders     []string `json:"allowHeaders,omitempty"`
	AllowMethods     []string `json:"allowMethods,omitempty"`
	AllowOrigins     []string `json:"allowOrigins,omitempty"`
	ExposeHeaders    []string `json:"exposeHeaders,omitempty"`
	MaxAge           *int     `json:"maxAge,omitempty"`
}

// URLConfigInput is a Create or Update request. Nil and "" members are not
// in the request: Update keeps them. A Cors given replaces the whole Cors.
type URLConfigInput struct {
	AuthType   string // required on Create (the model's, awsmodel.Validate)
	Cors       *CorsInput
	InvokeMode string
}

// EffectiveInvokeMode is the config's InvokeMode, BUFFERED when none was
// given (the default, "BUFFERED – This is the default option", the model's
// InvokeMode).
func (c *URLConfig) EffectiveInvokeMode() string {
	if c.InvokeMode == "" {
		return InvokeBuffered
	}
	return c.InvokeMode
}

// view is what the data plane reads of c.
func (c *URLConfig) view(arn string) FunctionURLConfig {
	v := FunctionURLConfig{ID: c.ID, Function: c.Function, Qualifier: c.Qualifier, FunctionARN: arn,
		AuthType: c.AuthType, InvokeMode: c.EffectiveInvokeMode(), Created: c.Created, Modified: c.Modified}
	if in := c.Cors; in != nil {
		cors := &URLCors{AllowHeaders: in.AllowHeaders, AllowMethods: in.AllowMethods, AllowOrigins: in.AllowOrigins, ExposeHeaders: in.ExposeHeaders}
		if in.AllowCredentials != nil {
			cors.AllowCredentials = *in.AllowCredentials
		}
		if in.MaxAge != nil {
			cors.MaxAge = *in.MaxAge
		}
		v.Cors = cors
	}
	return v
}

// FunctionURLByID is the URL config whose id is id; it is called on every
// request to a function URL, so it reads memory (an index id -> config kept
// up to date with the configuration), never the store.
func (s *Service) FunctionURLByID(id string) (FunctionURLConfig, bool) {
	m := s.functionURLs.Load()
	if m == nil {
		return FunctionURLConfig{}, false
	}
	c, ok := (*m)[id]
	return c, ok
}

// publishFunctionURLs rebuilds what FunctionURLByID reads. Under s.mu (or
// before the service is shared), from publishRoutes and after each change.
func (s *Service) publishFunctionURLs() {
	m := map[string]FunctionURLConfig{}
	for name, f := range s.fns {
		for q, c := range f.urls {
			m[c.ID] = c.view(s.FunctionARN(name, q))
		}
	}
	s.functionURLs.Store(&m)
}

func functionURLKey(function, qualifier string) string {
	return "furl." + function + "." + hex.EncodeToString([]byte(eventInvokeQualifier(qualifier)))
}

// urlIDAlphabet is what a URL id is drawn from.
const urlIDAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// newURLID draws a URL id: 32 of urlIDAlphabet, uniformly (rejection of
// the bytes past the last whole multiple of 36).
func newURLID() string {
	const limit = 256 - 256%len(urlIDAlphabet)
	id := make([]byte, 0, 32)
	var buf [64]byte
	for len(id) < 32 {
		rand.Read(buf[:]) //nolint:errcheck // crypto/rand.Read never fails (Go 1.24)
		for _, b := range buf {
			if int(b) < limit && len(id) < 32 {
				id = append(id, urlIDAlphabet[int(b)%len(urlIDAlphabet)])
			}
		}
	}
	return string(id)
}

// checkURLQualifier refuses what the model's FunctionUrlQualifier pattern
// does, for a qualifier taken from the function name (the Qualifier
// parameter was checked against the model already).
func checkURLQualifier(q string) error {
	if q != "" && (q == Latest || q == LatestPublished || isVersion(q)) {
		return awserr.Validation(`1 validation error detected: Value '%s' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\d+$)^[0-9a-zA-Z-_]+$)`, q)
	}
	return nil
}

// The two ResourceNotFoundException texts of function URL configs.
func errURLFunction() error { return awserr.NotFound("Function does not exist") }
func errURLResource() error { return awserr.NotFound("The resource you requested does not exist.") }

// urlTarget finds the function and checks that qualifier is "" or one of
// its aliases (Create and Update). Under s.mu.
func (s *Service) urlTarget(function, qualifier string) (*fnState, error) {
	f := s.fns[function]
	if f == nil {
		return nil, errURLFunction()
	}
	if qualifier != "" && f.aliases[qualifier] == nil {
		return nil, errURLFunction()
	}
	return f, nil
}

// storeFunctionURLConfig writes c and makes it the one in memory. Under s.mu.
func (s *Service) storeFunctionURLConfig(ctx context.Context, f *fnState, c *URLConfig) error {
	if err := s.put(ctx, functionURLKey(c.Function, c.Qualifier), c); err != nil {
		return err
	}
	if f.urls == nil {
		f.urls = map[string]*URLConfig{}
	}
	f.urls[c.Qualifier] = c
	s.publishFunctionURLs()
	return nil
}

// urlTime is a config's time as kept: AWS answers microseconds.
func urlTime() time.Time { return now().Truncate(time.Microsecond) }

// CreateFunctionUrlConfig gives function at qualifier ("" or an alias) a
// URL. A second one is ResourceConflictException.
func (s *Service) CreateFunctionUrlConfig(ctx context.Context, function, qualifier string, in URLConfigInput) (*URLConfig, error) {
	if err := checkURLQualifier(qualifier); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fns[function]
	if f == nil {
		return nil, errURLFunction()
	}
	// LocalStack's order: the conflict before the alias (an alias without
	// one cannot conflict anyway).
	if f.urls[qualifier] != nil {
		return nil, awserr.Conflict("Failed to create function url config for [functionArn = %s]. Error message:  FunctionUrlConfig exists for this Lambda function",
			s.FunctionARN(function, qualifier))
	}
	if _, err := s.urlTarget(function, qualifier); err != nil {
		return nil, err
	}
	id := newURLID()
	for s.urlIDTaken(id) {
		id = newURLID()
	}
	t := urlTime()
	c := &URLConfig{ID: id, Function: function, Qualifier: qualifier, AuthType: in.AuthType,
		Cors: in.Cors, InvokeMode: in.InvokeMode, Created: t, Modified: t}
	if err := s.storeFunctionURLConfig(ctx, f, c); err != nil {
		return nil, err
	}
	out := *c
	return &out, nil
}

// urlIDTaken reports whether a config already has id. Under s.mu.
func (s *Service) urlIDTaken(id string) bool {
	for _, f := range s.fns {
		for _, c := range f.urls {
			if c.ID == id {
				return true
			}
		}
	}
	return false
}

// UpdateFunctionUrlConfig changes the members of an existing config that
// the request has, and keeps the others; LastModifiedTime moves.
func (s *Service) UpdateFunctionUrlConfig(ctx context.Context, function, qualifier string, in URLConfigInput) (*URLConfig, error) {
	if err := checkURLQualifier(qualifier); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.urlTarget(function, qualifier)
	if err != nil {
		return nil, err
	}
	cur := f.urls[qualifier]
	if cur == nil {
		return nil, errURLResource()
	}
	c := *cur
	if in.AuthType != "" {
		c.AuthType = in.AuthType
	}
	if in.Cors != nil {
		c.Cors = in.Cors
	}
	if in.InvokeMode != "" {
		c.InvokeMode = in.InvokeMode
	}
	c.Modified = urlTime()
	if err := s.storeFunctionURLConfig(ctx, f, &c); err != nil {
		return nil, err
	}
	out := c
	return &out, nil
}

// GetFunctionUrlConfig returns the config of function at qualifier. AWS
// answers the same ResourceNotFoundException whether the function, the
// alias, or only the config is missing.
func (s *Service) GetFunctionUrlConfig(function, qualifier string) (*URLConfig, error) {
	if err := checkURLQualifier(qualifier); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fns[function]
	if f == nil || f.urls[qualifier] == nil {
		return nil, errURLResource()
	}
	out := *f.urls[qualifier]
	return &out, nil
}

// DeleteFunctionUrlConfig deletes the config of function at qualifier;
// that of the unqualified function only, not its aliases'
// (test_url_config_deletion_without_qualifier).
func (s *Service) DeleteFunctionUrlConfig(ctx context.Context, function, qualifier string) error {
	if err := checkURLQualifier(qualifier); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fns[function]
	if f == nil || f.urls[qualifier] == nil {
		return errURLResource()
	}
	return s.dropFunctionURLConfig(ctx, function, qualifier)
}

// MaxFunctionURLConfigPage is the model's largest MaxItems of
// ListFunctionUrlConfigs, also the page size when none is asked for.
const MaxFunctionURLConfigPage = 50

// ListFunctionUrlConfigs pages through a function's configs in the order
// of their FunctionArn (the unqualified function's first). The marker is
// the FunctionArn of the last config of the page before.
func (s *Service) ListFunctionUrlConfigs(function, marker string, max int) ([]URLConfig, string, error) {
	s.mu.Lock()
	f := s.fns[function]
	if f == nil {
		s.mu.Unlock()
		return nil, "", errURLFunction()
	}
	out := make([]URLConfig, 0, len(f.urls))
	for _, c := range f.urls {
		out = append(out, *c)
	}
	s.mu.Unlock()
	arn := func(c URLConfig) string { return s.FunctionARN(c.Function, c.Qualifier) }
	sort.Slice(out, func(i, j int) bool { return arn(out[i]) < arn(out[j]) })
	if max > MaxFunctionURLConfigPage {
		max = MaxFunctionURLConfigPage
	}
	return page(out, marker, max, MaxFunctionURLConfigPage, arn)
}

// loadFunctionURLConfigs reads the furl.* records. Called from load, after
// the functions and aliases are in memory; a config whose alias is gone (a
// stop between two deletes) is not loaded.
func (s *Service) loadFunctionURLConfigs(entries []store.Entry) error {
	for _, e := range entries {
		if !strings.HasPrefix(e.Key, "furl.") {
			continue
		}
		var c URLConfig
		if err := json.Unmarshal(e.Value, &c); err != nil {
			return err
		}
		f, err := s.urlTarget(c.Function, c.Qualifier)
		if err != nil {
			continue
		}
		if f.urls == nil {
			f.urls = map[string]*URLConfig{}
		}
		f.urls[c.Qualifier] = &c
	}
	return nil
}

// dropFunctionURLConfig forgets the config of a deleted alias (or the one
// DeleteFunctionUrlConfig names). Under s.mu.
func (s *Service) dropFunctionURLConfig(ctx context.Context, function, qualifier string) error {
	f := s.fns[function]
	if f == nil || f.urls[qualifier] == nil {
		return nil
	}
	if err := s.del(ctx, functionURLKey(function, qualifier)); err != nil {
		return err
	}
	delete(f.urls, qualifier)
	s.publishFunctionURLs()
	return nil
}

// dropFunctionURLConfigs forgets every config of a function being deleted.
// Under s.mu.
func (s *Service) dropFunctionURLConfigs(ctx context.Context, function string) error {
	f := s.fns[function]
	if f == nil {
		return nil
	}
	for q := range f.urls {
		if err := s.dropFunctionURLConfig(ctx, function, q); err != nil {
			return err
		}
	}
	return nil
}
