package pollers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/paddockhq/paddock/internal/async"
)

// A NATS mapping reads a JetStream stream (arn:aws:nats:REGION:ACCOUNT:
// stream/NAME) as Lambda reads an SQS queue: through a durable pull
// consumer of its own, "paddock-UUID", that starts at the stream's first
// message and acknowledges each message once the function took it; the
// pollers scale as an SQS mapping's do (scaleSQS). A message the function
// failed (the whole batch on a function error, or the ones it names with
// ReportBatchItemFailures) is negatively acknowledged with a delay that
// doubles with its deliveries, and comes back; the stream's and the
// consumer's limits are the user's (set MaxDeliver on the stream's
// consumer limits to bound redeliveries). The consumer outlives a deleted
// mapping: delete it with `nats consumer rm` when it is no longer wanted.

// NATS consumer settings. They are the same for every mapping, so that an
// update of the mapping (a new batch size, say) leaves its consumer as it
// is: the server refuses some changes of a consumer (MaxWaiting).
const (
	// natsAckWait is how long a delivered message is the poller's before
	// the server delivers it again; a batch in the function is kept by
	// progress acknowledgements every natsProgressEvery.
	natsAckWait       = 30 * time.Second
	natsProgressEvery = 10 * time.Second
	// natsNakDelayMax bounds the delay before a failed message comes back
	// (1 s after its first delivery, doubling).
	natsNakDelayMax = time.Minute
)

// NATSRecord is a JetStream message as a NATS mapping hands it to the
// function, in an event {"Records": [...]}: shaped after Lambda's SQS
// record (messageId, the stream sequence in decimal, is what
// batchItemFailures names), its data base64-encoded as a Kinesis record's.
type NATSRecord struct {
	MessageID      string              `json:"messageId"`
	EventSource    string              `json:"eventSource"` // NATSEventSource
	EventSourceARN string              `json:"eventSourceARN"`
	AWSRegion      string              `json:"awsRegion"`
	Subject        string              `json:"subject"`
	Data           []byte              `json:"data"`
	Headers        map[string][]string `json:"headers,omitempty"`
	Stream         string              `json:"stream"`
	StreamSequence uint64              `json:"streamSequence"`
	// DeliveryCount is 1 on a message's first delivery.
	DeliveryCount uint64    `json:"deliveryCount"`
	Timestamp     time.Time `json:"timestamp"` // when the stream stored it
}

// NATSEventSource is a NATS record's eventSource.
const NATSEventSource = "paddock:nats"

// natsPoller runs one NATS mapping.
type natsPoller struct {
	m      Mapping
	js     jetstream.JetStream
	invoke Invoke
	filter *Filter
	log    *slog.Logger

	region, stream string
	consumer       jetstream.Consumer
	crew           crew
}

func (p *natsPoller) run(ctx context.Context) {
	parts := strings.SplitN(p.m.EventSourceARN, ":", 6)
	if len(parts) != 6 || !strings.HasPrefix(parts[5], "stream/") {
		p.log.Error("not a NATS stream ARN: the mapping is not run")
		return
	}
	p.region, p.stream = parts[3], strings.TrimPrefix(parts[5], "stream/")
	name := "paddock-" + p.m.UUID
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		c, err := p.js.CreateOrUpdateConsumer(ctx, p.stream, jetstream.ConsumerConfig{
			Durable: name, Description: "Paddock event source mapping " + p.m.UUID + " to " + p.m.Function,
			DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy, AckWait: natsAckWait,
			MaxAckPending: -1, MaxWaiting: sqsMaxPollers,
		})
		if err == nil {
			p.consumer = c
			break
		}
		p.log.Warn("create the stream's consumer", "err", err, "retry in", wait)
		if sleep(ctx, wait) != nil {
			return
		}
	}
	p.crew = crew{max: maxPollers(p.m), log: p.log}
	p.log.Info("polling", "consumer", name, "batch", p.m.BatchSize, "max pollers", p.crew.max)
	p.crew.run(ctx, p.batch)
}

// batch takes a batch of messages and hands it to the function.
func (p *natsPoller) batch(ctx context.Context) error {
	msgs, full, err := p.receive(ctx)
	if err != nil {
		return err
	}
	p.crew.received(len(msgs), full)
	if len(msgs) > 0 {
		p.handle(ctx, msgs)
	}
	return nil
}

// receive gathers a batch as an SQS poller does: it waits up to a long
// poll for a first message, then takes what is there up to BatchSize, and
// waits for more for at most the batching window. full reports that
// messages were still pending after the last one taken.
func (p *natsPoller) receive(ctx context.Context) (got []jetstream.Msg, full bool, err error) {
	size := max(p.m.BatchSize, 1)
	first, err := p.fetch(ctx, 1, longPoll)
	if err != nil || len(first) == 0 {
		return nil, false, err
	}
	got = first
	until := time.Now().Add(p.m.MaximumBatchingWindow)
	for len(got) < size {
		wait := time.Until(until)
		more, err := p.fetch(ctx, size-len(got), wait)
		if err != nil {
			break // what was received is handled; the error comes back next time
		}
		got = append(got, more...)
		if len(more) == 0 || wait <= 0 {
			break
		}
	}
	if md, err := got[len(got)-1].Metadata(); err == nil {
		full = md.NumPending > 0
	}
	return got, full, nil
}

// fetch asks the consumer for up to n messages, waiting up to wait for
// them (0: only those there now).
func (p *natsPoller) fetch(ctx context.Context, n int, wait time.Duration) ([]jetstream.Msg, error) {
	var b jetstream.MessageBatch
	var err error
	if wait <= 0 {
		b, err = p.consumer.FetchNoWait(n)
	} else {
		// The wait is the context's deadline: Fetch takes a context or a
		// maximum wait, not both.
		fctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		b, err = p.consumer.Fetch(n, jetstream.FetchContext(fctx))
	}
	if err != nil {
		return nil, err
	}
	var got []jetstream.Msg
	for m := range b.Messages() {
		got = append(got, m)
	}
	if err := b.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
		return got, err
	}
	return got, nil
}

// handle runs one batch and settles each message: acknowledged when the
// function took it (or the filter dropped it, as Lambda deletes those),
// negatively acknowledged with a delay when it failed or did not run.
func (p *natsPoller) handle(ctx context.Context, msgs []jetstream.Msg) {
	var records []NATSRecord
	var matched []jetstream.Msg
	for _, m := range msgs {
		r, err := p.record(m)
		if err != nil {
			p.log.Warn("a message without JetStream metadata: acknowledged, not handed on", "subject", m.Subject(), "err", err)
			m.Ack() //nolint:errcheck // a lost ack delivers it again
			continue
		}
		if p.filter.Match(natsFilterView(r)) {
			records, matched = append(records, r), append(matched, m)
		} else {
			m.Ack() //nolint:errcheck // a lost ack delivers it again
		}
	}
	if len(records) == 0 {
		return
	}
	payload, err := json.Marshal(struct {
		Records []NATSRecord `json:"Records"`
	}{records})
	if err != nil {
		p.log.Error("encode a batch", "err", err)
		return
	}
	res := p.invokeKeeping(ctx, matched, payload)
	failed := map[string]bool{}
	switch res.Outcome {
	case async.Succeeded:
		if p.m.ReportBatchItemFailures {
			ids := make(map[string]bool, len(records))
			for _, r := range records {
				ids[r.MessageID] = true
			}
			var whole bool
			if failed, whole = batchFailures(res.Response, ids); whole {
				p.log.Warn("the function's batchItemFailures could not be used: the whole batch comes back", "messages", len(records))
				failed = ids
			}
		}
	case async.FunctionError:
		failed = nil // all of them
	default:
		p.log.Warn("the batch did not run: it comes back", "outcome", res.Outcome, "err", res.Err)
		failed = nil
	}
	for i, m := range matched {
		if failed != nil && !failed[records[i].MessageID] {
			m.Ack() //nolint:errcheck // a lost ack delivers it again
			continue
		}
		m.NakWithDelay(natsNakDelay(records[i].DeliveryCount)) //nolint:errcheck // unacknowledged, it comes back after natsAckWait
	}
}

// invokeKeeping runs the batch, retrying a throttle for up to half the
// ack wait as an SQS poller does, and keeps the messages the poller's
// with progress acknowledgements meanwhile.
func (p *natsPoller) invokeKeeping(ctx context.Context, msgs []jetstream.Msg, payload []byte) async.Result {
	keep, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		t := time.NewTicker(natsProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-keep.Done():
				return
			case <-t.C:
				for _, m := range msgs {
					m.InProgress() //nolint:errcheck // without it the message comes back: at least once
				}
			}
		}
	}()
	started := time.Now()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		res := p.invoke(ctx, p.m.Function, p.m.Qualifier, payload)
		if res.Outcome != async.Throttled {
			return res
		}
		p.crew.throttled.Add(1)
		if time.Since(started)+wait > natsAckWait/2 || sleep(ctx, wait) != nil {
			return res
		}
	}
}

// natsNakDelay is the pause before a failed message comes back: 1 s after
// its first delivery, doubling, at most natsNakDelayMax.
func natsNakDelay(deliveries uint64) time.Duration {
	d := time.Second
	for i := uint64(1); i < deliveries && d < natsNakDelayMax; i++ {
		d *= 2
	}
	return min(d, natsNakDelayMax)
}

// record is m as the function gets it.
func (p *natsPoller) record(m jetstream.Msg) (NATSRecord, error) {
	md, err := m.Metadata()
	if err != nil {
		return NATSRecord{}, err
	}
	r := NATSRecord{
		MessageID: strconv.FormatUint(md.Sequence.Stream, 10), EventSource: NATSEventSource, EventSourceARN: p.m.EventSourceARN,
		AWSRegion: p.region, Subject: m.Subject(), Data: m.Data(), Stream: md.Stream, StreamSequence: md.Sequence.Stream,
		DeliveryCount: md.NumDelivered, Timestamp: md.Timestamp.UTC(),
	}
	if h := m.Headers(); len(h) > 0 {
		r.Headers = map[string][]string(h)
	}
	if r.Data == nil {
		r.Data = []byte{}
	}
	return r, nil
}

// natsFilterView is the record as filter patterns see it: data decoded
// when it is JSON, as Lambda filters a Kinesis record's data.
func natsFilterView(r NATSRecord) map[string]any {
	b, _ := json.Marshal(r)
	var v map[string]any
	json.Unmarshal(b, &v) //nolint:errcheck // it was just encoded
	var data any
	if json.Unmarshal(r.Data, &data) == nil {
		v["data"] = data
	}
	return v
}
