// Package destinations sends asynchronous invocation records where a
// function's DestinationConfig says, through the AWS services' own APIs
// (aws-sdk-go-v2, at the endpoint the configuration gives: AWS's, or one
// such as moto_server or LocalStack): an SQS queue (SendMessage), an SNS
// topic (Publish), an EventBridge bus (PutEvents) or, for failures, an S3
// bucket (PutObject). Lambda function destinations are internal/async's
// own.
package destinations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/paddockhq/paddock/internal/async"
	"github.com/paddockhq/paddock/internal/ids"
)

// Sender sends records; it is safe for concurrent use.
type Sender struct {
	sqs *sqs.Client
	sns *sns.Client
	eb  *eventbridge.Client
	s3  *s3.Client

	queueURLs sync.Map // queue ARN → URL
	now       func() time.Time
}

// New is a Sender using cfg (its credentials, and its BaseEndpoint when
// set) for every service; each call is made in the region of its ARN.
func New(cfg aws.Config) *Sender {
	// Buckets by path at an endpoint of the configuration's (moto, a
	// LocalStack): a bucket's own host name would not resolve there.
	pathStyle := cfg.BaseEndpoint != nil
	return &Sender{sqs: sqs.NewFromConfig(cfg), sns: sns.NewFromConfig(cfg), eb: eventbridge.NewFromConfig(cfg),
		s3: s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = pathStyle }), now: time.Now}
}

// arn is the parts of an ARN a destination needs.
type arn struct {
	service, region, account, resource string
}

func parseARN(s string) (arn, bool) {
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[2] == "" || p[3] == "" || p[5] == "" {
		return arn{}, false
	}
	return arn{service: p[2], region: p[3], account: p[4], resource: p[5]}, true
}

// Send delivers record to the destination ARN.
func (s *Sender) Send(ctx context.Context, destination string, record []byte) error {
	if bucket, ok := strings.CutPrefix(destination, "arn:aws:s3:::"); ok && bucket != "" {
		_, err := s.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(s3RecordKey(record, s.now())),
			Body: strings.NewReader(string(record)), ContentType: aws.String("application/json")})
		return err
	}
	a, ok := parseARN(destination)
	if !ok {
		return fmt.Errorf("destination %q is not an ARN", destination)
	}
	switch a.service {
	case "sqs":
		return s.sendSQS(ctx, destination, a, record)
	case "sns":
		_, err := s.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(destination), Message: aws.String(string(record))}, snsRegion(a.region))
		return err
	case "events":
		return s.sendEventBridge(ctx, destination, a, record)
	default:
		return fmt.Errorf("destination %s: records go to SQS queues, SNS topics, EventBridge buses, S3 buckets and Lambda functions", destination)
	}
}

func (s *Sender) sendSQS(ctx context.Context, destination string, a arn, record []byte) error {
	return s.sendToQueue(ctx, destination, a, &sqs.SendMessageInput{MessageBody: aws.String(string(record))})
}

func (s *Sender) sendToQueue(ctx context.Context, destination string, a arn, in *sqs.SendMessageInput) error {
	url, ok := s.queueURLs.Load(destination)
	if !ok {
		out, err := s.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(a.resource), QueueOwnerAWSAccountId: aws.String(a.account)}, sqsRegion(a.region))
		if err != nil {
			return fmt.Errorf("queue %s: %w", destination, err)
		}
		url = aws.ToString(out.QueueUrl)
		s.queueURLs.Store(destination, url)
	}
	in.QueueUrl = aws.String(url.(string))
	_, err := s.sqs.SendMessage(ctx, in, sqsRegion(a.region))
	if err != nil {
		s.queueURLs.Delete(destination) // the queue may have been made again
	}
	return err
}

// SendDeadLetter gives an event to a function's dead-letter queue or
// topic as Lambda does: the event's payload as the message, and the
// RequestID, ErrorCode and ErrorMessage attributes.
func (s *Sender) SendDeadLetter(ctx context.Context, target string, payload []byte, dl async.DeadLetter) error {
	a, ok := parseARN(target)
	if !ok {
		return fmt.Errorf("dead-letter target %q is not an ARN", target)
	}
	attrs := map[string][2]string{"RequestID": {"String", dl.RequestID}} // name → data type, value
	if dl.ErrorCode != 0 {
		attrs["ErrorCode"] = [2]string{"Number", strconv.Itoa(dl.ErrorCode)}
	}
	if dl.ErrorMessage != "" {
		attrs["ErrorMessage"] = [2]string{"String", dl.ErrorMessage}
	}
	switch a.service {
	case "sqs":
		m := map[string]sqstypes.MessageAttributeValue{}
		for k, v := range attrs {
			m[k] = sqstypes.MessageAttributeValue{DataType: aws.String(v[0]), StringValue: aws.String(v[1])}
		}
		return s.sendToQueue(ctx, target, a, &sqs.SendMessageInput{MessageBody: aws.String(string(payload)), MessageAttributes: m})
	case "sns":
		m := map[string]snstypes.MessageAttributeValue{}
		for k, v := range attrs {
			m[k] = snstypes.MessageAttributeValue{DataType: aws.String(v[0]), StringValue: aws.String(v[1])}
		}
		_, err := s.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(target), Message: aws.String(string(payload)), MessageAttributes: m}, snsRegion(a.region))
		return err
	default:
		return fmt.Errorf("dead-letter target %s: dead letters go to SQS queues and SNS topics", target)
	}
}

// sendEventBridge puts the record on the bus as Lambda does: source
// "lambda", the detail type saying success or failure, the function as
// the resource.
func (s *Sender) sendEventBridge(ctx context.Context, destination string, a arn, record []byte) error {
	var r struct {
		RequestContext struct {
			FunctionARN string `json:"functionArn"`
			Condition   string `json:"condition"`
		} `json:"requestContext"`
	}
	if err := json.Unmarshal(record, &r); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	detailType := "Lambda Function Invocation Result - Failure"
	if r.RequestContext.Condition == "Success" {
		detailType = "Lambda Function Invocation Result - Success"
	}
	entry := ebtypes.PutEventsRequestEntry{
		EventBusName: aws.String(destination), Source: aws.String("lambda"),
		DetailType: aws.String(detailType), Detail: aws.String(string(record)),
	}
	if r.RequestContext.FunctionARN != "" {
		entry.Resources = []string{r.RequestContext.FunctionARN}
	}
	out, err := s.eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{entry}}, eventBridgeRegion(a.region))
	if err != nil {
		return err
	}
	if out.FailedEntryCount > 0 && len(out.Entries) > 0 {
		return fmt.Errorf("bus %s refused the record: %s: %s", destination, aws.ToString(out.Entries[0].ErrorCode), aws.ToString(out.Entries[0].ErrorMessage))
	} else if out.FailedEntryCount > 0 {
		return errors.New("bus " + destination + " refused the record")
	}
	return nil
}

// The region of each call is its destination's.
func sqsRegion(r string) func(*sqs.Options) { return func(o *sqs.Options) { o.Region = r } }
func snsRegion(r string) func(*sns.Options) { return func(o *sns.Options) { o.Region = r } }
func eventBridgeRegion(r string) func(*eventbridge.Options) {
	return func(o *eventbridge.Options) { o.Region = r }
}

// s3RecordKey is where a record goes in an S3 bucket:
// aws/lambda/async/FUNCTION/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-UUID. That is
// the layout AWS documents for stream mappings' S3 failure records
// (aws/lambda/ESM-UUID/SHARD/YYYY/MM/DD/...), with "async" and the
// function's name in the mapping's place; AWS's own key for asynchronous
// invokes is not confirmed here.
func s3RecordKey(record []byte, now time.Time) string {
	var r struct {
		RequestContext struct {
			FunctionArn string `json:"functionArn"`
		} `json:"requestContext"`
	}
	json.Unmarshal(record, &r) //nolint:errcheck // a record without one goes under "unknown"
	function := "unknown"
	if p := strings.Split(r.RequestContext.FunctionArn, ":"); len(p) >= 7 && p[6] != "" {
		function = p[6]
	}
	now = now.UTC()
	return "aws/lambda/async/" + function + "/" + now.Format("2006/01/02") + "/" + now.Format("2006-01-02T15.04.05") + "-" + ids.New()
}
