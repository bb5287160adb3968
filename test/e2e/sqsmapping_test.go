package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/paddockhq/paddock/internal/platform"
)

// sqsMapping is a queue in ElasticMQ, an LMI function of a testdata
// bootstrap on a Paddock that polls ElasticMQ, and (map) a mapping of one
// to the other.
type sqsMapping struct {
	e           *env
	q           *sqs.Client
	url, arn    string
	fn, version string
}

func newSQSMapping(t *testing.T, queue string, attributes map[string]string, fn, bootstrap string) *sqsMapping {
	t.Helper()
	emqURL, q := startElasticMQ(t)
	out, err := q.CreateQueue(ctx(t), &sqs.CreateQueueInput{QueueName: aws.String(queue), Attributes: attributes})
	if err != nil {
		t.Fatal(err)
	}
	s := &sqsMapping{q: q, url: aws.ToString(out.QueueUrl), arn: "arn:aws:sqs:us-east-1:" + elasticMQAccount + ":" + queue, fn: fn}
	s.e = startIn(t, t.TempDir(), func(o *platform.Options) { o.AWSEndpoint = emqURL })
	s.version = s.e.batchFunction(t, fn, bootstrap)
	return s
}

// batchFunction creates fn, an LMI function of a testdata bootstrap that
// takes batches of an event source, and returns its published version.
func (e *env) batchFunction(t *testing.T, fn, bootstrap string) string {
	t.Helper()
	cp := e.capacityProvider(fn)
	// A batch that ran past the default 3 s on a loaded machine would come
	// back whole: give it room.
	in := createInput(t, fn, cp, fnOpts{timeout: 60})
	in.Code.ZipFile = testdataZip(t, bootstrap)
	if _, err := e.lambda.CreateFunction(ctx(t), in); err != nil {
		t.Fatal(err)
	}
	v, st := e.publish(fn)
	if st != types.StateActive {
		t.Fatalf("version %s %s", v, st)
	}
	return v
}

// send sends the entries, ten to a SendMessageBatch, in order.
func (s *sqsMapping) send(t *testing.T, entries []sqstypes.SendMessageBatchRequestEntry) {
	t.Helper()
	for len(entries) > 0 {
		n := min(len(entries), 10)
		out, err := s.q.SendMessageBatch(ctx(t), &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.url), Entries: entries[:n]})
		if err != nil {
			t.Errorf("SendMessageBatch: %v", err)
		} else if len(out.Failed) > 0 {
			t.Errorf("SendMessageBatch: %d failed, first %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
		entries = entries[n:]
	}
}

// drain maps the queue to the function's version (ReportBatchItemFailures,
// batches of 10) and returns how long the queue took to be empty.
func (s *sqsMapping) drain(t *testing.T, within time.Duration) time.Duration {
	t.Helper()
	started := time.Now()
	m, err := s.e.lambda.CreateEventSourceMapping(ctx(t), &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String(s.fn + ":" + s.version), EventSourceArn: aws.String(s.arn), BatchSize: aws.Int32(10),
		FunctionResponseTypes: []types.FunctionResponseType{types.FunctionResponseTypeReportBatchItemFailures},
	})
	if err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	waitForLong(t, "the mapping to be Enabled", 30*time.Second, func() bool {
		g, err := s.e.lambda.GetEventSourceMapping(ctx(t), &lambda.GetEventSourceMappingInput{UUID: m.UUID})
		return err == nil && aws.ToString(g.State) == "Enabled"
	})
	waitForLong(t, "the queue to be drained", within, func() bool {
		a, err := s.q.GetQueueAttributes(ctx(t), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(s.url),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		return err == nil && a.Attributes["ApproximateNumberOfMessages"] == "0" && a.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
	})
	return time.Since(started)
}

// lines waits until the function's stdout lines whose first word is one
// of words are complete (done says so, given their words), and returns
// them.
func (s *sqsMapping) lines(t *testing.T, done func([][]string) bool, words ...string) [][]string {
	t.Helper()
	return s.e.functionLines(t, s.fn, done, words...)
}

// functionLines waits until fn's stdout lines whose first word is one of
// words are complete (done says so, given their words), and returns them.
func (e *env) functionLines(t *testing.T, fn string, done func([][]string) bool, words ...string) [][]string {
	t.Helper()
	var got [][]string
	waitForLong(t, "the function's lines in the logs", 60*time.Second, func() bool {
		got = got[:0]
		for _, r := range e.fetchLogs(fn, "") {
			text := r.Message
			var j struct{ Message string }
			if json.Unmarshal([]byte(text), &j) == nil { // LMI functions log in JSON
				text = j.Message
			}
			if f := strings.Fields(text); r.Stream == "stdout" && len(f) > 0 && slices.Contains(words, f[0]) {
				got = append(got, f)
			}
		}
		return done(got)
	})
	return got
}

// TestSQSMappingDrainsQueue: messages in an SQS queue (ElasticMQ) are
// drained by an LMI function through an event source mapping with
// ReportBatchItemFailures: the 1% the function reports failed on their
// first receive come back once and only they do; the queue is empty at
// the end. 10,000 messages by default (PADDOCK_SQS_MESSAGES sets another
// count, a multiple of 100).
func TestSQSMappingDrainsQueue(t *testing.T) {
	s := newSQSMapping(t, "esm-q", map[string]string{"VisibilityTimeout": "10"}, "esm-fn", "sqsbatch")
	total := 10000
	if n, err := strconv.Atoi(os.Getenv("PADDOCK_SQS_MESSAGES")); err == nil && n >= 100 {
		total = n / 100 * 100
	}
	failing := total / 100
	body := func(i int) (string, []string) {
		if i%(total/failing) == 0 {
			return fmt.Sprintf("fail-%05d", i), []string{"1", "2"}
		}
		return fmt.Sprintf("ok-%05d", i), []string{"1"}
	}
	sendStart := time.Now()
	var wg sync.WaitGroup
	const senders = 8
	for w := range senders {
		wg.Go(func() {
			var entries []sqstypes.SendMessageBatchRequestEntry
			for i := w; i < total; i += senders {
				b, _ := body(i)
				entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(b)})
			}
			s.send(t, entries)
		})
	}
	wg.Wait()
	sent := time.Since(sendStart)

	drained := s.drain(t, 4*time.Minute)

	// What the function saw: each message by its receives.
	seen := map[string][]string{}
	for _, f := range s.lines(t, func(l [][]string) bool { return len(l) >= total+failing }, "processed") {
		if len(f) >= 4 {
			seen[f[1]] = append(seen[f[1]], f[3])
		}
	}
	again, missing := 0, 0
	for i := range total {
		b, want := body(i)
		got := seen[b]
		switch {
		case len(got) == 0:
			missing++
		case strings.Join(got, ",") != strings.Join(want, ","):
			if again++; again <= 5 {
				t.Errorf("%s was received %v, want %v", b, got, want)
			}
		}
	}
	if missing > 0 || again > 0 {
		t.Fatalf("%d messages never reached the function, %d were received other than expected", missing, again)
	}
	t.Logf("%d messages sent in %s; drained (%d failed once) in %s: %.0f messages/s",
		total, sent.Round(time.Millisecond), failing, drained.Round(time.Millisecond), float64(total+failing)/drained.Seconds())
}

// TestSQSMappingFIFOKeepsGroupOrder: a FIFO queue (ElasticMQ) of 8 message
// groups of 100 messages each, drained by an LMI function that fails two
// messages of each group on their first receive and reports only those
// (ReportBatchItemFailures), while it goes on with the rest of the batch.
// Each group's messages reach the function in order, one batch of a group
// at a time: a batch holds the next messages of the group (none skipped,
// none out of order), after a failure the group starts again from the
// failed message (the rest of its batch came back with it), and no two
// batches that hold one group overlap in time.
func TestSQSMappingFIFOKeepsGroupOrder(t *testing.T) {
	// A failed message holds its group back for the visibility timeout.
	s := newSQSMapping(t, "esm-fifo.fifo", map[string]string{"FifoQueue": "true", "VisibilityTimeout": "3"}, "fifo-fn", "sqsfifo")
	const groups, perGroup = 8, 100
	fails := func(seq int) bool { return seq%50 == 17 }
	var wg sync.WaitGroup
	for g := range groups {
		wg.Go(func() {
			var entries []sqstypes.SendMessageBatchRequestEntry
			for seq := range perGroup {
				b := fmt.Sprintf("g%d-%03d", g, seq)
				if fails(seq) {
					b += "-fail"
				}
				entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(seq)), MessageBody: aws.String(b),
					MessageGroupId: aws.String(fmt.Sprintf("g%d", g)), MessageDeduplicationId: aws.String(b)})
			}
			s.send(t, entries)
		})
	}
	wg.Wait()
	drained := s.drain(t, 3*time.Minute)

	// Rebuild the batches from the lines: "fifo <request> <position>
	// <body> receive <n>" and "batch <request> <start> <end>".
	type record struct {
		group, seq, receive int
		failed              bool
	}
	type batch struct {
		start, end int64
		records    map[int]record // by position
	}
	batches := map[string]*batch{}
	get := func(id string) *batch {
		if batches[id] == nil {
			batches[id] = &batch{records: map[int]record{}}
		}
		return batches[id]
	}
	failures := 0
	for g := range perGroup {
		if fails(g) {
			failures += groups
		}
	}
	records := 0
	// Every message once and the failed ones twice, and the end of every
	// batch that printed them.
	complete := func(lines [][]string) bool {
		open := map[string]int{}
		for _, f := range lines {
			if len(f) > 1 && f[0] == "fifo" {
				open[f[1]]++
			}
		}
		n := 0
		for _, f := range lines {
			if len(f) > 1 && f[0] == "batch" {
				n += open[f[1]]
				delete(open, f[1])
			}
		}
		return len(open) == 0 && n >= groups*perGroup+failures
	}
	for _, f := range s.lines(t, complete, "fifo", "batch") {
		switch {
		case f[0] == "batch" && len(f) == 4:
			b := get(f[1])
			b.start, _ = strconv.ParseInt(f[2], 10, 64)
			b.end, _ = strconv.ParseInt(f[3], 10, 64)
		case f[0] == "fifo" && len(f) == 6:
			var r record
			pos, _ := strconv.Atoi(f[2])
			fmt.Sscanf(f[3], "g%d-%d", &r.group, &r.seq) //nolint:errcheck // checked below
			r.receive, _ = strconv.Atoi(f[5])
			r.failed = strings.HasSuffix(f[3], "-fail") && r.receive == 1
			get(f[1]).records[pos] = r
			records++
		default:
			t.Fatalf("line %q", f)
		}
	}
	ordered := make([]*batch, 0, len(batches))
	for id, b := range batches {
		if b.start == 0 {
			t.Fatalf("batch %s: no batch line", id)
		}
		ordered = append(ordered, b)
	}
	slices.SortFunc(ordered, func(a, b *batch) int { return int(a.start - b.start) })

	// Per group: where it is (the next message it must get) and the end of
	// the last batch that held it.
	next, lastEnd := make([]int, groups), make([]int64, groups)
	most := 0
	for i, b := range ordered {
		concurrent := 0
		for _, o := range ordered[:i] {
			if o.end > b.start {
				concurrent++
			}
		}
		most = max(most, concurrent+1)
		inBatch := map[int]bool{}
		held := map[int]bool{} // groups whose failure holds back the rest of the batch
		for pos := range len(b.records) {
			r, ok := b.records[pos]
			if !ok {
				t.Fatalf("a batch without its record %d", pos)
			}
			g := r.group
			if !inBatch[g] {
				inBatch[g] = true
				if b.start < lastEnd[g] {
					t.Errorf("group %d: a batch started %s before the one before it ended", g, time.Duration(lastEnd[g]-b.start))
				}
				lastEnd[g] = b.end
			}
			switch {
			case held[g]:
				// It comes again after the failed one.
			case r.seq != next[g]:
				t.Fatalf("group %d got message %d, want %d", g, r.seq, next[g])
			case r.failed:
				held[g] = true
			default:
				next[g]++
			}
		}
	}
	for g, n := range next {
		if n != perGroup {
			t.Errorf("group %d: %d of %d messages processed", g, n, perGroup)
		}
	}
	t.Logf("%d groups x %d messages (%d failed once) drained in %s: %d records in %d batches, at most %d batches at once",
		groups, perGroup, failures, drained.Round(time.Millisecond), records, len(batches), most)
}
