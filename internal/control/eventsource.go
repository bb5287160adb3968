package control

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/store"
)

// Event source mappings (CreateEventSourceMapping, GetEventSourceMapping,
// UpdateEventSourceMapping, DeleteEventSourceMapping,
// ListEventSourceMappings) of Amazon SQS queues, Kinesis streams and
// DynamoDB streams, and EventSourceMappings, which the pollers run.
//
// Each mapping is a record esm.UUID of the replicated configuration, kept
// in memory (s.esms). Like AWS, a mapping lives on when its function is
// deleted (LocalStack's snapshot test_event_source_mapping_lifecycle_delete_function,
// recorded against AWS on 2025-11-25: GetEventSourceMapping after
// DeleteFunction still answers the mapping, State Enabled); it names its
// function by name, so a function created again under that name gets it.
//
// States as AWS answers them: Create answers Creating (Disabled at once
// when Enabled is false, as AWS's create_esm_disabled answer shows),
// Update answers Updating, Enabling or Disabling, Delete answers Deleting;
// Settle (settle.go) then moves each to Enabled or Disabled, or removes it.
//
// Texts, from AWS's answers as LocalStack's snapshot tests recorded them
// (tests/aws/services/lambda_/test_lambda_api.snapshot.json,
// TestLambdaEventSourceMappings, and event_source_mapping/
// test_lambda_integration_{sqs,kinesis,dynamodbstreams}.snapshot.json,
// recorded 2025-11-25 to 2025-12-18):
//   - "The resource you requested does not exist." (Get, Update, Delete of an unknown UUID)
//   - "Unrecognized event source." (no EventSourceArn)
//   - "Function does not exist" (Create for a function that does not exist)
//   - "Unsupported DestinationConfig parameter for given event source mapping type." (OnSuccess)
//   - "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null."
//   - "Unsupported starting position for arn type: ARN" (AT_TIMESTAMP on a DynamoDB stream)
//   - "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10" (SQS; Create and Update)
//   - "Invalid filter pattern definition."
//   - `An event source mapping with SQS arn (" ARN ") and function (" NAME ") already exists. Please update or delete the existing mapping with UUID UUID`
//   - `The event source arn (" ARN ") and function (" NAME ") provided mapping already exists. Please update or delete the existing mapping with UUID UUID` (streams)
//
// From AWS's answers quoted in public issues: "StartingPosition is not
// valid for SQS event sources." (boto/boto3 issue 1613) and "Need to
// specify a timestamp" (AT_TIMESTAMP without StartingPositionTimestamp,
// awsdocs/aws-cloudformation-user-guide pull request 334). Not recorded
// anywhere found, and so Paddock's own: "Unsupported NAME parameter for
// given event source mapping type." for the other stream-only members on
// an SQS mapping (and ScalingConfig on a stream), following the recorded
// DestinationConfig text; the refusal of Kafka, MQ and DocumentDB sources;
// and the ResourceInUseException of an update of a mapping being deleted.
//
// The stream members' ranges are the model's (MaximumRetryAttempts -1 to
// 10,000, MaximumRecordAgeInSeconds -1 to 604,800, the destination's
// pattern), refused in its ValidationException's words as
// ValidateEventInvokeInput does; within them, "MaximumRecordAgeInSeconds
// must be either -1 (forever) or between 60 and 604800 (inclusive)" is
// AWS's answer as hashicorp/terraform-provider-aws pull request 16113
// quotes it. AWS takes SQS queues, SNS topics, S3 buckets and Kafka
// topics as a stream's OnFailure; Paddock sends to the first two only
// and refuses the others in its own words.

// Event source kinds Paddock maps.
const (
	SourceSQS      = "sqs"
	SourceKinesis  = "kinesis"
	SourceDynamoDB = "dynamodb"
	// SourceNATS is a NATS JetStream stream, Paddock's own source for
	// users without AWS: arn:aws:nats:REGION:ACCOUNT:stream/NAME, read on
	// the NATS server the pollers are given (--event-nats-url). It is a
	// queue to Lambda's rules (SQS's members and defaults), since a
	// JetStream consumer acknowledges each message as SQS deletes it.
	SourceNATS = "nats"
)

// Mapping states.
const (
	MappingCreating  = "Creating"
	MappingEnabling  = "Enabling"
	MappingEnabled   = "Enabled"
	MappingDisabling = "Disabling"
	MappingDisabled  = "Disabled"
	MappingUpdating  = "Updating"
	MappingDeleting  = "Deleting"
)

// Defaults and limits of Lambda (CreateEventSourceMapping's reference).
const (
	defaultSQSBatchSize    = 10
	defaultStreamBatchSize = 100
	maxSQSBatchNoWindow    = 10
	// MaxMappingPage is the page ListEventSourceMappings answers when no
	// MaxItems is asked for (Lambda's default of 100).
	MaxMappingPage = 100
)

// MappingConfig is an event source mapping as it is stored and answered.
type MappingConfig struct {
	UUID           string `json:"uuid"`
	EventSourceARN string `json:"eventSourceArn"`
	Kind           string `json:"kind"` // SourceSQS, SourceKinesis, SourceDynamoDB, SourceNATS
	Function       string `json:"function"`
	Qualifier      string `json:"qualifier,omitempty"` // as FunctionName had it; "" unqualified

	Enabled               bool      `json:"enabled"` // what the user asked for; State moves towards it
	State                 string    `json:"state"`
	StateTransitionReason string    `json:"stateTransitionReason"`
	LastModified          time.Time `json:"lastModified"`

	BatchSize                      int      `json:"batchSize"`
	MaximumBatchingWindowInSeconds int      `json:"maximumBatchingWindowInSeconds"`
	FilterPatterns                 []string `json:"filterPatterns,omitempty"`
	FunctionResponseTypes          []string `json:"functionResponseTypes,omitempty"`
	MaximumConcurrency             int      `json:"maximumConcurrency,omitempty"` // SQS; 0: not set

	// Streams only.
	StartingPosition           string     `json:"startingPosition,omitempty"`
	StartingPositionTimestamp  *time.Time `json:"startingPositionTimestamp,omitempty"`
	ParallelizationFactor      int        `json:"parallelizationFactor,omitempty"`
	BisectBatchOnFunctionError bool       `json:"bisectBatchOnFunctionError,omitempty"`
	MaximumRetryAttempts       int        `json:"maximumRetryAttempts,omitempty"`      // -1: infinite
	MaximumRecordAgeInSeconds  int        `json:"maximumRecordAgeInSeconds,omitempty"` // -1: infinite
	OnFailure                  string     `json:"onFailure,omitempty"`

	Tags map[string]string `json:"tags,omitempty"`
}

// Stream reports whether the mapping reads a stream by shards (Kinesis or
// DynamoDB).
func (m *MappingConfig) Stream() bool { return !queueKind(m.Kind) }

// queueKind reports whether a source is read as a queue (SQS, NATS): each
// record settled on its own, no shards, positions or retry members.
func queueKind(kind string) bool { return kind == SourceSQS || kind == SourceNATS }

// MappingInput is a Create or Update request. Nil members are not in the
// request: Create takes Lambda's defaults for them, Update keeps them.
type MappingInput struct {
	EventSourceARN             *string // Create only
	FunctionName               *string // a name or an ARN, qualified or not
	Enabled                    *bool
	BatchSize                  *int
	MaximumBatchingWindow      *int // MaximumBatchingWindowInSeconds
	FilterPatterns             *[]string
	FunctionResponseTypes      *[]string
	MaximumConcurrency         *int    // ScalingConfig.MaximumConcurrency; 0 for a ScalingConfig without it (no limit)
	StartingPosition           *string // Create only
	StartingPositionTimestamp  *time.Time
	ParallelizationFactor      *int
	BisectBatchOnFunctionError *bool
	MaximumRetryAttempts       *int
	MaximumRecordAgeInSeconds  *int
	OnSuccess, OnFailure       *string // DestinationConfig's members
	Tags                       map[string]string
}

// EventSourceMapping is a mapping as the pollers run it.
type EventSourceMapping struct {
	UUID, EventSourceARN       string
	FunctionName, Qualifier    string // Qualifier "" when unqualified
	Enabled                    bool   // State Enabled (or Creating/Updating/Enabling towards Enabled)
	BatchSize                  int
	MaximumBatchingWindow      time.Duration
	ReportBatchItemFailures    bool
	MaximumConcurrency         int      // 0: not set
	FilterPatterns             []string // FilterCriteria.Filters[].Pattern, JSON
	StartingPosition           string
	StartingPositionTimestamp  time.Time
	BisectBatchOnFunctionError bool
	MaximumRetryAttempts       int           // -1: infinite (the streams' default)
	MaximumRecordAge           time.Duration // 0: infinite
	OnFailure                  string        // destination ARN
}

// EventSourceMappings returns every mapping that is not being deleted, from memory (no store round trip), sorted by UUID.
func (s *Service) EventSourceMappings() []EventSourceMapping {
	p := s.mappings.Load()
	if p == nil {
		return nil
	}
	out := make([]EventSourceMapping, len(*p))
	copy(out, *p)
	for i := range out {
		out[i].FilterPatterns = append([]string(nil), out[i].FilterPatterns...)
	}
	return out
}

// MappingsChanged returns a channel that is closed at the next change of
// the mappings (or of their states): read EventSourceMappings again then,
// and call MappingsChanged again for the change after.
func (s *Service) MappingsChanged() <-chan struct{} {
	s.mappingsMu.Lock()
	defer s.mappingsMu.Unlock()
	if s.mappingsCh == nil {
		s.mappingsCh = make(chan struct{})
	}
	return s.mappingsCh
}

// publishMappings rebuilds what EventSourceMappings reads and tells the
// waiters of MappingsChanged. Under s.mu (or before the service is shared).
func (s *Service) publishMappings() {
	view := make([]EventSourceMapping, 0, len(s.esms))
	for _, m := range s.esms {
		if m.State == MappingDeleting {
			continue
		}
		v := EventSourceMapping{
			UUID: m.UUID, EventSourceARN: m.EventSourceARN, FunctionName: m.Function, Qualifier: m.Qualifier,
			Enabled:               m.Enabled && m.State != MappingDisabling && m.State != MappingDisabled,
			BatchSize:             m.BatchSize,
			MaximumBatchingWindow: time.Duration(m.MaximumBatchingWindowInSeconds) * time.Second,
			MaximumConcurrency:    m.MaximumConcurrency,
			FilterPatterns:        append([]string(nil), m.FilterPatterns...),
			StartingPosition:      m.StartingPosition, BisectBatchOnFunctionError: m.BisectBatchOnFunctionError,
			MaximumRetryAttempts: -1, OnFailure: m.OnFailure,
		}
		for _, t := range m.FunctionResponseTypes {
			if t == "ReportBatchItemFailures" {
				v.ReportBatchItemFailures = true
			}
		}
		if m.StartingPositionTimestamp != nil {
			v.StartingPositionTimestamp = *m.StartingPositionTimestamp
		}
		if m.Stream() {
			v.MaximumRetryAttempts = m.MaximumRetryAttempts
			if m.MaximumRecordAgeInSeconds > 0 {
				v.MaximumRecordAge = time.Duration(m.MaximumRecordAgeInSeconds) * time.Second
			}
		}
		view = append(view, v)
	}
	sort.Slice(view, func(i, j int) bool { return view[i].UUID < view[j].UUID })
	s.mappings.Store(&view)
	s.mappingsMu.Lock()
	if s.mappingsCh != nil {
		close(s.mappingsCh)
	}
	s.mappingsCh = make(chan struct{})
	s.mappingsMu.Unlock()
}

// MappingARN is the EventSourceMappingArn of a mapping.
func (s *Service) MappingARN(uuid string) string {
	return "arn:aws:lambda:" + s.region + ":" + s.account + ":event-source-mapping:" + uuid
}

func mappingKey(uuid string) string { return "esm." + uuid }

func mappingNotFound() error {
	return awserr.NotFound("The resource you requested does not exist.")
}

// SourceKind tells what an EventSourceArn names: SourceSQS, SourceKinesis,
// SourceDynamoDB or SourceNATS, or an InvalidParameterValueException for a
// source Paddock does not map.
func SourceKind(arn string) (string, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return "", awserr.InvalidParameter("Unrecognized event source.")
	}
	resource := parts[5]
	switch parts[2] {
	case "sqs":
		return SourceSQS, nil
	case "kinesis":
		if strings.Contains(resource, "/consumer/") {
			return "", awserr.InvalidParameter("Kinesis stream consumers (enhanced fan-out) are not supported by Paddock as event sources: map the stream itself.")
		}
		if strings.HasPrefix(resource, "stream/") {
			return SourceKinesis, nil
		}
	case "dynamodb":
		if strings.HasPrefix(resource, "table/") && strings.Contains(resource, "/stream/") {
			return SourceDynamoDB, nil
		}
	case "nats":
		if name, ok := strings.CutPrefix(resource, "stream/"); ok && validStreamName(name) {
			return SourceNATS, nil
		}
		return "", awserr.InvalidParameter("A NATS event source is a JetStream stream: arn:aws:nats:REGION:ACCOUNT:stream/NAME, the name without spaces, '.', '*', '>', '/' or '\\'.")
	case "kafka":
		return "", awserr.InvalidParameter("Amazon MSK event sources are not supported by Paddock: it maps Amazon SQS queues, Kinesis streams, DynamoDB streams and NATS JetStream streams.")
	case "mq":
		return "", awserr.InvalidParameter("Amazon MQ event sources are not supported by Paddock: it maps Amazon SQS queues, Kinesis streams, DynamoDB streams and NATS JetStream streams.")
	case "rds", "docdb":
		return "", awserr.InvalidParameter("Amazon DocumentDB event sources are not supported by Paddock: it maps Amazon SQS queues, Kinesis streams, DynamoDB streams and NATS JetStream streams.")
	}
	return "", awserr.InvalidParameter("Unrecognized event source.")
}

// validStreamName reports whether name is a JetStream stream's name, which
// the server takes only without whitespace, '.', '*', '>' and path
// separators (nats-server's isValidName).
func validStreamName(name string) bool {
	return name != "" && !strings.ContainsAny(name, " \t\r\n.*>/\\")
}

// ValidFilterPattern reports whether p is a filter pattern Lambda takes:
// a JSON object whose members are objects of the same kind or non-empty
// arrays (AWS refuses null, a plain string, {"eventSource":"aws:sqs"} and
// {"eventSource":[]}, as the recorded answers show).
func ValidFilterPattern(p string) bool {
	d := json.NewDecoder(strings.NewReader(p))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return false
	}
	obj, ok := v.(map[string]any)
	return ok && validPatternObject(obj)
}

func validPatternObject(obj map[string]any) bool {
	for _, m := range obj {
		switch x := m.(type) {
		case map[string]any:
			if len(x) == 0 || !validPatternObject(x) {
				return false
			}
		case []any:
			if len(x) == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Ranges of the stream members (the model's).
const (
	maxStreamRetryAttempts = 10000
	maxStreamRecordAge     = 604800
	minStreamRecordAge     = 60 // or -1
)

// validateMappingInput checks a request's stream members against the
// model's constraints (ValidationException, every violation in the
// model's member order).
func validateMappingInput(in MappingInput) error {
	var errs []string
	rng := func(p *int, at string, lo, hi int) {
		if p == nil {
			return
		}
		v := strconv.Itoa(*p)
		switch {
		case *p > hi:
			errs = append(errs, "Value '"+v+"' at '"+at+"' failed to satisfy constraint: Member must have value less than or equal to "+strconv.Itoa(hi))
		case *p < lo:
			errs = append(errs, "Value '"+v+"' at '"+at+"' failed to satisfy constraint: Member must have value greater than or equal to "+strconv.Itoa(lo))
		}
	}
	rng(in.MaximumRecordAgeInSeconds, "maximumRecordAgeInSeconds", -1, maxStreamRecordAge)
	rng(in.MaximumRetryAttempts, "maximumRetryAttempts", -1, maxStreamRetryAttempts)
	for _, d := range []struct {
		at  string
		arn *string
	}{{"destinationConfig.onSuccess.destination", in.OnSuccess}, {"destinationConfig.onFailure.destination", in.OnFailure}} {
		if d.arn == nil {
			continue
		}
		if utf16Length(*d.arn) > maxDestinationLen {
			errs = append(errs, "Value '"+*d.arn+"' at '"+d.at+"' failed to satisfy constraint: Member must have length less than or equal to "+strconv.Itoa(maxDestinationLen))
		}
		if !destinationRE.MatchString(*d.arn) {
			errs = append(errs, "Value '"+*d.arn+"' at '"+d.at+"' failed to satisfy constraint: Member must satisfy regular expression pattern: "+destinationPattern)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	count := "1 validation error"
	if len(errs) > 1 {
		count = strconv.Itoa(len(errs)) + " validation errors"
	}
	return awserr.Validation("%s detected: %s", count, strings.Join(errs, "; "))
}

func unsupportedFor(member string) error {
	return awserr.InvalidParameter("Unsupported %s parameter for given event source mapping type.", member)
}

// checkMapping applies Lambda's rules of m's kind to a whole mapping (a
// new one, or an existing one with an update's members applied); in is
// the request, to tell what it set.
func checkMapping(m *MappingConfig, in MappingInput) error {
	if queueKind(m.Kind) {
		if in.StartingPosition != nil || in.StartingPositionTimestamp != nil {
			return awserr.InvalidParameter("StartingPosition is not valid for %s event sources.", strings.ToUpper(m.Kind))
		}
		if in.OnFailure != nil && *in.OnFailure != "" {
			return unsupportedFor("DestinationConfig")
		}
		for _, p := range []struct {
			name string
			set  bool
		}{
			{"ParallelizationFactor", in.ParallelizationFactor != nil},
			{"BisectBatchOnFunctionError", in.BisectBatchOnFunctionError != nil && *in.BisectBatchOnFunctionError},
			{"MaximumRetryAttempts", in.MaximumRetryAttempts != nil},
			{"MaximumRecordAgeInSeconds", in.MaximumRecordAgeInSeconds != nil},
		} {
			if p.set {
				return unsupportedFor(p.name)
			}
		}
		if m.BatchSize > maxSQSBatchNoWindow && m.MaximumBatchingWindowInSeconds == 0 {
			return awserr.InvalidParameter("Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
		}
	} else {
		if in.MaximumConcurrency != nil && *in.MaximumConcurrency != 0 {
			return unsupportedFor("ScalingConfig")
		}
		if a := in.MaximumRecordAgeInSeconds; a != nil && *a != -1 && *a < minStreamRecordAge {
			return awserr.InvalidParameter("MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)")
		}
		if d := m.OnFailure; d != "" && !strings.HasPrefix(d, "arn:aws:sqs:") && !strings.HasPrefix(d, "arn:aws:sns:") {
			return awserr.InvalidParameter("Paddock sends the on-failure records of stream event source mappings to Amazon SQS queues and Amazon SNS topics only: %s", d)
		}
		if m.StartingPosition == "" {
			return awserr.InvalidParameter("1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null.")
		}
		if m.StartingPosition == "AT_TIMESTAMP" {
			if m.Kind == SourceDynamoDB {
				return awserr.InvalidParameter("Unsupported starting position for arn type: %s", m.EventSourceARN)
			}
			if m.StartingPositionTimestamp == nil {
				return awserr.InvalidParameter("Need to specify a timestamp")
			}
		}
	}
	for _, p := range m.FilterPatterns {
		if !ValidFilterPattern(p) {
			return awserr.InvalidParameter("Invalid filter pattern definition.")
		}
	}
	return nil
}

// mappingFunction resolves a FunctionName of a mapping to the function
// and the qualifier it names, which must exist. Under s.mu.
func (s *Service) mappingFunction(functionName string) (name, qualifier string, err error) {
	name, qualifier, err = ParseFunctionName(functionName)
	if err != nil {
		return "", "", err
	}
	notFound := awserr.InvalidParameter("Function does not exist")
	f := s.fns[name]
	if f == nil {
		return "", "", notFound
	}
	if qualifier != "" && qualifier != Latest {
		if _, err := s.configAt(f, qualifier); err != nil {
			return "", "", notFound
		}
	}
	return name, qualifier, nil
}

// mappingConflict is AWS's answer to a second mapping of one source to one
// function (and qualifier). Under s.mu.
func (s *Service) mappingConflict(m *MappingConfig) error {
	for _, o := range s.esms {
		if o.UUID == m.UUID || o.State == MappingDeleting || o.EventSourceARN != m.EventSourceARN ||
			o.Function != m.Function || o.Qualifier != m.Qualifier {
			continue
		}
		if m.Kind == SourceSQS {
			return awserr.Conflict(`An event source mapping with SQS arn (" %s ") and function (" %s ") already exists. Please update or delete the existing mapping with UUID %s`,
				o.EventSourceARN, m.Function, o.UUID)
		}
		return awserr.Conflict(`The event source arn (" %s ") and function (" %s ") provided mapping already exists. Please update or delete the existing mapping with UUID %s`,
			o.EventSourceARN, m.Function, o.UUID)
	}
	return nil
}

// applyMappingInput sets the members in has onto m.
func applyMappingInput(m *MappingConfig, in MappingInput) {
	if in.BatchSize != nil {
		m.BatchSize = *in.BatchSize
	}
	if in.MaximumBatchingWindow != nil {
		m.MaximumBatchingWindowInSeconds = *in.MaximumBatchingWindow
	}
	if in.FilterPatterns != nil {
		m.FilterPatterns = append([]string(nil), (*in.FilterPatterns)...)
		if len(m.FilterPatterns) == 0 {
			m.FilterPatterns = nil
		}
	}
	if in.FunctionResponseTypes != nil {
		m.FunctionResponseTypes = append([]string(nil), (*in.FunctionResponseTypes)...)
		if len(m.FunctionResponseTypes) == 0 {
			m.FunctionResponseTypes = nil
		}
	}
	if in.MaximumConcurrency != nil {
		m.MaximumConcurrency = *in.MaximumConcurrency
	}
	if in.StartingPosition != nil {
		m.StartingPosition = *in.StartingPosition
	}
	if in.StartingPositionTimestamp != nil {
		t := in.StartingPositionTimestamp.UTC()
		m.StartingPositionTimestamp = &t
	}
	if m.Stream() {
		if in.ParallelizationFactor != nil {
			m.ParallelizationFactor = *in.ParallelizationFactor
		}
		if in.BisectBatchOnFunctionError != nil {
			m.BisectBatchOnFunctionError = *in.BisectBatchOnFunctionError
		}
		if in.MaximumRetryAttempts != nil {
			m.MaximumRetryAttempts = *in.MaximumRetryAttempts
		}
		if in.MaximumRecordAgeInSeconds != nil {
			m.MaximumRecordAgeInSeconds = *in.MaximumRecordAgeInSeconds
		}
		if in.OnFailure != nil {
			m.OnFailure = *in.OnFailure
		}
	}
}

func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// CreateEventSourceMapping creates a mapping; it answers State Creating
// (Disabled when Enabled is false) and Settle enables it.
func (s *Service) CreateEventSourceMapping(ctx context.Context, in MappingInput) (*MappingConfig, error) {
	if err := validateMappingInput(in); err != nil {
		return nil, err
	}
	if in.OnSuccess != nil && *in.OnSuccess != "" {
		return nil, unsupportedFor("DestinationConfig")
	}
	if in.EventSourceARN == nil || *in.EventSourceARN == "" {
		return nil, awserr.InvalidParameter("Unrecognized event source.")
	}
	kind, err := SourceKind(*in.EventSourceARN)
	if err != nil {
		return nil, err
	}
	m := &MappingConfig{EventSourceARN: *in.EventSourceARN, Kind: kind, Enabled: true, State: MappingCreating,
		StateTransitionReason: "USER_INITIATED", BatchSize: defaultSQSBatchSize}
	if !queueKind(kind) {
		m.StateTransitionReason = "User action"
		m.BatchSize, m.ParallelizationFactor, m.MaximumRetryAttempts, m.MaximumRecordAgeInSeconds = defaultStreamBatchSize, 1, -1, -1
	}
	if in.Enabled != nil && !*in.Enabled {
		m.Enabled, m.State = false, MappingDisabled
	}
	applyMappingInput(m, in)
	if err := checkMapping(m, in); err != nil {
		return nil, err
	}
	if len(in.Tags) > 0 {
		m.Tags = make(map[string]string, len(in.Tags))
		for k, v := range in.Tags {
			m.Tags[k] = v
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fn := ""
	if in.FunctionName != nil {
		fn = *in.FunctionName
	}
	if m.Function, m.Qualifier, err = s.mappingFunction(fn); err != nil {
		return nil, err
	}
	if err := s.mappingConflict(m); err != nil {
		return nil, err
	}
	m.UUID = newUUID()
	m.LastModified = now().Truncate(time.Millisecond)
	if err := s.storeMapping(ctx, m); err != nil {
		return nil, err
	}
	out := *m
	return &out, nil
}

// storeMapping writes m and makes it the one in memory. Under s.mu.
func (s *Service) storeMapping(ctx context.Context, m *MappingConfig) error {
	if err := s.put(ctx, mappingKey(m.UUID), m); err != nil {
		return err
	}
	if s.esms == nil {
		s.esms = map[string]*MappingConfig{}
	}
	s.esms[m.UUID] = m
	s.publishMappings()
	s.kickSettle()
	return nil
}

// GetEventSourceMapping returns the mapping uuid names.
func (s *Service) GetEventSourceMapping(uuid string) (*MappingConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.esms[uuid]
	if m == nil {
		return nil, mappingNotFound()
	}
	out := *m
	return &out, nil
}

// UpdateEventSourceMapping changes the members in has and keeps the
// others. It answers State Enabling or Disabling when Enabled flips it,
// Updating otherwise.
func (s *Service) UpdateEventSourceMapping(ctx context.Context, uuid string, in MappingInput) (*MappingConfig, error) {
	if err := validateMappingInput(in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.esms[uuid]
	if cur == nil {
		return nil, mappingNotFound()
	}
	if in.OnSuccess != nil && *in.OnSuccess != "" {
		return nil, unsupportedFor("DestinationConfig")
	}
	if cur.State == MappingDeleting {
		return nil, &awserr.Error{Code: "ResourceInUseException", Status: 400, Type: "User",
			Message: "Cannot update the event source mapping " + uuid + ": it is being deleted."}
	}
	m := *cur
	m.FilterPatterns = append([]string(nil), cur.FilterPatterns...)
	m.FunctionResponseTypes = append([]string(nil), cur.FunctionResponseTypes...)
	applyMappingInput(&m, in)
	if err := checkMapping(&m, in); err != nil {
		return nil, err
	}
	if in.FunctionName != nil {
		var err error
		if m.Function, m.Qualifier, err = s.mappingFunction(*in.FunctionName); err != nil {
			return nil, err
		}
		if err := s.mappingConflict(&m); err != nil {
			return nil, err
		}
	}
	wasEnabled := cur.Enabled
	if in.Enabled != nil {
		m.Enabled = *in.Enabled
	}
	switch {
	case m.Enabled && !wasEnabled:
		m.State = MappingEnabling
	case !m.Enabled && wasEnabled:
		m.State = MappingDisabling
	default:
		m.State = MappingUpdating
	}
	m.LastModified = now().Truncate(time.Millisecond)
	if err := s.storeMapping(ctx, &m); err != nil {
		return nil, err
	}
	out := m
	return &out, nil
}

// DeleteEventSourceMapping answers the mapping in State Deleting; Settle
// removes it.
func (s *Service) DeleteEventSourceMapping(ctx context.Context, uuid string) (*MappingConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.esms[uuid]
	if cur == nil {
		return nil, mappingNotFound()
	}
	m := *cur
	m.State = MappingDeleting
	if err := s.storeMapping(ctx, &m); err != nil {
		return nil, err
	}
	out := m
	return &out, nil
}

// ListEventSourceMappings pages through the mappings in the order of their
// UUID, of one source and one function when asked. A function is named as
// in FunctionName: unqualified, it selects the function's mappings of any
// qualifier; qualified, those of that qualifier. A function or a source
// that does not exist selects nothing (AWS answers an empty list, as
// LocalStack's test_event_source_mapping_exceptions runs against AWS).
func (s *Service) ListEventSourceMappings(eventSourceARN, functionName, marker string, max int) ([]MappingConfig, string, error) {
	name, qualifier := "", ""
	if functionName != "" {
		var err error
		if name, qualifier, err = ParseFunctionName(functionName); err != nil {
			return nil, "", err
		}
	}
	s.mu.Lock()
	out := make([]MappingConfig, 0, len(s.esms))
	for _, m := range s.esms {
		if eventSourceARN != "" && m.EventSourceARN != eventSourceARN {
			continue
		}
		if name != "" && (m.Function != name || qualifier != "" && m.Qualifier != qualifier) {
			continue
		}
		out = append(out, *m)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].UUID < out[j].UUID })
	return page(out, marker, max, MaxMappingPage, func(m MappingConfig) string { return m.UUID })
}

// loadEventSourceMappings reads the esm.* records. Called from load; the
// map is replaced only when every record reads.
func (s *Service) loadEventSourceMappings(entries []store.Entry) error {
	esms := map[string]*MappingConfig{}
	for _, e := range entries {
		if !strings.HasPrefix(e.Key, "esm.") {
			continue
		}
		var m MappingConfig
		if err := json.Unmarshal(e.Value, &m); err != nil {
			return fmt.Errorf("load %s: %w", e.Key, err)
		}
		esms[m.UUID] = &m
	}
	s.esms = esms
	s.publishMappings()
	return nil
}

// settleMappings moves the mappings in a passing state to the one they
// head for (Enabled or Disabled), and removes the ones being deleted. It
// reports whether it changed anything.
func (s *Service) settleMappings(ctx context.Context) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for uuid, m := range s.esms {
		switch m.State {
		case MappingEnabled, MappingDisabled:
			continue
		case MappingDeleting:
			if err := s.del(ctx, mappingKey(uuid)); err != nil {
				return changed
			}
			delete(s.esms, uuid)
		default:
			next := *m
			next.State = MappingDisabled
			if next.Enabled {
				next.State = MappingEnabled
			}
			next.LastModified = now().Truncate(time.Millisecond)
			if err := s.put(ctx, mappingKey(uuid), &next); err != nil {
				return changed
			}
			s.esms[uuid] = &next
		}
		changed = true
	}
	if changed {
		s.publishMappings()
	}
	return changed
}
