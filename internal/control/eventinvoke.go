package control

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/store"
)

// Asynchronous invocation settings of functions, versions and aliases
// (PutFunctionEventInvokeConfig, UpdateFunctionEventInvokeConfig,
// GetFunctionEventInvokeConfig, DeleteFunctionEventInvokeConfig,
// ListFunctionEventInvokeConfigs), and AsyncSettings, which the workers of
// asynchronous invokes read.
//
// One config per function and qualifier: $LATEST (no qualifier and
// Qualifier $LATEST name the same one, whose FunctionArn AWS qualifies
// with :$LATEST), a version, an alias or $LATEST.PUBLISHED. Each is a
// record eic.NAME.QUALIFIER-IN-HEX of the replicated configuration, kept
// in memory with its function (fnState.invoke) and deleted with the
// function, the version or the alias.
//
// Texts, from AWS's answers as LocalStack's snapshot tests recorded them
// against AWS (tests/aws/services/lambda_/test_lambda_api.snapshot.json,
// TestLambdaEventInvokeConfig, recorded 2025-11-25):
//   - "You must specify at least one of error handling or destination setting."
//   - "The function doesn't exist." (Put and Update of a function, version
//     or alias that does not exist; List of a function that does not exist)
//   - "The function ARN doesn't have an EventInvokeConfig" (Get and Delete,
//     whether the function, the qualifier or only the config is missing;
//     Update of an existing function without one)
//   - "The destination ARN ARN is invalid." (a Lambda function that does
//     not exist)
//   - "You can't specify the function as a destination for itself."
//   - "The provided destination config DestinationConfig(onSuccess=
//     OnSuccess(destination=ARN), onFailure=null) is invalid." (an ARN of a
//     service that is not a destination). The spelling of the other
//     combinations (onFailure set, both set) follows that one and
//     LocalStack's provider; AWS's answer for them is not recorded.
//
// The model's constraints (MaximumRetryAttempts 0-2,
// MaximumEventAgeInSeconds 60-21600, DestinationArn's length and pattern)
// are ValidationException in the model's words.

// Lambda's defaults for an asynchronous invoke without a config (the
// PutFunctionEventInvokeConfig reference: "By default, Lambda retries an
// asynchronous invocation twice if the function returns an error. It
// retains events in a queue for up to six hours.").
const (
	DefaultMaximumRetryAttempts = 2
	DefaultMaximumEventAge      = 6 * time.Hour
)

// The model's ranges and DestinationArn.
const (
	minRetryAttempts  = 0
	maxRetryAttempts  = 2
	minEventAge       = 60
	maxEventAge       = 21600
	maxDestinationLen = 350

	destinationPattern = `$|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)`
)

var (
	destinationRE = regexp.MustCompile(`^(?:` + destinationPattern + `)$`)
	// A Lambda function's ARN, unqualified or qualified.
	lambdaDestinationRE = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:lambda:([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}):(\d{12}):function:([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?$`)
)

// EventInvokeConfig is the asynchronous invocation config of one function
// and qualifier. Nil and empty members are not configured.
type EventInvokeConfig struct {
	Function                 string    `json:"function"`
	Qualifier                string    `json:"qualifier"` // $LATEST, a version, an alias or $LATEST.PUBLISHED
	MaximumRetryAttempts     *int      `json:"maximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int      `json:"maximumEventAgeInSeconds,omitempty"`
	OnSuccess                string    `json:"onSuccess,omitempty"` // destination ARN
	OnFailure                string    `json:"onFailure,omitempty"`
	LastModified             time.Time `json:"lastModified"`
}

// EventInvokeInput is a Put or Update request. Nil members are not in the
// request: Put removes them, Update keeps them.
type EventInvokeInput struct {
	MaximumRetryAttempts     *int
	MaximumEventAgeInSeconds *int
	Destinations             *Destinations // DestinationConfig
}

// Destinations is a DestinationConfig: the ARNs, "" for none. Update
// replaces the whole DestinationConfig when the request has one (it is one
// member of the request, as the retries and the event age are).
type Destinations struct {
	OnSuccess, OnFailure string
}

// AsyncSettings is how asynchronous invokes of function:qualifier are retried and where their records go.
type AsyncSettings struct {
	MaximumRetryAttempts int           // Lambda's default 2 when not configured
	MaximumEventAge      time.Duration // Lambda's default 6 h (21600 s) when not configured
	OnSuccess, OnFailure string        // destination ARNs; "" for none
	// DeadLetter is the DeadLetterConfig.TargetArn of the version the
	// qualifier runs (a function setting, not the event invoke config's).
	DeadLetter string
}

// AsyncSettings returns the settings of function's event invoke config for qualifier ("" = $LATEST), or Lambda's defaults when it has none. It reads the in-memory state (no store round trip).
//
// An invoke of a version or an alias without a config of its own runs
// with Lambda's defaults: it does not fall back to the unqualified
// function's config. AWS keeps one config per function, version or alias
// ("configure error handling settings on a function, a version, or an
// alias", Lambda developer guide, Configuring error handling settings for
// Lambda asynchronous invocations; GetFunctionEventInvokeConfig of a
// version without one answers ResourceNotFoundException while $LATEST has
// one) and documents no inheritance between them; users who configured the
// unqualified function and invoked an alias saw the settings apply to the
// unqualified ARN only (serverless-plugin-canary-deployments pull request
// 149). So the qualifier an invoke names picks the config: an alias's own,
// not its version's.
func (s *Service) AsyncSettings(function, qualifier string) AsyncSettings {
	a := AsyncSettings{MaximumRetryAttempts: DefaultMaximumRetryAttempts, MaximumEventAge: DefaultMaximumEventAge}
	if m := s.asyncSettings.Load(); m != nil {
		if c, ok := (*m)[policyMapKey(function, eventInvokeQualifier(qualifier))]; ok {
			a = c
		}
	}
	if r, err := s.Resolve(function, qualifier); err == nil && r.Config != nil {
		a.DeadLetter = r.Config.DeadLetterTarget
	}
	return a
}

// publishAsyncSettings rebuilds what AsyncSettings reads. Under s.mu (or
// before the service is shared), from publishRoutes.
func (s *Service) publishAsyncSettings() {
	m := map[string]AsyncSettings{}
	for name, f := range s.fns {
		for q, c := range f.invoke {
			a := AsyncSettings{MaximumRetryAttempts: DefaultMaximumRetryAttempts, MaximumEventAge: DefaultMaximumEventAge,
				OnSuccess: c.OnSuccess, OnFailure: c.OnFailure}
			if c.MaximumRetryAttempts != nil {
				a.MaximumRetryAttempts = *c.MaximumRetryAttempts
			}
			if c.MaximumEventAgeInSeconds != nil {
				a.MaximumEventAge = time.Duration(*c.MaximumEventAgeInSeconds) * time.Second
			}
			m[policyMapKey(name, q)] = a
		}
	}
	s.asyncSettings.Store(&m)
}

// eventInvokeQualifier is the qualifier a config is kept under: no
// qualifier is $LATEST.
func eventInvokeQualifier(q string) string {
	if q == "" {
		return Latest
	}
	return q
}

func eventInvokeKey(function, qualifier string) string {
	return "eic." + function + "." + hex.EncodeToString([]byte(eventInvokeQualifier(qualifier)))
}

// ValidateEventInvokeInput checks a Put or Update request against the
// model's constraints (ValidationException, every violation in the
// model's member order, as AWS's front end lists them).
func ValidateEventInvokeInput(in EventInvokeInput) error {
	var errs []string
	fail := func(v, at, constraint string) {
		errs = append(errs, "Value '"+v+"' at '"+at+"' failed to satisfy constraint: "+constraint)
	}
	if p := in.MaximumRetryAttempts; p != nil {
		switch v := strconv.Itoa(*p); {
		case *p > maxRetryAttempts:
			fail(v, "maximumRetryAttempts", "Member must have value less than or equal to "+strconv.Itoa(maxRetryAttempts))
		case *p < minRetryAttempts:
			fail(v, "maximumRetryAttempts", "Member must have value greater than or equal to "+strconv.Itoa(minRetryAttempts))
		}
	}
	if p := in.MaximumEventAgeInSeconds; p != nil {
		switch v := strconv.Itoa(*p); {
		case *p > maxEventAge:
			fail(v, "maximumEventAgeInSeconds", "Member must have value less than or equal to "+strconv.Itoa(maxEventAge))
		case *p < minEventAge:
			fail(v, "maximumEventAgeInSeconds", "Member must have value greater than or equal to "+strconv.Itoa(minEventAge))
		}
	}
	if d := in.Destinations; d != nil {
		for _, m := range []struct{ at, arn string }{
			{"destinationConfig.onSuccess.destination", d.OnSuccess},
			{"destinationConfig.onFailure.destination", d.OnFailure},
		} {
			if utf16Length(m.arn) > maxDestinationLen {
				fail(m.arn, m.at, "Member must have length less than or equal to "+strconv.Itoa(maxDestinationLen))
			}
			if !destinationRE.MatchString(m.arn) {
				fail(m.arn, m.at, "Member must satisfy regular expression pattern: "+destinationPattern)
			}
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return awserr.Validation("1 validation error detected: %s", errs[0])
	default:
		return awserr.Validation("%d validation errors detected: %s", len(errs), strings.Join(errs, "; "))
	}
}

// utf16Length is a string's length as the model counts it (Java's).
func utf16Length(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

func requireEventInvokeSetting(in EventInvokeInput) error {
	if in.MaximumRetryAttempts == nil && in.MaximumEventAgeInSeconds == nil && in.Destinations == nil {
		return awserr.InvalidParameter("You must specify at least one of error handling or destination setting.")
	}
	return nil
}

// eventInvokeTarget finds the function and checks that qualifier names
// something of it (Put and Update). Under s.mu.
func (s *Service) eventInvokeTarget(function, qualifier string) (*fnState, error) {
	notFound := awserr.NotFound("The function doesn't exist.")
	f, ok := s.fns[function]
	if !ok {
		return nil, notFound
	}
	if qualifier != "" && qualifier != Latest {
		if _, err := s.configAt(f, qualifier); err != nil {
			return nil, notFound
		}
	}
	return f, nil
}

func (s *Service) noEventInvokeConfig(function, qualifier string) error {
	return awserr.NotFound("The function %s doesn't have an EventInvokeConfig", s.FunctionARN(function, eventInvokeQualifier(qualifier)))
}

// checkDestinations applies Lambda's rules to the destinations of a config
// of function: each an ARN of a Lambda function (another one, that exists),
// an SQS queue, an SNS topic, an EventBridge event bus, or, on failure
// only, an S3 bucket ("S3 buckets are supported only for on-failure
// destinations", the model's DestinationConfig). On failure is checked
// first. Under s.mu.
func (s *Service) checkDestinations(function string, d Destinations) error {
	invalid := false
	for _, dest := range []struct {
		arn       string
		onFailure bool
	}{{d.OnFailure, true}, {d.OnSuccess, false}} {
		if dest.arn == "" {
			continue
		}
		service := ""
		if parts := strings.SplitN(dest.arn, ":", 4); len(parts) == 4 && parts[0] == "arn" {
			service = parts[2]
		}
		switch service {
		case "lambda":
			m := lambdaDestinationRE.FindStringSubmatch(dest.arn)
			if m == nil || m[1] != s.region || m[6] != s.account || s.fns[m[7]] == nil {
				return awserr.InvalidParameter("The destination ARN %s is invalid.", dest.arn)
			}
			if m[7] == function {
				return awserr.InvalidParameter("You can't specify the function as a destination for itself.")
			}
		case "sqs", "sns", "events":
		case "s3":
			if !dest.onFailure {
				invalid = true
			}
		default:
			invalid = true
		}
	}
	if !invalid {
		return nil
	}
	part := func(kind, arn string) string {
		if arn == "" {
			return "null"
		}
		return kind + "(destination=" + arn + ")"
	}
	return awserr.InvalidParameter("The provided destination config DestinationConfig(onSuccess=%s, onFailure=%s) is invalid.",
		part("OnSuccess", d.OnSuccess), part("OnFailure", d.OnFailure))
}

// storeEventInvokeConfig writes c and makes it the one in memory. Under s.mu.
func (s *Service) storeEventInvokeConfig(ctx context.Context, f *fnState, c *EventInvokeConfig) error {
	if err := s.put(ctx, eventInvokeKey(c.Function, c.Qualifier), c); err != nil {
		return err
	}
	if f.invoke == nil {
		f.invoke = map[string]*EventInvokeConfig{}
	}
	f.invoke[c.Qualifier] = c
	s.publishAsyncSettings()
	return nil
}

// PutFunctionEventInvokeConfig sets the asynchronous invocation config of
// function at qualifier ("" = $LATEST), replacing the whole config.
func (s *Service) PutFunctionEventInvokeConfig(ctx context.Context, function, qualifier string, in EventInvokeInput) (*EventInvokeConfig, error) {
	if err := ValidateEventInvokeInput(in); err != nil {
		return nil, err
	}
	if err := requireEventInvokeSetting(in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.eventInvokeTarget(function, qualifier)
	if err != nil {
		return nil, err
	}
	c := &EventInvokeConfig{Function: function, Qualifier: eventInvokeQualifier(qualifier),
		MaximumRetryAttempts: in.MaximumRetryAttempts, MaximumEventAgeInSeconds: in.MaximumEventAgeInSeconds}
	if in.Destinations != nil {
		if err := s.checkDestinations(function, *in.Destinations); err != nil {
			return nil, err
		}
		c.OnSuccess, c.OnFailure = in.Destinations.OnSuccess, in.Destinations.OnFailure
	}
	c.LastModified = now().Truncate(time.Millisecond)
	if err := s.storeEventInvokeConfig(ctx, f, c); err != nil {
		return nil, err
	}
	out := *c
	return &out, nil
}

// UpdateFunctionEventInvokeConfig changes the members of an existing config
// that the request has, and keeps the others.
func (s *Service) UpdateFunctionEventInvokeConfig(ctx context.Context, function, qualifier string, in EventInvokeInput) (*EventInvokeConfig, error) {
	if err := ValidateEventInvokeInput(in); err != nil {
		return nil, err
	}
	if err := requireEventInvokeSetting(in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.eventInvokeTarget(function, qualifier)
	if err != nil {
		return nil, err
	}
	cur := f.invoke[eventInvokeQualifier(qualifier)]
	if cur == nil {
		return nil, s.noEventInvokeConfig(function, qualifier)
	}
	c := *cur
	if in.MaximumRetryAttempts != nil {
		c.MaximumRetryAttempts = in.MaximumRetryAttempts
	}
	if in.MaximumEventAgeInSeconds != nil {
		c.MaximumEventAgeInSeconds = in.MaximumEventAgeInSeconds
	}
	if in.Destinations != nil {
		if err := s.checkDestinations(function, *in.Destinations); err != nil {
			return nil, err
		}
		c.OnSuccess, c.OnFailure = in.Destinations.OnSuccess, in.Destinations.OnFailure
	}
	c.LastModified = now().Truncate(time.Millisecond)
	if err := s.storeEventInvokeConfig(ctx, f, &c); err != nil {
		return nil, err
	}
	out := c
	return &out, nil
}

// GetFunctionEventInvokeConfig returns the config of function at qualifier.
// AWS answers the same ResourceNotFoundException whether the function, the
// version or alias, or only the config is missing.
func (s *Service) GetFunctionEventInvokeConfig(function, qualifier string) (*EventInvokeConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fns[function]
	if f == nil || f.invoke[eventInvokeQualifier(qualifier)] == nil {
		return nil, s.noEventInvokeConfig(function, qualifier)
	}
	out := *f.invoke[eventInvokeQualifier(qualifier)]
	return &out, nil
}

// DeleteFunctionEventInvokeConfig deletes the config of function at
// qualifier; one that does not exist is ResourceNotFoundException.
func (s *Service) DeleteFunctionEventInvokeConfig(ctx context.Context, function, qualifier string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fns[function]
	if f == nil || f.invoke[eventInvokeQualifier(qualifier)] == nil {
		return s.noEventInvokeConfig(function, qualifier)
	}
	return s.dropEventInvokeConfig(ctx, function, qualifier)
}

// MaxEventInvokeConfigPage is the model's largest MaxItems of
// ListFunctionEventInvokeConfigs (MaxFunctionEventInvokeConfigListItems),
// also the page size when none is asked for.
const MaxEventInvokeConfigPage = 50

// ListFunctionEventInvokeConfigs pages through a function's configs in the
// order of their FunctionArn. The marker is the qualifier of the last
// config of the page before.
func (s *Service) ListFunctionEventInvokeConfigs(function, marker string, max int) ([]EventInvokeConfig, string, error) {
	s.mu.Lock()
	f := s.fns[function]
	if f == nil {
		s.mu.Unlock()
		return nil, "", awserr.NotFound("The function doesn't exist.")
	}
	out := make([]EventInvokeConfig, 0, len(f.invoke))
	for _, c := range f.invoke {
		out = append(out, *c)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Qualifier < out[j].Qualifier })
	if max > MaxEventInvokeConfigPage {
		max = MaxEventInvokeConfigPage
	}
	return page(out, marker, max, MaxEventInvokeConfigPage, func(c EventInvokeConfig) string { return c.Qualifier })
}

// loadEventInvokeConfigs reads the eic.* records. Called from load, after
// the functions, versions and aliases are in memory; a config whose
// version or alias is gone (a stop between two deletes) is not loaded.
func (s *Service) loadEventInvokeConfigs(entries []store.Entry) error {
	for _, e := range entries {
		if !strings.HasPrefix(e.Key, "eic.") {
			continue
		}
		var c EventInvokeConfig
		if err := json.Unmarshal(e.Value, &c); err != nil {
			return err
		}
		f, err := s.eventInvokeTarget(c.Function, c.Qualifier)
		if err != nil {
			continue
		}
		if f.invoke == nil {
			f.invoke = map[string]*EventInvokeConfig{}
		}
		f.invoke[c.Qualifier] = &c
	}
	return nil
}

// dropEventInvokeConfig forgets the config of a deleted version or alias
// (or the one DeleteFunctionEventInvokeConfig names). Under s.mu.
func (s *Service) dropEventInvokeConfig(ctx context.Context, function, qualifier string) error {
	f := s.fns[function]
	q := eventInvokeQualifier(qualifier)
	if f == nil || f.invoke[q] == nil {
		return nil
	}
	if err := s.del(ctx, eventInvokeKey(function, q)); err != nil {
		return err
	}
	delete(f.invoke, q)
	s.publishAsyncSettings()
	return nil
}

// dropEventInvokeConfigs forgets every config of a function being deleted.
// Under s.mu.
func (s *Service) dropEventInvokeConfigs(ctx context.Context, function string) error {
	f := s.fns[function]
	if f == nil {
		return nil
	}
	for q := range f.invoke {
		if err := s.dropEventInvokeConfig(ctx, function, q); err != nil {
			return err
		}
	}
	return nil
}
