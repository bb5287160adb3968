package pollers

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestPlanFailure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policy   retryPolicy
		pc       piece
		failedAt int
		want     step
	}{
		{"retried in place", retryPolicy{MaxRetries: 2}, piece{Len: 4, Invokes: 1},
			0, step{Next: []piece{{Len: 4, Retries: 1, Invokes: 1}}}},
		{"retries used up", retryPolicy{MaxRetries: 2}, piece{Len: 4, Retries: 2, Invokes: 3},
			0, step{GiveUp: &piece{Len: 4, Retries: 3, Invokes: 3}}},
		{"no retries", retryPolicy{MaxRetries: 0}, piece{Off: 2, Len: 1, Invokes: 1},
			0, step{GiveUp: &piece{Off: 2, Len: 1, Retries: 1, Invokes: 1}}},
		{"infinite retries", retryPolicy{MaxRetries: -1}, piece{Len: 4, Retries: 9999, Invokes: 10000},
			0, step{Next: []piece{{Len: 4, Retries: 10000, Invokes: 10000}}}},
		// Splitting does not count towards the retry quota.
		{"bisected", retryPolicy{Bisect: true, MaxRetries: 0}, piece{Off: 10, Len: 5, Invokes: 1},
			0, step{Next: []piece{{Off: 10, Len: 2, Invokes: 1}, {Off: 12, Len: 3, Invokes: 1}}}},
		{"a single record is not split", retryPolicy{Bisect: true, MaxRetries: 1}, piece{Off: 3, Len: 1, Invokes: 3},
			0, step{Next: []piece{{Off: 3, Len: 1, Retries: 1, Invokes: 3}}}},
		{"a single record given up", retryPolicy{Bisect: true, MaxRetries: 1}, piece{Off: 3, Len: 1, Retries: 1, Invokes: 4},
			0, step{GiveUp: &piece{Off: 3, Len: 1, Retries: 2, Invokes: 4}}},
		// ReportBatchItemFailures: the records before the one named are done.
		{"partial, retried from the record named", retryPolicy{MaxRetries: 3}, piece{Len: 10, Invokes: 1},
			4, step{Done: 4, Next: []piece{{Off: 4, Len: 6, Retries: 1, Invokes: 1}}}},
		{"partial, retries used up", retryPolicy{MaxRetries: 0}, piece{Off: 1, Len: 10, Invokes: 1},
			4, step{Done: 4, GiveUp: &piece{Off: 5, Len: 6, Retries: 1, Invokes: 1}}},
		{"partial with bisect: split at the record named, not counted", retryPolicy{Bisect: true, MaxRetries: 0}, piece{Len: 10, Invokes: 1},
			7, step{Done: 7, Next: []piece{{Off: 7, Len: 3, Invokes: 1}}}},
	} {
		if got := tc.policy.planFailure(tc.pc, tc.failedAt); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// A bad record among good ones, with bisect and no retries: the good ones
// are done and only the bad one is given up, after log2(n)+1 invokes.
func TestPlanFailureIsolatesABadRecord(t *testing.T) {
	const n, bad = 8, 5
	policy := retryPolicy{Bisect: true, MaxRetries: 0}
	queue := []piece{{Len: n}}
	var done, given []int
	invokes := 0
	for len(queue) > 0 {
		pc := queue[0]
		pc.Invokes++
		invokes++
		if bad < pc.Off || bad >= pc.Off+pc.Len {
			for i := pc.Off; i < pc.Off+pc.Len; i++ {
				done = append(done, i)
			}
			queue = queue[1:]
			continue
		}
		st := policy.planFailure(pc, 0)
		if st.GiveUp != nil {
			for i := st.GiveUp.Off; i < st.GiveUp.Off+st.GiveUp.Len; i++ {
				given = append(given, i)
			}
			if st.GiveUp.Invokes != 4 {
				t.Errorf("the bad record was in %d invokes, want 4", st.GiveUp.Invokes)
			}
		}
		queue = append(st.Next, queue[1:]...)
	}
	if !reflect.DeepEqual(done, []int{0, 1, 2, 3, 4, 6, 7}) || !reflect.DeepEqual(given, []int{bad}) {
		t.Errorf("done %v, given up %v", done, given)
	}
	if invokes != 7 {
		t.Errorf("%d invokes, want 7", invokes)
	}
}

func TestExpired(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	for _, tc := range []struct {
		name     string
		maxAge   time.Duration
		arrivals []time.Time
		want     int
	}{
		{"any age", 0, []time.Time{ago(1000 * time.Hour)}, 0},
		{"none too old", time.Minute, []time.Time{ago(time.Minute), ago(time.Second)}, 0},
		{"the oldest", time.Minute, []time.Time{ago(2 * time.Minute), ago(61 * time.Second), ago(time.Second)}, 2},
		{"all", time.Minute, []time.Time{ago(2 * time.Minute), ago(90 * time.Second)}, 2},
		{"no arrival time is not too old", time.Minute, []time.Time{{}, ago(time.Hour)}, 0},
	} {
		if got := (retryPolicy{MaxAge: tc.maxAge}).expired(tc.arrivals, now); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// The success and failure conditions of AWS's "Reporting batch item
// failures" for streams.
func TestStreamFailures(t *testing.T) {
	seqs := []string{"100", "200", "300"}
	for _, tc := range []struct {
		resp string
		want int
	}{
		{``, -1},
		{`null`, -1},
		{`{}`, -1},
		{`{"batchItemFailures":null}`, -1},
		{`{"batchItemFailures":[]}`, -1},
		{`{"batchItemFailures":[{"itemIdentifier":"200"}]}`, 1},
		{`{"batchItemFailures":[{"itemIdentifier":"300"},{"itemIdentifier":"200"}]}`, 1}, // the lowest
		{`{"batchItemFailures":[{"itemIdentifier":"100"}]}`, 0},
		{`{"batchItemFailures":[{"itemIdentifier":""}]}`, 0},
		{`{"batchItemFailures":[{"itemIdentifier":null}]}`, 0},
		{`{"batchItemFailures":[{"id":"200"}]}`, 0},
		{`{"batchItemFailures":[{"itemIdentifier":"999"}]}`, 0},
		{`not json`, 0},
	} {
		if got := streamFailures([]byte(tc.resp), seqs); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.resp, got, tc.want)
		}
	}
}

// The record's shape is AWS's example invocation records (Kinesis's and
// DynamoDB's "Example invocation record").
func TestFailureRecord(t *testing.T) {
	t0 := time.Date(2019, 11, 14, 0, 13, 19, 400e6, time.UTC)
	recs := []streamRecord{{seq: "800000000003126276362", arrival: t0}, {seq: "800000000003126276363", arrival: t0.Add(2 * time.Second)}}
	rec := failureRecord{
		RequestContext:  failureRequestContext{RequestID: "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81", FunctionARN: "arn:aws:lambda:us-east-2:123456789012:function:myfunction", Condition: conditionRetries, ApproximateInvokeCount: 1},
		ResponseContext: &failureResponseContext{StatusCode: 200, ExecutedVersion: "$LATEST", FunctionError: "Unhandled"},
		Version:         "1.0", Timestamp: "2019-11-14T00:13:49.717Z",
	}
	const stream = "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388"
	body, err := rec.encode("DDBStreamBatchInfo", batchInfo("shardId-00000001573689847184-864758bb", stream, recs, dynamoDBArrivalLayout))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"requestContext":{"requestId":"316aa6d0-8154-xmpl-9af7-85d5f4a6bc81","functionArn":"arn:aws:lambda:us-east-2:123456789012:function:myfunction","condition":"RetryAttemptsExhausted","approximateInvokeCount":1},` +
		`"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"version":"1.0","timestamp":"2019-11-14T00:13:49.717Z",` +
		`"DDBStreamBatchInfo":{"shardId":"shardId-00000001573689847184-864758bb","startSequenceNumber":"800000000003126276362","endSequenceNumber":"800000000003126276363",` +
		`"approximateArrivalOfFirstRecord":"2019-11-14T00:13:19Z","approximateArrivalOfLastRecord":"2019-11-14T00:13:21Z","batchSize":2,"streamArn":"` + stream + `"}}`
	if string(body) != want {
		t.Errorf("record\n%s\nwant\n%s", body, want)
	}
	if !json.Valid(body) {
		t.Error("not JSON")
	}
	info := batchInfo("shardId-000000000001", "arn:aws:kinesis:us-east-2:123456789012:stream/mystream", recs, kinesisArrivalLayout)
	if info.ApproximateArrivalOfFirstRecord != "2019-11-14T00:13:19.400Z" {
		t.Errorf("Kinesis arrival %s", info.ApproximateArrivalOfFirstRecord)
	}
}
