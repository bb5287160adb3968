package e2e

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// TestEventSourceMappings drives CreateEventSourceMapping,
// GetEventSourceMapping, UpdateEventSourceMapping, DeleteEventSourceMapping
// and ListEventSourceMappings through the SDK, as Terraform's
// aws_lambda_event_source_mapping does (create, wait out Creating, read
// back, update, wait out Updating, delete, wait for the mapping to go),
// for an SQS queue and a Kinesis stream; the SDK parses LastModified (the
// model's timestamp, epoch seconds on the wire). Each error's code and
// text is AWS's as LocalStack's snapshot tests recorded them against AWS
// (TestLambdaEventSourceMappings and the SQS and Kinesis integration
// tests). A restart keeps the mappings.
func TestEventSourceMappings(t *testing.T) {
	dir := t.TempDir()
	e := startIn(t, dir)
	c := ctx(t)
	in := createInput(t, "esm", "", fnOpts{})
	in.CapacityProviderConfig, in.MemorySize = nil, aws.Int32(128)
	if _, err := e.lambda.CreateFunction(c, in); err != nil {
		t.Fatal(err)
	}
	e.settled("esm")
	const (
		queue  = "arn:aws:sqs:us-east-1:000000000000:esm-queue"
		stream = "arn:aws:kinesis:us-east-1:000000000000:stream/esm-stream"
		fnARN  = "arn:aws:lambda:us-east-1:000000000000:function:esm"
	)
	wantAPIError := func(what string, err error, code, msg string) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != code || ae.ErrorMessage() != msg {
			t.Fatalf("%s: %v, want %s %q", what, err, code, msg)
		}
	}
	waitState := func(uuid, want string) *lambda.GetEventSourceMappingOutput {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			g, err := e.lambda.GetEventSourceMapping(c, &lambda.GetEventSourceMappingInput{UUID: aws.String(uuid)})
			if err == nil && aws.ToString(g.State) == want {
				return g
			}
			if time.Now().After(deadline) {
				t.Fatalf("mapping %s did not reach %s: %+v %v", uuid, want, g, err)
			}
		}
	}

	// Errors.
	_, err := e.lambda.GetEventSourceMapping(c, &lambda.GetEventSourceMappingInput{UUID: aws.String("4f1e4c1e-0000-4000-8000-000000000000")})
	wantAPIError("Get of an unknown UUID", err, "ResourceNotFoundException", "The resource you requested does not exist.")
	_, err = e.lambda.UpdateEventSourceMapping(c, &lambda.UpdateEventSourceMappingInput{UUID: aws.String("4f1e4c1e-0000-4000-8000-000000000000"), Enabled: aws.Bool(false)})
	wantAPIError("Update of an unknown UUID", err, "ResourceNotFoundException", "The resource you requested does not exist.")
	_, err = e.lambda.DeleteEventSourceMapping(c, &lambda.DeleteEventSourceMappingInput{UUID: aws.String("4f1e4c1e-0000-4000-8000-000000000000")})
	wantAPIError("Delete of an unknown UUID", err, "ResourceNotFoundException", "The resource you requested does not exist.")
	_, err = e.lambda.CreateEventSourceMapping(c, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("doesnotexist")})
	wantAPIError("Create without a source", err, "InvalidParameterValueException", "Unrecognized event source.")
	_, err = e.lambda.CreateEventSourceMapping(c, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("doesnotexist"), EventSourceArn: aws.String(queue)})
	wantAPIError("Create for a missing function", err, "InvalidParameterValueException", "Function does not exist")
	_, err = e.lambda.CreateEventSourceMapping(c, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm"), EventSourceArn: aws.String(queue), BatchSize: aws.Int32(20)})
	wantAPIError("an SQS batch over 10 without a window", err, "InvalidParameterValueException", "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
	_, err = e.lambda.CreateEventSourceMapping(c, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm"), EventSourceArn: aws.String(stream)})
	wantAPIError("a stream without a starting position", err, "InvalidParameterValueException",
		"1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null.")
	_, err = e.lambda.CreateEventSourceMapping(c, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm"), EventSourceArn: aws.String(queue),
		FilterCriteria: &types.FilterCriteria{Filters: []types.Filter{{Pattern: aws.String(`{"eventSource":"aws:sqs"}`)}}}})
	wantAPIError("an invalid filter pattern", err, "InvalidParameterValueException", "Invalid filter pattern definition.")
	_, err = e.lambda.CreateEventSourceMapping(c, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm"), EventSourceArn: aws.String("arn:aws:mq:us-east-1:000000000000:broker:b:b-1"),
		Queues: []string{"q1"}})
	wantAPIError("an MQ source", err, "InvalidParameterValueException", "Queues is not supported by Paddock: Amazon MQ event sources are not supported.")
	_, err = e.lambda.CreateEventSourceMapping(c, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm"), EventSourceArn: aws.String("arn:aws:nats:us-east-1:000000000000:ORDERS")})
	wantAPIError("a NATS source that is not a stream", err, "InvalidParameterValueException",
		"A NATS event source is a JetStream stream: arn:aws:nats:REGION:ACCOUNT:stream/NAME, the name without spaces, '.', '*', '>', '/' or '\\'.")
	_, err = e.lambda.CreateEventSourceMapping(c, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm"), EventSourceArn: aws.String("arn:aws:nats:us-east-1:000000000000:stream/ORDERS"),
		StartingPosition: types.EventSourcePositionLatest})
	wantAPIError("a NATS source with a starting position", err, "InvalidParameterValueException", "StartingPosition is not valid for NATS event sources.")
	_, err = e.lambda.CreateEventSourceMapping(c, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm"), EventSourceArn: aws.String("arn:aws:nats:us-east-1:000000000000:stream/ORDERS"),
		MaximumRetryAttempts: aws.Int32(1)})
	wantAPIError("a NATS source with retries", err, "InvalidParameterValueException", "Unsupported MaximumRetryAttempts parameter for given event source mapping type.")

	// An SQS mapping: Creating, then Enabled.
	before := time.Now().Add(-time.Second)
	q, err := e.lambda.CreateEventSourceMapping(c, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm"), EventSourceArn: aws.String(queue),
		BatchSize: aws.Int32(50), MaximumBatchingWindowInSeconds: aws.Int32(2), FunctionResponseTypes: []types.FunctionResponseType{types.FunctionResponseTypeReportBatchItemFailures},
		ScalingConfig: &types.ScalingConfig{MaximumConcurrency: aws.Int32(4)}, Tags: map[string]string{"team": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	uuid := aws.ToString(q.UUID)
	if aws.ToString(q.State) != "Creating" || aws.ToString(q.StateTransitionReason) != "USER_INITIATED" || aws.ToString(q.FunctionArn) != fnARN ||
		aws.ToInt32(q.BatchSize) != 50 || q.LastModified == nil || q.LastModified.Before(before) || q.StartingPosition != "" || q.ParallelizationFactor != nil ||
		aws.ToString(q.EventSourceMappingArn) != "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:"+uuid || aws.ToInt32(q.ScalingConfig.MaximumConcurrency) != 4 {
		t.Fatalf("Create: %+v", q)
	}
	waitState(uuid, "Enabled")
	_, err = e.lambda.CreateEventSourceMapping(c, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm"), EventSourceArn: aws.String(queue)})
	wantAPIError("the same queue twice", err, "ResourceConflictException",
		`An event source mapping with SQS arn (" `+queue+` ") and function (" esm ") already exists. Please update or delete the existing mapping with UUID `+uuid)

	// Update: Updating, then Enabled; Disabling, then Disabled.
	u, err := e.lambda.UpdateEventSourceMapping(c, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(uuid), BatchSize: aws.Int32(5)})
	if err != nil || aws.ToString(u.State) != "Updating" || aws.ToInt32(u.BatchSize) != 5 || aws.ToInt32(u.MaximumBatchingWindowInSeconds) != 2 {
		t.Fatalf("Update: %+v %v", u, err)
	}
	waitState(uuid, "Enabled")
	if u, err = e.lambda.UpdateEventSourceMapping(c, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(uuid), Enabled: aws.Bool(false)}); err != nil || aws.ToString(u.State) != "Disabling" {
		t.Fatalf("Update disabling: %+v %v", u, err)
	}
	waitState(uuid, "Disabled")

	// A Kinesis mapping to a version, with its stream defaults.
	if _, err := e.lambda.PublishVersion(c, &lambda.PublishVersionInput{FunctionName: aws.String("esm")}); err != nil {
		t.Fatal(err)
	}
	k, err := e.lambda.CreateEventSourceMapping(c, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm:1"), EventSourceArn: aws.String(stream),
		StartingPosition: types.EventSourcePositionTrimHorizon, DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(queue + "-dlq")}}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(k.State) != "Creating" || aws.ToString(k.FunctionArn) != fnARN+":1" || aws.ToInt32(k.BatchSize) != 100 || aws.ToInt32(k.MaximumRetryAttempts) != -1 ||
		aws.ToInt32(k.MaximumRecordAgeInSeconds) != -1 || aws.ToInt32(k.ParallelizationFactor) != 1 || aws.ToString(k.StateTransitionReason) != "User action" ||
		aws.ToString(k.DestinationConfig.OnFailure.Destination) != queue+"-dlq" || k.StartingPosition != types.EventSourcePositionTrimHorizon {
		t.Fatalf("Kinesis mapping: %+v", k)
	}
	waitState(aws.ToString(k.UUID), "Enabled")
	_, err = e.lambda.CreateEventSourceMapping(c, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm:1"), EventSourceArn: aws.String(stream),
		StartingPosition: types.EventSourcePositionLatest})
	wantAPIError("the same stream twice", err, "ResourceConflictException",
		`The event source arn (" `+stream+` ") and function (" esm ") provided mapping already exists. Please update or delete the existing mapping with UUID `+aws.ToString(k.UUID))

	// A restart keeps them; List pages through them.
	e.p.Close()
	e = startIn(t, dir)
	if g := waitState(uuid, "Disabled"); aws.ToInt32(g.BatchSize) != 5 || len(g.FunctionResponseTypes) != 1 {
		t.Fatalf("after a restart: %+v", g)
	}
	var all []types.EventSourceMappingConfiguration
	p := lambda.NewListEventSourceMappingsPaginator(e.lambda, &lambda.ListEventSourceMappingsInput{MaxItems: aws.Int32(1)})
	for p.HasMorePages() {
		out, err := p.NextPage(c)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, out.EventSourceMappings...)
	}
	if len(all) != 2 {
		t.Fatalf("List: %d mappings, want 2", len(all))
	}
	l, err := e.lambda.ListEventSourceMappings(c, &lambda.ListEventSourceMappingsInput{EventSourceArn: aws.String(stream)})
	if err != nil || len(l.EventSourceMappings) != 1 || aws.ToString(l.EventSourceMappings[0].UUID) != aws.ToString(k.UUID) {
		t.Fatalf("List by source: %+v %v", l, err)
	}
	if l, err = e.lambda.ListEventSourceMappings(c, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String("doesnotexist")}); err != nil || len(l.EventSourceMappings) != 0 {
		t.Fatalf("List of a function that does not exist: %+v %v", l, err)
	}

	// Delete: Deleting, then gone.
	d, err := e.lambda.DeleteEventSourceMapping(c, &lambda.DeleteEventSourceMappingInput{UUID: aws.String(uuid)})
	if err != nil || aws.ToString(d.State) != "Deleting" || aws.ToString(d.UUID) != uuid {
		t.Fatalf("Delete: %+v %v", d, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err := e.lambda.GetEventSourceMapping(c, &lambda.GetEventSourceMappingInput{UUID: aws.String(uuid)})
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deleted mapping is still there: %v", err)
		}
	}

	// Deleting the function keeps its mappings, as AWS does.
	if _, err := e.lambda.DeleteFunction(c, &lambda.DeleteFunctionInput{FunctionName: aws.String("esm")}); err != nil {
		t.Fatal(err)
	}
	if g, err := e.lambda.GetEventSourceMapping(c, &lambda.GetEventSourceMappingInput{UUID: k.UUID}); err != nil || aws.ToString(g.State) != "Enabled" {
		t.Fatalf("the mapping after its function's deletion: %+v %v", g, err)
	}
}
