package control

import (
	"context"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/store"
)

func strp(s string) *string { return &s }
func boolp(b bool) *bool    { return &b }

const natsARNText = "A NATS event source is a JetStream stream: arn:aws:nats:REGION:ACCOUNT:stream/NAME, the name without spaces, '.', '*', '>', '/' or '\\'."

func TestSourceKind(t *testing.T) {
	for _, tc := range []struct {
		arn, kind, msg string // msg: the InvalidParameterValueException's text, for a refusal
	}{
		{"arn:aws:sqs:us-east-1:000000000000:q", SourceSQS, ""},
		{"arn:aws:sqs:us-east-1:000000000000:q.fifo", SourceSQS, ""},
		{"arn:aws:kinesis:us-east-1:000000000000:stream/s", SourceKinesis, ""},
		{"arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2025-02-22T03:03:25.490", SourceDynamoDB, ""},
		{"arn:aws:nats:us-east-1:000000000000:stream/ORDERS", SourceNATS, ""},
		{"arn:aws:nats:us-east-1:000000000000:stream/orders-eu_1", SourceNATS, ""},
		{"arn:aws:nats:us-east-1:000000000000:stream/a.b", "", natsARNText},
		{"arn:aws:nats:us-east-1:000000000000:stream/", "", natsARNText},
		{"arn:aws:nats:us-east-1:000000000000:ORDERS", "", natsARNText},
		{"arn:aws:nats:us-east-1:000000000000:stream/a>", "", natsARNText},
		{"arn:aws:dynamodb:us-east-1:000000000000:table/t", "", "Unrecognized event source."},
		{"arn:aws:s3:::bucket", "", "Unrecognized event source."},
		{"sqs", "", "Unrecognized event source."},
		{"arn:aws:kafka:us-east-1:000000000000:cluster/c/abc", "", "Amazon MSK event sources are not supported by Paddock: it maps Amazon SQS queues, Kinesis streams, DynamoDB streams and NATS JetStream streams."},
		{"arn:aws:mq:us-east-1:000000000000:broker:b:id", "", "Amazon MQ event sources are not supported by Paddock: it maps Amazon SQS queues, Kinesis streams, DynamoDB streams and NATS JetStream streams."},
		{"arn:aws:rds:us-east-1:000000000000:cluster:docdb", "", "Amazon DocumentDB event sources are not supported by Paddock: it maps Amazon SQS queues, Kinesis streams, DynamoDB streams and NATS JetStream streams."},
		{"arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c:1", "", "Kinesis stream consumers (enhanced fan-out) are not supported by Paddock as event sources: map the stream itself."},
	} {
		kind, err := SourceKind(tc.arn)
		if tc.msg == "" {
			if err != nil || kind != tc.kind {
				t.Errorf("%s: %q %v, want %q", tc.arn, kind, err, tc.kind)
			}
			continue
		}
		wantErr(t, tc.arn, err, "InvalidParameterValueException", tc.msg)
	}
}

// The patterns AWS refused in LocalStack's recorded tests
// (test_sqs_invalid_event_filter, test_dynamodb_invalid_event_filter) and
// ones it took (test_sqs_event_filter).
func TestValidFilterPattern(t *testing.T) {
	for _, tc := range []struct {
		p  string
		ok bool
	}{
		{`{"body":{"testItem":["test24"]}}`, true},
		{`{"eventName":["INSERT"]}`, true},
		{`{"data":{"event_type":["function_1"]}}`, true},
		{`{"body":{"n":[{"numeric":[">",5]}]}}`, true},
		{`null`, false},
		{`simple string`, false},
		{`"simple string"`, false},
		{`{"eventSource":"aws:sqs"}`, false},
		{`{"eventSource":[]}`, false},
		{`[{"eventName": ["INSERT"=123}]`, false},
		{`{"a":["x"]} {"b":["y"]}`, false},
		{``, false},
	} {
		if got := ValidFilterPattern(tc.p); got != tc.ok {
			t.Errorf("ValidFilterPattern(%q) = %v, want %v", tc.p, got, tc.ok)
		}
	}
}

// Lambda's rules per kind of source, applied to the whole mapping (the
// defaults and an update's merge included).
func TestCheckMapping(t *testing.T) {
	const queue, stream, table = "arn:aws:sqs:us-east-1:000000000000:q", "arn:aws:kinesis:us-east-1:000000000000:stream/s", "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x"
	const nats = "arn:aws:nats:us-east-1:000000000000:stream/ORDERS"
	sqs := func(batch, window int) *MappingConfig {
		return &MappingConfig{Kind: SourceSQS, EventSourceARN: queue, BatchSize: batch, MaximumBatchingWindowInSeconds: window}
	}
	kin := func(kind, arn, pos string) *MappingConfig {
		return &MappingConfig{Kind: kind, EventSourceARN: arn, BatchSize: 100, StartingPosition: pos, MaximumRetryAttempts: -1, MaximumRecordAgeInSeconds: -1}
	}
	ts := time.Unix(1741010802, 0)
	for _, tc := range []struct {
		name string
		m    *MappingConfig
		in   MappingInput
		msg  string // "" for accepted
	}{
		{"SQS defaults", sqs(10, 0), MappingInput{}, ""},
		{"SQS batch 11 without a window", sqs(11, 0), MappingInput{},
			"Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"},
		{"SQS batch 10000 with a window", sqs(10000, 1), MappingInput{}, ""},
		{"SQS with a starting position", sqs(10, 0), MappingInput{StartingPosition: strp("LATEST")}, "StartingPosition is not valid for SQS event sources."},
		{"SQS with an on-failure destination", sqs(10, 0), MappingInput{OnFailure: strp(queue + "2")},
			"Unsupported DestinationConfig parameter for given event source mapping type."},
		{"SQS with an empty DestinationConfig", sqs(10, 0), MappingInput{OnFailure: strp(""), OnSuccess: strp("")}, ""},
		{"SQS with a parallelization factor", sqs(10, 0), MappingInput{ParallelizationFactor: intp(2)},
			"Unsupported ParallelizationFactor parameter for given event source mapping type."},
		{"SQS with retries", sqs(10, 0), MappingInput{MaximumRetryAttempts: intp(2)},
			"Unsupported MaximumRetryAttempts parameter for given event source mapping type."},
		{"SQS with bisect false", sqs(10, 0), MappingInput{BisectBatchOnFunctionError: boolp(false)}, ""},
		{"SQS with a maximum concurrency", sqs(10, 0), MappingInput{MaximumConcurrency: intp(5)}, ""},
		{"SQS with an invalid filter", &MappingConfig{Kind: SourceSQS, EventSourceARN: queue, BatchSize: 10, FilterPatterns: []string{`{"a":["b"]}`, `{"eventSource":"aws:sqs"}`}},
			MappingInput{}, "Invalid filter pattern definition."},
		{"NATS defaults", &MappingConfig{Kind: SourceNATS, EventSourceARN: nats, BatchSize: 10}, MappingInput{}, ""},
		{"NATS with a starting position", &MappingConfig{Kind: SourceNATS, EventSourceARN: nats, BatchSize: 10}, MappingInput{StartingPosition: strp("LATEST")},
			"StartingPosition is not valid for NATS event sources."},
		{"NATS with retries", &MappingConfig{Kind: SourceNATS, EventSourceARN: nats, BatchSize: 10}, MappingInput{MaximumRetryAttempts: intp(2)},
			"Unsupported MaximumRetryAttempts parameter for given event source mapping type."},
		{"NATS batch 100 without a window", &MappingConfig{Kind: SourceNATS, EventSourceARN: nats, BatchSize: 100}, MappingInput{},
			"Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"},
		{"NATS with a maximum concurrency", &MappingConfig{Kind: SourceNATS, EventSourceARN: nats, BatchSize: 10}, MappingInput{MaximumConcurrency: intp(3)}, ""},
		{"Kinesis without a starting position", kin(SourceKinesis, stream, ""), MappingInput{},
			"1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null."},
		{"DynamoDB without a starting position", kin(SourceDynamoDB, table, ""), MappingInput{},
			"1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null."},
		{"Kinesis TRIM_HORIZON", kin(SourceKinesis, stream, "TRIM_HORIZON"), MappingInput{}, ""},
		{"Kinesis AT_TIMESTAMP without a timestamp", kin(SourceKinesis, stream, "AT_TIMESTAMP"), MappingInput{}, "Need to specify a timestamp"},
		{"Kinesis AT_TIMESTAMP", &MappingConfig{Kind: SourceKinesis, EventSourceARN: stream, BatchSize: 100, StartingPosition: "AT_TIMESTAMP", StartingPositionTimestamp: &ts}, MappingInput{}, ""},
		{"DynamoDB AT_TIMESTAMP", kin(SourceDynamoDB, table, "AT_TIMESTAMP"), MappingInput{},
			"Unsupported starting position for arn type: " + table},
		{"DynamoDB batch 10000 without a window", &MappingConfig{Kind: SourceDynamoDB, EventSourceARN: table, BatchSize: 10000, StartingPosition: "LATEST"}, MappingInput{}, ""},
		{"Kinesis with a maximum concurrency", kin(SourceKinesis, stream, "LATEST"), MappingInput{MaximumConcurrency: intp(5)},
			"Unsupported ScalingConfig parameter for given event source mapping type."},
		{"Kinesis with an empty ScalingConfig", kin(SourceKinesis, stream, "LATEST"), MappingInput{MaximumConcurrency: intp(0)}, ""},
		{"DynamoDB with bisect, retries, age and an SQS destination", &MappingConfig{Kind: SourceDynamoDB, EventSourceARN: table, BatchSize: 100, StartingPosition: "TRIM_HORIZON",
			BisectBatchOnFunctionError: true, MaximumRetryAttempts: 2, MaximumRecordAgeInSeconds: 60, OnFailure: queue}, MappingInput{}, ""},
		{"Kinesis with an SNS destination", &MappingConfig{Kind: SourceKinesis, EventSourceARN: stream, BatchSize: 100, StartingPosition: "LATEST",
			MaximumRetryAttempts: -1, MaximumRecordAgeInSeconds: 604800, OnFailure: "arn:aws:sns:us-east-1:000000000000:t"}, MappingInput{}, ""},
		{"Kinesis with a record age of 59", &MappingConfig{Kind: SourceKinesis, EventSourceARN: stream, BatchSize: 100, StartingPosition: "LATEST", MaximumRecordAgeInSeconds: 59}, MappingInput{MaximumRecordAgeInSeconds: intp(59)},
			"MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)"},
		{"DynamoDB with a record age of 0", &MappingConfig{Kind: SourceDynamoDB, EventSourceARN: table, BatchSize: 100, StartingPosition: "LATEST"}, MappingInput{MaximumRecordAgeInSeconds: intp(0)},
			"MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)"},
		{"DynamoDB with a function as its destination", &MappingConfig{Kind: SourceDynamoDB, EventSourceARN: table, BatchSize: 100, StartingPosition: "LATEST", MaximumRecordAgeInSeconds: -1,
			OnFailure: "arn:aws:lambda:us-east-1:000000000000:function:f"}, MappingInput{},
			"Paddock sends the on-failure records of stream event source mappings to Amazon SQS queues and Amazon SNS topics only: arn:aws:lambda:us-east-1:000000000000:function:f"},
	} {
		err := checkMapping(tc.m, tc.in)
		if tc.msg == "" {
			if err != nil {
				t.Errorf("%s: %v, want accepted", tc.name, err)
			}
			continue
		}
		wantErr(t, tc.name, err, "InvalidParameterValueException", tc.msg)
	}
}

// The model's ranges of the stream members, in its ValidationException's
// words.
func TestValidateMappingInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   MappingInput
		msg  string
	}{
		{"in range", MappingInput{MaximumRetryAttempts: intp(10000), MaximumRecordAgeInSeconds: intp(-1), OnFailure: strp("arn:aws:sqs:us-east-1:000000000000:q")}, ""},
		{"an empty destination", MappingInput{OnFailure: strp("")}, ""},
		{"retries", MappingInput{MaximumRetryAttempts: intp(10001)},
			"1 validation error detected: Value '10001' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 10000"},
		{"negative retries", MappingInput{MaximumRetryAttempts: intp(-2)},
			"1 validation error detected: Value '-2' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value greater than or equal to -1"},
		{"age and retries", MappingInput{MaximumRecordAgeInSeconds: intp(604801), MaximumRetryAttempts: intp(-2)},
			"2 validation errors detected: Value '604801' at 'maximumRecordAgeInSeconds' failed to satisfy constraint: Member must have value less than or equal to 604800; " +
				"Value '-2' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value greater than or equal to -1"},
		{"not an ARN", MappingInput{OnFailure: strp("queue")},
			"1 validation error detected: Value 'queue' at 'destinationConfig.onFailure.destination' failed to satisfy constraint: Member must satisfy regular expression pattern: " + destinationPattern},
	} {
		err := validateMappingInput(tc.in)
		if tc.msg == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		wantErr(t, tc.name, err, "ValidationException", tc.msg)
	}
}

// TestEventSourceMappingLifecycle: defaults per source, the states from
// Creating to Enabled (Settle), Update's states and merge, the errors of
// unknown UUIDs, missing functions and duplicates, what the pollers read
// and the change signal, a restart, and Delete through Deleting. Deleting
// the function keeps the mapping, as AWS does.
func TestEventSourceMappingLifecycle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, s := openWithFunctions(t, dir, "f", "g")
	defer func() { st.Close() }()
	var err error
	if _, err := s.PublishVersion(ctx, "f", PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	const queue, stream = "arn:aws:sqs:us-east-1:000000000000:q", "arn:aws:kinesis:us-east-1:000000000000:stream/s"

	_, err = s.CreateEventSourceMapping(ctx, MappingInput{FunctionName: strp("ghost")})
	wantErr(t, "Create without a source", err, "InvalidParameterValueException", "Unrecognized event source.")
	_, err = s.CreateEventSourceMapping(ctx, MappingInput{FunctionName: strp("ghost"), EventSourceARN: strp(queue)})
	wantErr(t, "Create for a missing function", err, "InvalidParameterValueException", "Function does not exist")
	_, err = s.CreateEventSourceMapping(ctx, MappingInput{FunctionName: strp("f:7"), EventSourceARN: strp(queue)})
	wantErr(t, "Create for a missing version", err, "InvalidParameterValueException", "Function does not exist")
	_, err = s.CreateEventSourceMapping(ctx, MappingInput{FunctionName: strp("ghost"), EventSourceARN: strp(queue), OnSuccess: strp(queue + "2")})
	wantErr(t, "Create with OnSuccess", err, "InvalidParameterValueException", "Unsupported DestinationConfig parameter for given event source mapping type.")
	_, err = s.GetEventSourceMapping("00000000-0000-4000-8000-000000000000")
	wantErr(t, "Get of an unknown UUID", err, "ResourceNotFoundException", "The resource you requested does not exist.")
	_, err = s.UpdateEventSourceMapping(ctx, "nope", MappingInput{Enabled: boolp(false)})
	wantErr(t, "Update of an unknown UUID", err, "ResourceNotFoundException", "The resource you requested does not exist.")
	_, err = s.DeleteEventSourceMapping(ctx, "nope")
	wantErr(t, "Delete of an unknown UUID", err, "ResourceNotFoundException", "The resource you requested does not exist.")

	changed := s.MappingsChanged()
	q, err := s.CreateEventSourceMapping(ctx, MappingInput{FunctionName: strp("f"), EventSourceARN: strp(queue),
		FilterPatterns: &[]string{`{"body":{"a":["b"]}}`}, FunctionResponseTypes: &[]string{"ReportBatchItemFailures"}, MaximumConcurrency: intp(5)})
	if err != nil {
		t.Fatal(err)
	}
	if q.State != MappingCreating || q.StateTransitionReason != "USER_INITIATED" || q.BatchSize != 10 || q.MaximumBatchingWindowInSeconds != 0 ||
		q.Function != "f" || q.Qualifier != "" || len(q.UUID) != 36 || q.UUID[14] != '4' {
		t.Fatalf("SQS mapping: %+v", q)
	}
	select {
	case <-changed:
	default:
		t.Fatal("MappingsChanged not closed by a create")
	}
	_, err = s.CreateEventSourceMapping(ctx, MappingInput{FunctionName: strp("f"), EventSourceARN: strp(queue)})
	wantErr(t, "a second mapping of the queue", err, "ResourceConflictException",
		`An event source mapping with SQS arn (" `+queue+` ") and function (" f ") already exists. Please update or delete the existing mapping with UUID `+q.UUID)
	k, err := s.CreateEventSourceMapping(ctx, MappingInput{FunctionName: strp("arn:aws:lambda:us-east-1:000000000000:function:f:1"), EventSourceARN: strp(stream),
		StartingPosition: strp("TRIM_HORIZON"), Enabled: boolp(false)})
	if err != nil {
		t.Fatal(err)
	}
	if k.State != MappingDisabled || k.StateTransitionReason != "User action" || k.BatchSize != 100 || k.ParallelizationFactor != 1 ||
		k.MaximumRetryAttempts != -1 || k.MaximumRecordAgeInSeconds != -1 || k.Qualifier != "1" {
		t.Fatalf("Kinesis mapping: %+v", k)
	}
	_, err = s.CreateEventSourceMapping(ctx, MappingInput{FunctionName: strp("f:1"), EventSourceARN: strp(stream), StartingPosition: strp("LATEST")})
	wantErr(t, "a second mapping of the stream", err, "ResourceConflictException",
		`The event source arn (" `+stream+` ") and function (" f ") provided mapping already exists. Please update or delete the existing mapping with UUID `+k.UUID)
	if _, err := s.CreateEventSourceMapping(ctx, MappingInput{FunctionName: strp("g"), EventSourceARN: strp(stream), StartingPosition: strp("LATEST")}); err != nil {
		t.Fatalf("the stream to another function: %v", err)
	}

	// The pollers see the mappings at once, Creating counting as enabled.
	byUUID := func() map[string]EventSourceMapping {
		out := map[string]EventSourceMapping{}
		for _, m := range s.EventSourceMappings() {
			out[m.UUID] = m
		}
		return out
	}
	v := byUUID()
	if m := v[q.UUID]; !m.Enabled || m.BatchSize != 10 || !m.ReportBatchItemFailures || m.MaximumConcurrency != 5 || len(m.FilterPatterns) != 1 || m.FunctionName != "f" {
		t.Fatalf("the pollers' SQS mapping: %+v", m)
	}
	if m := v[k.UUID]; m.Enabled || m.MaximumRetryAttempts != -1 || m.MaximumRecordAge != 0 || m.StartingPosition != "TRIM_HORIZON" || m.Qualifier != "1" {
		t.Fatalf("the pollers' Kinesis mapping: %+v", m)
	}
	if len(v) != 3 {
		t.Fatalf("%d mappings, want 3", len(v))
	}

	s.settleOnce(ctx)
	if g, _ := s.GetEventSourceMapping(q.UUID); g.State != MappingEnabled {
		t.Fatalf("after Settle: %s, want Enabled", g.State)
	}
	if g, _ := s.GetEventSourceMapping(k.UUID); g.State != MappingDisabled {
		t.Fatalf("disabled after Settle: %s, want Disabled", g.State)
	}

	// Update: the merged mapping is checked; states.
	_, err = s.UpdateEventSourceMapping(ctx, q.UUID, MappingInput{BatchSize: intp(20)})
	wantErr(t, "Update to 20 without a window", err, "InvalidParameterValueException",
		"Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
	u, err := s.UpdateEventSourceMapping(ctx, q.UUID, MappingInput{BatchSize: intp(20), MaximumBatchingWindow: intp(2), FunctionName: strp("g")})
	if err != nil {
		t.Fatal(err)
	}
	if u.State != MappingUpdating || u.BatchSize != 20 || u.Function != "g" || u.MaximumConcurrency != 5 || len(u.FunctionResponseTypes) != 1 {
		t.Fatalf("Update: %+v", u)
	}
	if u, err = s.UpdateEventSourceMapping(ctx, q.UUID, MappingInput{Enabled: boolp(false)}); err != nil || u.State != MappingDisabling {
		t.Fatalf("Update disabling: %+v %v", u, err)
	}
	if m := byUUID()[q.UUID]; m.Enabled {
		t.Fatalf("the pollers' view of a Disabling mapping: %+v", m)
	}
	if u, err = s.UpdateEventSourceMapping(ctx, k.UUID, MappingInput{Enabled: boolp(true), MaximumRetryAttempts: intp(3), OnFailure: strp(queue + "-dlq")}); err != nil || u.State != MappingEnabling {
		t.Fatalf("Update enabling: %+v %v", u, err)
	}
	if m := byUUID()[k.UUID]; !m.Enabled || m.MaximumRetryAttempts != 3 || m.OnFailure != queue+"-dlq" {
		t.Fatalf("the pollers' view of an Enabling mapping: %+v", m)
	}
	s.settleOnce(ctx)

	// Deleting the function keeps its mappings (as AWS).
	if _, err := s.DeleteFunction(ctx, "g", ""); err != nil {
		t.Fatal(err)
	}
	if g, err := s.GetEventSourceMapping(q.UUID); err != nil || g.Function != "g" || g.State != MappingDisabled {
		t.Fatalf("mapping after its function's deletion: %+v %v", g, err)
	}

	// A restart keeps them.
	st.Close()
	if st, err = store.OpenEmbedded(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(ctx, st, Options{}); err != nil {
		t.Fatal(err)
	}
	if g, err := s.GetEventSourceMapping(k.UUID); err != nil || g.State != MappingEnabled || g.MaximumRetryAttempts != 3 || g.StartingPosition != "TRIM_HORIZON" {
		t.Fatalf("after a restart: %+v %v", g, err)
	}
	all, next, err := s.ListEventSourceMappings("", "", "", 2)
	if err != nil || len(all) != 2 || next != all[1].UUID {
		t.Fatalf("List page of 2: %d %q %v", len(all), next, err)
	}
	rest, next, _ := s.ListEventSourceMappings("", "", next, 2)
	if len(rest) != 1 || next != "" || rest[0].UUID <= all[1].UUID {
		t.Fatalf("List second page: %+v %q", rest, next)
	}
	if l, _, _ := s.ListEventSourceMappings(stream, "", "", 0); len(l) != 2 {
		t.Fatalf("List by source: %d, want 2", len(l))
	}
	if l, _, _ := s.ListEventSourceMappings("", "f", "", 0); len(l) != 1 || l[0].UUID != k.UUID {
		t.Fatalf("List by function f: %+v", l)
	}
	if l, _, _ := s.ListEventSourceMappings("", "f:2", "", 0); len(l) != 0 {
		t.Fatalf("List by f:2: %+v", l)
	}
	if l, _, err := s.ListEventSourceMappings("", "doesnotexist", "", 0); err != nil || len(l) != 0 {
		t.Fatalf("List by a missing function: %+v %v", l, err)
	}

	d, err := s.DeleteEventSourceMapping(ctx, k.UUID)
	if err != nil || d.State != MappingDeleting {
		t.Fatalf("Delete: %+v %v", d, err)
	}
	if _, ok := byUUID()[k.UUID]; ok {
		t.Fatal("the pollers still see a mapping being deleted")
	}
	if g, err := s.GetEventSourceMapping(k.UUID); err != nil || g.State != MappingDeleting {
		t.Fatalf("Get while deleting: %+v %v", g, err)
	}
	s.settleOnce(ctx)
	_, err = s.GetEventSourceMapping(k.UUID)
	wantErr(t, "Get after the delete", err, "ResourceNotFoundException", "The resource you requested does not exist.")
}
