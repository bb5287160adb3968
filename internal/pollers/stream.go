package pollers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/paddockhq/paddock/internal/async"
	"github.com/paddockhq/paddock/internal/ids"
)

// Checkpoints keep, per mapping and shard, the sequence number of the last
// record the function took (or that was given up), so that a poller that
// restarts (or another server that takes over) goes on after it.
type Checkpoints interface {
	Get(ctx context.Context, mapping, shard string) (seq string, err error) // "" when none
	Put(ctx context.Context, mapping, shard, seq string) error
}

// streamSource is what a stream's readers need of its service: Kinesis
// (kinesis.go) and DynamoDB Streams (dynamodb.go) differ only in these.
type streamSource interface {
	// shards lists the stream's shards, parents before their children.
	shards(ctx context.Context) ([]shardInfo, error)
	// iterator starts reading shard after the sequence number after or,
	// when it is "", at position (TRIM_HORIZON, LATEST, AT_TIMESTAMP).
	iterator(ctx context.Context, shard, after, position string) (*string, error)
	// read returns up to limit records and the next iterator (nil: the
	// shard is closed and read to its end); an iterator that expired is
	// errExpiredIterator.
	read(ctx context.Context, shard string, it *string, limit int) ([]streamRecord, *string, error)
}

type shardInfo struct{ id, parent string }

// streamRecord is a record as its shard reader handles it: its position,
// when it reached the stream, and the record the function gets
// (events.KinesisEventRecord or events.DynamoDBEventRecord).
type streamRecord struct {
	seq     string
	arrival time.Time
	event   any
	view    map[string]any // as filter patterns see it
}

var errExpiredIterator = errors.New("the shard iterator expired")

// emptyWait is the pause after a read that found nothing: a Kinesis shard
// allows 5 GetRecords a second, a DynamoDB stream's shard about as many.
const emptyWait = time.Second

// rediscover is how often the readers look for new shards (a stream that
// was resharded, a DynamoDB stream's shards rolling over).
const rediscover = time.Minute

// streamPoller runs one stream mapping: one reader per shard, so that a
// shard's records reach the function in order, one batch at a time; a
// child shard is read once its parent is read to its end.
type streamPoller struct {
	m           Mapping
	src         streamSource
	invoke      Invoke
	send        Send
	filter      *Filter
	checkpoints Checkpoints
	log         *slog.Logger
	// batchInfo names the on-failure record's account of the batch:
	// KinesisBatchInfo or DDBStreamBatchInfo.
	batchInfo string
	// arrivalLayout is how that account writes the records' arrival
	// (Kinesis with milliseconds, DynamoDB in seconds, as AWS's examples).
	arrivalLayout string
	functionARN   string
}

func (p *streamPoller) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	done := map[string]chan struct{}{} // shard → closed when read to its end
	for first := true; ; first = false {
		shards, err := p.src.shards(ctx)
		for wait := time.Second; err != nil; wait = min(2*wait, 30*time.Second) {
			p.log.Warn("list the stream's shards", "err", err, "retry in", wait)
			if sleep(ctx, wait) != nil {
				return
			}
			shards, err = p.src.shards(ctx)
		}
		started := 0
		for _, s := range shards {
			if done[s.id] != nil {
				continue
			}
			// A shard found after the start is new since: it is read from
			// its beginning, not from the mapping's StartingPosition.
			position := p.m.StartingPosition
			if !first {
				position = "TRIM_HORIZON"
			}
			parent := done[s.parent]
			ch := make(chan struct{})
			done[s.id] = ch
			started++
			wg.Go(func() {
				if parent != nil {
					select {
					case <-parent:
					case <-ctx.Done():
						return
					}
				}
				if p.shard(ctx, s.id, position) {
					close(ch)
				}
			})
		}
		if started > 0 {
			p.log.Info("polling", "new shards", started, "batch", p.m.BatchSize)
		}
		if sleep(ctx, rediscover) != nil {
			return
		}
	}
}

// start is an iterator for the shard, retried until it is had or ctx ends.
func (p *streamPoller) start(ctx context.Context, log *slog.Logger, shard, position string) *string {
	for wait := time.Second; ctx.Err() == nil; wait = min(2*wait, 30*time.Second) {
		seq, err := p.checkpoints.Get(ctx, p.m.UUID, shard)
		var it *string
		if err == nil {
			it, err = p.src.iterator(ctx, shard, seq, position)
		}
		if err == nil {
			return it
		}
		log.Warn("start reading the shard", "err", err, "retry in", wait)
		sleep(ctx, wait) //nolint:errcheck
	}
	return nil
}

// shard reads one shard in order until ctx ends or the shard is closed; it
// reports whether the shard was read to its end.
func (p *streamPoller) shard(ctx context.Context, shard, position string) bool {
	log := p.log.With("shard", shard)
	it := p.start(ctx, log, shard, position)
	for it != nil && ctx.Err() == nil {
		recs, next, err := p.src.read(ctx, shard, it, max(p.m.BatchSize, 1))
		if errors.Is(err, errExpiredIterator) {
			it = p.start(ctx, log, shard, position) // again from the checkpoint
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("read the shard", "err", err)
				sleep(ctx, time.Second) //nolint:errcheck
			}
			continue
		}
		if len(recs) > 0 && !p.deliver(ctx, log, shard, recs) {
			return false // ctx ended with the batch undelivered: the checkpoint holds
		}
		it = next
		if len(recs) == 0 && next != nil {
			sleep(ctx, emptyWait) //nolint:errcheck
		}
	}
	if ctx.Err() != nil {
		return false
	}
	log.Info("the shard is closed: every record was read")
	return true
}

// deliver hands one read of a shard to the function, the piece at the head
// first (planFailure decides what follows a failure: retried whole, split
// in two, or given up to OnFailure), and moves the checkpoint past each
// piece done. It reports false when ctx ended first.
func (p *streamPoller) deliver(ctx context.Context, log *slog.Logger, shard string, recs []streamRecord) bool {
	var batch []streamRecord
	for _, r := range recs {
		if p.filter.Match(r.view) {
			batch = append(batch, r)
		}
	}
	policy := retryPolicy{Bisect: p.m.BisectBatchOnFunctionError, MaxRetries: p.m.MaximumRetryAttempts, MaxAge: p.m.MaximumRecordAge}
	queue := []piece{{Len: len(batch)}}
	if len(batch) == 0 {
		queue = nil
	}
	wait := time.Second
	var last *async.Result // the head piece's last answer
	for len(queue) > 0 {
		pc := queue[0]
		recs := batch[pc.Off : pc.Off+pc.Len]
		if n := policy.expired(arrivals(recs), time.Now()); n > 0 {
			p.giveUp(ctx, log, shard, recs[:n], pc.Invokes, last, conditionAge)
			pc.Off, pc.Len, recs = pc.Off+n, pc.Len-n, recs[n:]
			if queue[0] = pc; pc.Len == 0 {
				queue, last = queue[1:], nil
				continue
			}
		}
		payload, err := encodeRecords(recs)
		if err != nil {
			log.Error("encode a batch: skipped", "err", err)
			return p.checkpoint(ctx, log, shard, recs[len(recs)-1].seq)
		}
		res := p.invoke(ctx, p.m.Function, p.m.Qualifier, payload)
		if ctx.Err() != nil {
			return false
		}
		failedAt := -1
		switch res.Outcome {
		case async.Succeeded:
			if p.m.ReportBatchItemFailures {
				failedAt = streamFailures(res.Response, seqs(recs))
			}
		case async.FunctionError:
			failedAt = 0
		default:
			// Not run (a throttle, a system error): tried again in place,
			// not counted as a retry, as Lambda does.
			log.Warn("the batch did not run: tried again", "outcome", res.Outcome, "err", res.Err, "retry in", wait)
			if sleep(ctx, wait) != nil {
				return false
			}
			wait = min(2*wait, time.Minute)
			continue
		}
		pc.Invokes++
		last = &res
		if failedAt < 0 {
			p.checkpoint(ctx, log, shard, recs[len(recs)-1].seq)
			queue, last, wait = queue[1:], nil, time.Second
			continue
		}
		st := policy.planFailure(pc, failedAt)
		if st.Done > 0 {
			p.checkpoint(ctx, log, shard, recs[st.Done-1].seq)
		}
		if st.GiveUp != nil {
			g := st.GiveUp
			p.giveUp(ctx, log, shard, batch[g.Off:g.Off+g.Len], g.Invokes, last, conditionRetries)
		}
		queue = append(st.Next, queue[1:]...)
		if len(st.Next) == 0 || st.Next[0].Len != pc.Len-st.Done {
			last, wait = nil, time.Second // a new head: split, or the next piece
			continue
		}
		// The same records again, in place: nothing after them in the
		// shard goes first.
		log.Debug("a batch failed: retried", "records", st.Next[0].Len, "retries", st.Next[0].Retries, "retry in", wait)
		if sleep(ctx, wait) != nil {
			return false
		}
		wait = min(2*wait, time.Minute)
	}
	return p.checkpoint(ctx, log, shard, recs[len(recs)-1].seq)
}

// checkpoint moves the shard's checkpoint to seq; it reports true (a
// failed write only means a restart delivers the records again).
func (p *streamPoller) checkpoint(ctx context.Context, log *slog.Logger, shard, seq string) bool {
	if err := p.checkpoints.Put(ctx, p.m.UUID, shard, seq); err != nil {
		log.Warn("keep the shard's checkpoint: a restart delivers these records again", "err", err)
	}
	return true
}

// giveUp sends the on-failure record of recs, which are skipped.
func (p *streamPoller) giveUp(ctx context.Context, log *slog.Logger, shard string, recs []streamRecord, invokes int, last *async.Result, condition string) {
	log.Warn("records given up", "condition", condition, "records", len(recs), "first", recs[0].seq, "last", recs[len(recs)-1].seq, "invokes", invokes)
	if p.m.OnFailure == "" {
		return
	}
	if p.send == nil {
		log.Warn("no destinations client: the on-failure record is not sent", "destination", p.m.OnFailure)
		return
	}
	rec := failureRecord{
		RequestContext: failureRequestContext{RequestID: ids.New(), FunctionARN: p.functionARN, Condition: condition, ApproximateInvokeCount: invokes},
		Version:        "1.0",
		Timestamp:      time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
	}
	if last != nil {
		rec.ResponseContext = &failureResponseContext{StatusCode: 200, ExecutedVersion: last.ExecutedVersion, FunctionError: last.FunctionError}
	}
	info := batchInfo(shard, p.m.EventSourceARN, recs, p.arrivalLayout)
	body, err := rec.encode(p.batchInfo, info)
	if err == nil {
		err = p.send(ctx, p.m.OnFailure, body)
	}
	if err != nil {
		log.Error("send the on-failure record", "destination", p.m.OnFailure, "err", err)
	}
}

func arrivals(recs []streamRecord) []time.Time {
	out := make([]time.Time, len(recs))
	for i, r := range recs {
		out[i] = r.arrival
	}
	return out
}

func seqs(recs []streamRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.seq
	}
	return out
}

// encodeRecords is the payload of a batch: {"Records":[...]}, the shape of
// both events.KinesisEvent and events.DynamoDBEvent.
func encodeRecords(recs []streamRecord) ([]byte, error) {
	evs := make([]any, len(recs))
	for i, r := range recs {
		evs[i] = r.event
	}
	return json.Marshal(struct {
		Records []any `json:"Records"`
	}{evs})
}

// recordView is a record as filter patterns see it: its JSON as a map.
func recordView(event any) map[string]any {
	b, _ := json.Marshal(event)
	var v map[string]any
	json.Unmarshal(b, &v) //nolint:errcheck // it was just encoded
	return v
}

// arnParts are an ARN's region and account.
func arnParts(arn string) (region, account string) {
	p := strings.SplitN(arn, ":", 6)
	if len(p) != 6 {
		return "", ""
	}
	return p[3], p[4]
}
