package control

import (
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/awserr"
)

func TestValidateDeadLetter(t *testing.T) {
	cases := []struct {
		arn, err string // err: in the message; "" for none
	}{
		{"", ""},
		{"arn:aws:sqs:us-east-1:000000000000:dlq", ""},
		{"arn:aws:sns:us-east-1:000000000000:topic", ""},
		{"dlq", "Invalid dead letter queue ARN: ARNs must start with 'arn:'"},
		{"arn:aws:sqs:us-east-1:000000000000:dlq.fifo", "Invalid dead letter queue ARN: FIFO SQS queue is not supported for dead letter configuration"},
		{"arn:aws:lambda:us-east-1:000000000000:function:f", "Invalid dead letter queue ARN: arn:aws:lambda:us-east-1:000000000000:function:f is not the ARN of an SQS queue or an SNS topic"},
		{"arn:aws:sqs", "is not the ARN of an SQS queue or an SNS topic"},
	}
	for _, c := range cases {
		err := validateDeadLetter(c.arn)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.arn, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || err.(*awserr.Error).Code != "InvalidParameterValueException"):
			t.Errorf("%q = %v, want InvalidParameterValueException %q", c.arn, err, c.err)
		}
	}
}
