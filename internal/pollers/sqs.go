package pollers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

	// running is the pollers alive and target how many there should be:
	// a poller whose batch is done leaves when running > target.
	running, target atomic.Int64
	// What the pollers saw since the last decision (sqsLoad's counts).
	backlog, empty, throttled atomic.Int64
	groupsMu                  sync.Mutex
	groups                    map[string]struct{} // FIFO: message groups received
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
	p.log.Info("polling", "batch", p.m.BatchSize, "fifo", p.fifo, "max pollers", p.maxPollers())
	p.scale(ctx)
}

// maxPollers is the mapping's ScalingConfig.MaximumConcurrency, or
// Lambda's limit.
func (p *sqsPoller) maxPollers() int {
	if p.m.MaximumConcurrency > 0 {
		return min(p.m.MaximumConcurrency, sqsMaxPollers)
	}
	return sqsMaxPollers
}

// scale runs the pollers until ctx ends, deciding their number every
// scalePeriod from what they saw (scaleSQS), and waits for them to end.
func (p *sqsPoller) scale(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	p.groups = map[string]struct{}{}
	d := scaleSQS(sqsLoad{Max: p.maxPollers(), FIFO: p.fifo})
	last := time.Now()
	tick := time.NewTicker(scalePeriod)
	defer tick.Stop()
	for {
		p.target.Store(int64(d.Desired))
		for n := p.running.Load(); n < int64(d.Desired); n = p.running.Load() {
			if p.running.CompareAndSwap(n, n+1) {
				wg.Go(func() { p.poll(ctx) })
			}
		}
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			p.groupsMu.Lock()
			groups := len(p.groups)
			clear(p.groups)
			p.groupsMu.Unlock()
			next := scaleSQS(sqsLoad{
				Pollers: int(p.running.Load()), Max: p.maxPollers(), Elapsed: now.Sub(last), FIFO: p.fifo, Groups: groups,
				Backlog: int(p.backlog.Swap(0)), Empty: int(p.empty.Swap(0)), Throttled: int(p.throttled.Swap(0)),
			})
			if next.Desired != d.Desired {
				p.log.Debug("pollers", "from", d.Desired, "to", next.Desired, "why", next.Why)
			}
			d, last = next, now
		}
	}
}

// leave reports whether this poller should end, there being more than the
// target, and if so counts it out.
func (p *sqsPoller) leave() bool {
	for {
		n := p.running.Load()
		if n <= p.target.Load() {
			return false
		}
		if p.running.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// poll takes batches and hands them to the function until ctx ends or
// there are more pollers than the target. It leaves only between batches:
// a batch it received is always handled.
func (p *sqsPoller) poll(ctx context.Context) {
	wait := time.Second
	for {
		if ctx.Err() != nil {
			p.running.Add(-1)
			return
		}
		if p.leave() {
			return
		}
		msgs, full, err := p.receive(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("receive", "err", err)
				sleep(ctx, wait) //nolint:errcheck // the loop checks ctx
				wait = min(2*wait, 30*time.Second)
			}
			continue
		}
		wait = time.Second
		switch {
		case len(msgs) == 0:
			p.empty.Add(1)
		case full:
			p.backlog.Add(1)
		}
		if p.fifo {
			p.groupsMu.Lock()
			for _, m := range msgs {
				p.groups[m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]] = struct{}{}
			}
			p.groupsMu.Unlock()
		}
		if len(msgs) > 0 {
			p.handle(ctx, msgs)
		}
	}
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
		p.throttled.Add(1)
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
			if failed, whole = batchFailures(res.Response, records); whole {
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

// batchFailures reads a ReportBatchItemFailures answer: the message ids
// the function failed, or whole when the answer fails the batch as a whole
// (not JSON, or an identifier that is empty, missing or not in the batch).
// No answer, null, or an empty list is a complete success, as on Lambda.
func batchFailures(resp []byte, records []events.SQSMessage) (failed map[string]bool, whole bool) {
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
	ids := map[string]bool{}
	for _, rec := range records {
		ids[rec.MessageId] = true
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
