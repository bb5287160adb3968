// Package pollers runs event source mappings: for each enabled mapping, a
// set of pollers reads its source through the source's own API (SQS and
// Kinesis and DynamoDB streams through aws-sdk-go-v2 at the configured
// endpoint; NATS JetStream streams through a consumer of their own, nats.go),
// hands batches of records to the function through the
// synchronous invoke path, and settles the records as Lambda does: SQS
// messages deleted after a success (with ReportBatchItemFailures only the
// ones the function did not name); a stream's shard read in order, one
// batch at a time (stream.go, the same for both kinds of stream), its
// position kept in Checkpoints once the function took a batch, failing
// batches retried, bisected or given up to an OnFailure destination
// (streamplan.go).
// Manager follows the mappings and starts and stops pollers to match.
package pollers

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/paddockhq/paddock/internal/async"
)

// Mapping is an enabled event source mapping, as the pollers run it.
type Mapping struct {
	UUID, EventSourceARN    string
	Function, Qualifier     string
	BatchSize               int
	MaximumBatchingWindow   time.Duration
	ReportBatchItemFailures bool
	MaximumConcurrency      int // 0: Lambda's default
	FilterPatterns          []string
	// Streams (Kinesis, DynamoDB): where a shard without a checkpoint
	// starts, how often a failing batch is retried (-1: until it succeeds
	// or is too old), whether it is split in two when it fails, how old a
	// record may be (0: any age), and where the records given up are
	// described (an SQS queue or SNS topic ARN; "": nowhere).
	StartingPosition           string
	StartingPositionTimestamp  time.Time
	MaximumRetryAttempts       int
	BisectBatchOnFunctionError bool
	MaximumRecordAge           time.Duration
	OnFailure                  string
	// FunctionARN is the function (and qualifier) as the on-failure record
	// names it; "": made of the stream's region and account.
	FunctionARN string
}

// Send delivers an on-failure record to a destination ARN
// (destinations.Sender's Send).
type Send func(ctx context.Context, destination string, record []byte) error

// Invoke runs payload on the function synchronously (async.Result's
// outcomes: its throttles are Throttled).
type Invoke func(ctx context.Context, function, qualifier string, payload []byte) async.Result

// Manager runs the pollers of the mappings Mappings returns.
type Manager struct {
	Mappings func() []Mapping
	// Changed is closed when the mappings change (nil: they are read
	// every resync only).
	Changed func() <-chan struct{}
	// Active reports whether this server runs the pollers (the leader);
	// nil: always.
	Active func() bool
	Invoke Invoke
	SQS    *sqs.Client // nil: SQS mappings are not run
	// Kinesis reads Kinesis streams and DynamoDBStreams DynamoDB
	// streams; Checkpoints keeps their positions (nil: neither is run).
	Kinesis         *kinesis.Client
	DynamoDBStreams *dynamodbstreams.Client
	Checkpoints     Checkpoints
	// Send sends the stream mappings' on-failure records; nil: they are
	// logged, not sent.
	Send Send
	// NATS reads the NATS mappings' JetStream streams (nil: they are not
	// run).
	NATS jetstream.JetStream

	log *slog.Logger
}

// resync is how often the mappings are read when nothing says they changed.
const resync = 5 * time.Second

type running struct {
	m      Mapping
	cancel context.CancelFunc
	done   chan struct{}
}

// Run follows the mappings until ctx ends, then stops every poller.
func (mg *Manager) Run(ctx context.Context) {
	mg.log = slog.With("role", "pollers")
	live := map[string]*running{}
	defer func() {
		for _, r := range live {
			r.cancel()
			<-r.done
		}
	}()
	for {
		var changed <-chan struct{}
		if mg.Changed != nil {
			changed = mg.Changed()
		}
		want := map[string]Mapping{}
		if mg.Active == nil || mg.Active() {
			for _, m := range mg.Mappings() {
				want[m.UUID] = m
			}
		}
		for id, r := range live {
			if m, ok := want[id]; !ok || !reflect.DeepEqual(m, r.m) {
				r.cancel()
				<-r.done
				delete(live, id)
			}
		}
		for id, m := range want {
			if live[id] != nil {
				continue
			}
			run := mg.runner(m)
			if run == nil {
				continue
			}
			pctx, cancel := context.WithCancel(ctx)
			r := &running{m: m, cancel: cancel, done: make(chan struct{})}
			live[id] = r
			go func() { defer close(r.done); run(pctx) }()
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-time.After(resync):
		}
	}
}

// runner is the poller loop of m's source, or nil when this Paddock cannot
// read it.
func (mg *Manager) runner(m Mapping) func(context.Context) {
	switch service(m.EventSourceARN) {
	case "sqs":
		if mg.SQS == nil {
			mg.log.Warn("no SQS client: the mapping is not run", "uuid", m.UUID)
			return nil
		}
		f, err := NewFilter(m.FilterPatterns)
		if err != nil {
			mg.log.Error("the mapping's filter cannot be read: not run", "uuid", m.UUID, "err", err)
			return nil
		}
		p := &sqsPoller{m: m, client: mg.SQS, invoke: mg.Invoke, filter: f, log: mg.log.With("uuid", m.UUID, "queue", m.EventSourceARN)}
		return p.run
	case "nats":
		if mg.NATS == nil {
			mg.log.Warn("no NATS server for event sources (--event-nats-url): the mapping is not run", "uuid", m.UUID)
			return nil
		}
		f, err := NewFilter(m.FilterPatterns)
		if err != nil {
			mg.log.Error("the mapping's filter cannot be read: not run", "uuid", m.UUID, "err", err)
			return nil
		}
		p := &natsPoller{m: m, js: mg.NATS, invoke: mg.Invoke, filter: f, log: mg.log.With("uuid", m.UUID, "stream", m.EventSourceARN)}
		return p.run
	case "kinesis", "dynamodb":
		region, account := arnParts(m.EventSourceARN)
		var src streamSource
		p := &streamPoller{m: m, invoke: mg.Invoke, send: mg.Send, checkpoints: mg.Checkpoints, functionARN: m.FunctionARN,
			log: mg.log.With("uuid", m.UUID, "stream", m.EventSourceARN)}
		if service(m.EventSourceARN) == "kinesis" && mg.Kinesis != nil {
			src = &kinesisSource{client: mg.Kinesis, region: region, streamARN: m.EventSourceARN, timestamp: m.StartingPositionTimestamp}
			p.batchInfo, p.arrivalLayout = "KinesisBatchInfo", kinesisArrivalLayout
		} else if service(m.EventSourceARN) == "dynamodb" && mg.DynamoDBStreams != nil {
			src = &dynamoSource{client: mg.DynamoDBStreams, region: region, streamARN: m.EventSourceARN}
			p.batchInfo, p.arrivalLayout = "DDBStreamBatchInfo", dynamoDBArrivalLayout
		}
		if src == nil || mg.Checkpoints == nil || region == "" {
			mg.log.Warn("no client for the stream: the mapping is not run", "uuid", m.UUID, "stream", m.EventSourceARN)
			return nil
		}
		f, err := NewFilter(m.FilterPatterns)
		if err != nil {
			mg.log.Error("the mapping's filter cannot be read: not run", "uuid", m.UUID, "err", err)
			return nil
		}
		p.src, p.filter = src, f
		if p.functionARN == "" {
			p.functionARN = "arn:aws:lambda:" + region + ":" + account + ":function:" + m.Function
			if m.Qualifier != "" {
				p.functionARN += ":" + m.Qualifier
			}
		}
		return p.run
	default:
		mg.log.Warn("this Paddock does not poll the source yet: the mapping is not run", "uuid", m.UUID, "source", m.EventSourceARN)
		return nil
	}
}

func service(arn string) string {
	p := strings.SplitN(arn, ":", 6)
	if len(p) < 3 {
		return ""
	}
	return p[2]
}
