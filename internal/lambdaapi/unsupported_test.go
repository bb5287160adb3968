package lambdaapi

import (
	"errors"
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/awserr"
)

func TestRefuseUnsupported(t *testing.T) {
	tests := []struct {
		op, body string
		refused  string // the member named in the refusal; "" for none
	}{
		{"CreateFunction", `{"FunctionName":"f"}`, ""},
		{"CreateFunction", `{"VpcConfig":{"SubnetIds":[],"SecurityGroupIds":[],"Ipv6AllowedForDualStack":false}}`, ""},
		{"CreateFunction", `{"VpcConfig":{"SubnetIds":["subnet-1"],"SecurityGroupIds":[]}}`, "VpcConfig"},
		{"UpdateFunctionConfiguration", `{"DeadLetterConfig":{"TargetArn":""}}`, ""},
		{"UpdateFunctionConfiguration", `{"DeadLetterConfig":{"TargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq"}}`, ""}, // dead letters are sent
		{"UpdateFunctionConfiguration", `{"DeadLetterConfig":{"TargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq"},"Layers":["arn:aws:lambda:us-east-1:000000000000:layer:l:1"]}`, ""},
		{"CreateFunction", `{"Layers":[]}`, ""},
		{"CreateFunction", `{"Layers":["arn:aws:lambda:us-east-1:000000000000:layer:l:1"],"FileSystemConfigs":[{"Arn":"a","LocalMountPath":"/mnt/x"}]}`, "FileSystemConfigs"},
		{"CreateFunction", `{"SnapStart":{"ApplyOn":"None"}}`, ""},
		{"CreateFunction", `{"SnapStart":{"ApplyOn":"PublishedVersions"}}`, "SnapStart"},
		{"CreateFunction", `{"KMSKeyArn":"","CodeSigningConfigArn":null}`, ""},
		{"CreateFunction", `{"TenancyConfig":{"TenantIsolationMode":"PER_TENANT"},"KMSKeyArn":"arn:aws:kms:us-east-1:000000000000:key/k"}`, "KMSKeyArn"},
		{"UpdateFunctionCode", `{"ZipFile":"UEs=","S3Bucket":""}`, ""},
		{"UpdateFunctionCode", `{"S3Bucket":"b","S3Key":"k"}`, "S3Bucket"},
		{"GetFunction", `{"VpcConfig":{"SubnetIds":["s"]}}`, ""},
		{"CreateFunction", `not json`, ""},
		{"CreateEventSourceMapping", `{"EventSourceArn":"arn:aws:sqs:us-east-1:000000000000:q","FunctionName":"f","TumblingWindowInSeconds":0,"KMSKeyArn":""}`, ""},
		{"CreateEventSourceMapping", `{"FunctionName":"f","SelfManagedEventSource":{"Endpoints":{"KAFKA_BOOTSTRAP_SERVERS":["kafka:1000"]}},"Topics":["t"]}`, "SelfManagedEventSource"},
		{"CreateEventSourceMapping", `{"EventSourceArn":"arn:aws:kinesis:us-east-1:000000000000:stream/s","TumblingWindowInSeconds":60}`, "TumblingWindowInSeconds"},
		{"UpdateEventSourceMapping", `{"ProvisionedPollerConfig":{"MinimumPollers":1}}`, "ProvisionedPollerConfig"},
		{"UpdateEventSourceMapping", `{"MetricsConfig":{"Metrics":["EventCount"]},"BatchSize":5}`, "MetricsConfig"},
	}
	for _, tt := range tests {
		err := refuseUnsupported(tt.op, []byte(tt.body))
		var e *awserr.Error
		switch {
		case tt.refused == "" && err != nil:
			t.Errorf("%s %s: refused (%v), want accepted", tt.op, tt.body, err)
		case tt.refused != "" && (!errors.As(err, &e) || e.Code != "InvalidParameterValueException" || !strings.HasPrefix(e.Message, tt.refused+" is not supported")):
			t.Errorf("%s %s: %v, want InvalidParameterValueException naming %s", tt.op, tt.body, err, tt.refused)
		}
	}
}
