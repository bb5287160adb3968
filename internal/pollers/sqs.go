package pollers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/paddockhq/paddock/internal/async"
)

// longPoll is ReceiveMessage's WaitTimeSeconds.
const longPoll = 20 * time.Second

// scalePeriod is how often an SQS mapping's poller count is decided.
const scalePeriod = time.Second

// sqsPoller runs one SQS mapping: a number of pollers that scaleSQS
// decides, each taking a batch, handing it to the function and settling
// it, then the next.
type sqsPoller struct {
	m      Mapping
	client *sqs.Client
	invoke Invoke
	filter *Filter
	log    *slog.Logger

	region, url string
	visibility  time.Duration
	// fifo: the queue is a FIFO queue (its name ends in .fifo): a batch's
	// failures hold back the rest of their message group (settle).
	fifo bool

	crew crew
}

func (p *sqsPoller) opts(o *sqs.Options) { o.Region = p.region }

func (p *sqsPoller) run(ctx context.Context) {
	parts := strings.SplitN(p.m.EventSourceARN, ":", 6)
	if len(parts) != 6 {
		p.log.Error("not a queue ARN: the mapping is not run")
		return
	}
	p.region = parts[3]
	p.fifo = strings.HasSuffix(parts[5], ".fifo")
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		out, err := p.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5]), QueueOwnerAWSAccountId: aws.String(parts[4])}, p.opts)
		if err == nil {
			p.url = aws.ToString(out.QueueUrl)
			break
		}
		p.log.Warn("find the queue", "err", err, "retry in", wait)
		if sleep(ctx, wait) != nil {
			return
		}
	}
	p.visibility = 30 * time.Second
	if out, err := p.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(p.url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameVisibilityTimeout}}, p.opts); err == nil {
		if s, err := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameVisibilityTimeout)]); err == nil {
			p.visibility = time.Duration(s) * time.Second
		}
	}
	p.crew = crew{max: maxPollers(p.m), fifo: p.fifo, log: p.log}
	p.log.Info("polling", "batch", p.m.BatchSize, "fifo", p.fifo, "max pollers", p.crew.max)
	p.crew.run(ctx, p.batch)
}

// batch takes a batch of messages and hands it to the function.
func (p *sqsPoller) batch(ctx context.Context) error {
	msgs, full, err := p.receive(ctx)
	if err != nil {
		return err
	}
	p.crew.received(len(msgs), full)
	if p.fifo {
		for _, m := range msgs {
			p.crew.sawGroup(m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)])
		}
	}
	if len(msgs) > 0 {
		p.handle(ctx, msgs)
	}
	return nil
}

// receive gathers a batch: up to BatchSize messages, for at most the
// batching window once the first has come. full reports that the last
// ReceiveMessage got all it asked for: more messages were likely waiting.
func (p *sqsPoller) receive(ctx context.Context) (got []sqstypes.Message, full bool, err error) {
	size := max(p.m.BatchSize, 1)
	var until time.Time
	for len(got) < size {
		waitFor := longPoll
		if len(got) > 0 {
			left := time.Until(until)
			if left <= 0 {
				break
			}
			waitFor = min(left, longPoll)
		}
		asked := min(size-len(got), 10)
		out, err := p.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(p.url), MaxNumberOfMessages: int32(asked),
			WaitTimeSeconds:             int32(waitFor / time.Second),
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		}, p.opts)
		if err != nil {
			if len(got) > 0 {
				return got, false, nil // what was received is handled; the error comes back next time
			}
			return nil, false, err
		}
		if len(got) == 0 && len(out.Messages) > 0 {
			until = time.Now().Add(p.m.MaximumBatchingWindow)
		}
		got = append(got, out.Messages...)
		full = len(out.Messages) == asked
		if len(got) == 0 {
			return nil, false, nil // a long poll that found nothing
		}
		if p.m.MaximumBatchingWindow == 0 {
			break
		}
	}
	return got, full, nil
}

// handle runs one batch and deletes what it may.
func (p *sqsPoller) handle(ctx context.Context, msgs []sqstypes.Message) {
	received := time.Now()
	var records []events.SQSMessage
	var matched, filtered []sqstypes.Message
	for _, m := range msgs {
		r := p.record(m)
		if p.filter.Match(filterView(r)) {
			records, matched = append(records, r), append(matched, m)
		} else {
			filtered = append(filtered, m) // Lambda deletes the messages its filter drops
		}
	}
	p.delete(ctx, filtered)
	if len(records) == 0 {
		return
	}
	payload, err := json.Marshal(events.SQSEvent{Records: records})
	if err != nil {
		p.log.Error("encode a batch", "err", err)
		return
	}
	// A throttle is tried again while the messages are still ours (half
	// their visibility timeout); past that they go back to the queue.
	var res async.Result
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		res = p.invoke(ctx, p.m.Function, p.m.Qualifier, payload)
		// Only a throttle certainly did not run: anything else is not run again here.
		if res.Outcome != async.Throttled {
			break
		}
		p.crew.throttled.Add(1)
		if time.Since(received)+wait > p.visibility/2 || ctx.Err() != nil {
			break
		}
		sleep(ctx, wait) //nolint:errcheck // the loop checks ctx
	}
	switch res.Outcome {
	case async.Succeeded:
		failed := map[string]bool{}
		if p.m.ReportBatchItemFailures {
			var whole bool
			if failed, whole = batchFailures(res.Response, sqsIDs(records)); whole {
				p.log.Warn("the function's batchItemFailures could not be used: the whole batch goes back to the queue", "messages", len(records))
				return
			}
			if p.fifo {
				holdBackGroups(records, failed)
			}
		}
		done := matched[:0:0]
		for _, m := range matched {
			if !failed[aws.ToString(m.MessageId)] {
				done = append(done, m)
			}
		}
		p.delete(ctx, done)
	case async.FunctionError:
		// The whole batch goes back to the queue after its visibility
		// timeout, as on Lambda.
	default:
		p.log.Warn("the batch did not run: it goes back to the queue", "outcome", res.Outcome, "err", res.Err)
	}
}

// holdBackGroups adds to failed, in a FIFO queue's batch, every record that
// follows a failed one of its message group. Deleting them would let them
// overtake the failed one, which comes back after its visibility timeout:
// Lambda asks FIFO functions to "stop processing messages after the first
// failure and return all failed and unprocessed messages", and a function
// that names only the failed one gets the same order kept here.
func holdBackGroups(records []events.SQSMessage, failed map[string]bool) {
	held := map[string]bool{}
	for _, r := range records {
		g := r.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]
		switch {
		case held[g]:
			failed[r.MessageId] = true
		case failed[r.MessageId]:
			held[g] = true
		}
	}
}

// record is m as Lambda hands it to a function.
func (p *sqsPoller) record(m sqstypes.Message) events.SQSMessage {
	r := events.SQSMessage{
		MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
		Md5OfBody: aws.ToString(m.MD5OfBody), Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
		Attributes: map[string]string{}, MessageAttributes: map[string]events.SQSMessageAttribute{},
		EventSourceARN: p.m.EventSourceARN, EventSource: "aws:sqs", AWSRegion: p.region,
	}
	for k, v := range m.Attributes {
		r.Attributes[k] = v
	}
	for k, v := range m.MessageAttributes {
		r.MessageAttributes[k] = events.SQSMessageAttribute{
			StringValue: v.StringValue, BinaryValue: v.BinaryValue, DataType: aws.ToString(v.DataType),
			StringListValues: nonNil(v.StringListValues), BinaryListValues: nonNilBytes(v.BinaryListValues),
		}
	}
	return r
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilBytes(s [][]byte) [][]byte {
	if s == nil {
		return [][]byte{}
	}
	return s
}

// filterView is the record as filter patterns see it: the body decoded
// when it is JSON.
func filterView(r events.SQSMessage) map[string]any {
	b, _ := json.Marshal(r)
	var v map[string]any
	json.Unmarshal(b, &v) //nolint:errcheck // it was just encoded
	var body any
	if json.Unmarshal([]byte(r.Body), &body) == nil {
		v["body"] = body
	}
	return v
}

// batchFailures reads a ReportBatchItemFailures answer to a queue's batch
// of the message ids ids: the ones the function failed, or whole when the
// answer fails the batch as a whole (not JSON, or an identifier that is
// empty, missing or not in the batch). No answer, null, or an empty list
// is a complete success, as on Lambda.
func batchFailures(resp []byte, ids map[string]bool) (failed map[string]bool, whole bool) {
	failed = map[string]bool{}
	trimmed := strings.TrimSpace(string(resp))
	if trimmed == "" || trimmed == "null" {
		return failed, false
	}
	var r struct {
		BatchItemFailures []map[string]any `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return nil, true
	}
	for _, f := range r.BatchItemFailures {
		id, ok := f["itemIdentifier"].(string)
		if !ok || id == "" || !ids[id] {
			return nil, true
		}
		failed[id] = true
	}
	return failed, false
}

// sqsIDs is the set of the records' message ids.
func sqsIDs(records []events.SQSMessage) map[string]bool {
	ids := make(map[string]bool, len(records))
	for _, r := range records {
		ids[r.MessageId] = true
	}
	return ids
}

// delete removes messages from the queue, ten at a time.
func (p *sqsPoller) delete(ctx context.Context, msgs []sqstypes.Message) {
	for len(msgs) > 0 {
		n := min(len(msgs), 10)
		entries := make([]sqstypes.DeleteMessageBatchRequestEntry, n)
		for i, m := range msgs[:n] {
			entries[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
		}
		out, err := p.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.url), Entries: entries}, p.opts)
		switch {
		case err != nil:
			p.log.Warn("delete processed messages: they will be delivered again", "messages", n, "err", err)
		case len(out.Failed) > 0:
			p.log.Warn("delete processed messages: some will be delivered again", "failed", len(out.Failed), "first", fmt.Sprint(aws.ToString(out.Failed[0].Message)))
		}
		msgs = msgs[n:]
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
