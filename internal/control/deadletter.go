package control

import (
	"strings"

	"github.com/paddockhq/paddock/internal/awserr"
)

// validateDeadLetter checks a function's DeadLetterConfig.TargetArn: empty
// (none), or a standard SQS queue or an SNS topic, where Lambda sends the
// events it gives up on. The texts are AWS's ("Invalid dead letter queue
// ARN: ARNs must start with 'arn:'", "...: FIFO SQS queue is not supported
// for dead letter configuration", as users quote them); the one for an ARN
// of another service follows their form.
func validateDeadLetter(arn string) error {
	if arn == "" {
		return nil
	}
	if !strings.HasPrefix(arn, "arn:") {
		return awserr.InvalidParameter("Invalid dead letter queue ARN: ARNs must start with 'arn:'")
	}
	p := strings.SplitN(arn, ":", 6)
	switch {
	case len(p) != 6 || p[3] == "" || p[5] == "" || (p[2] != "sqs" && p[2] != "sns"):
		return awserr.InvalidParameter("Invalid dead letter queue ARN: %s is not the ARN of an SQS queue or an SNS topic", arn)
	case p[2] == "sqs" && strings.HasSuffix(p[5], ".fifo"):
		return awserr.InvalidParameter("Invalid dead letter queue ARN: FIFO SQS queue is not supported for dead letter configuration")
	}
	return nil
}
