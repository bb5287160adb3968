package pollers

import (
	"encoding/json"
	"strings"
	"time"
)

// What a stream's shard does with a batch the function failed, as Lambda
// does it (AWS's "Using Lambda with Kinesis Data Streams", error handling,
// and "Bisecting a batch"):
//   - a function error is retried, the shard waiting, up to
//     MaximumRetryAttempts (-1: until the records expire or are too old);
//   - with BisectBatchOnFunctionError a failed batch is split in two and
//     each half tried in turn; "splitting a batch does not count towards
//     the retry quota", so only a single record's failures are counted;
//   - with ReportBatchItemFailures the function names the first record
//     that failed: the ones before it are done, the rest retried (with
//     BisectBatchOnFunctionError "bisected at the returned sequence
//     number", the split not counted);
//   - a throttle or an invoke that did not run the function is retried
//     in place, not counted;
//   - records older than MaximumRecordAgeInSeconds are skipped.
// Records given up are described to the OnFailure destination.

// Conditions of the on-failure record.
const (
	conditionRetries = "RetryAttemptsExhausted"
	conditionAge     = "RecordAgeExceeded"
)

// retryPolicy is a stream mapping's error handling.
type retryPolicy struct {
	Bisect     bool
	MaxRetries int           // -1: infinite
	MaxAge     time.Duration // 0: infinite
}

// piece is records [Off, Off+Len) of a shard's batch, waiting for the
// function, with the function errors counted against them (Retries) and
// the invokes they were in.
type piece struct {
	Off, Len, Retries, Invokes int
}

// step is what follows a failed invoke of a piece.
type step struct {
	Done   int     // records at the piece's start that the function took
	Next   []piece // tried next, in order, in the piece's place
	GiveUp *piece  // skipped, and described to OnFailure
}

// planFailure decides what follows an invoke of pc (pc.Invokes counting
// it) that failed from its record failedAt on: 0 for the whole piece (a
// function error, or an answer naming its first record).
func (p retryPolicy) planFailure(pc piece, failedAt int) step {
	var st step
	if failedAt > 0 {
		st.Done = failedAt
		rest := piece{Off: pc.Off + failedAt, Len: pc.Len - failedAt, Retries: pc.Retries, Invokes: pc.Invokes}
		if p.Bisect {
			st.Next = []piece{rest}
			return st
		}
		pc = rest
	} else if p.Bisect && pc.Len > 1 {
		half := pc.Len / 2
		st.Next = []piece{
			{Off: pc.Off, Len: half, Retries: pc.Retries, Invokes: pc.Invokes},
			{Off: pc.Off + half, Len: pc.Len - half, Retries: pc.Retries, Invokes: pc.Invokes},
		}
		return st
	}
	pc.Retries++
	if p.MaxRetries >= 0 && pc.Retries > p.MaxRetries {
		st.GiveUp = &pc
		return st
	}
	st.Next = []piece{pc}
	return st
}

// expired is how many records at the start of a piece (their arrival
// times, oldest first) are older than the policy's maximum age at now.
func (p retryPolicy) expired(arrivals []time.Time, now time.Time) int {
	if p.MaxAge <= 0 {
		return 0
	}
	n := 0
	for n < len(arrivals) && !arrivals[n].IsZero() && now.Sub(arrivals[n]) > p.MaxAge {
		n++
	}
	return n
}

// streamFailures reads a ReportBatchItemFailures answer to a batch of the
// sequence numbers seqs: -1 when the batch succeeded (no answer, null, no
// or an empty batchItemFailures), else the index of the first record to
// retry, the lowest of those named ("Lambda uses the record with the
// lowest sequence number as the checkpoint"); 0 when the answer fails the
// whole batch (not JSON, an itemIdentifier empty, null or not in the
// batch).
func streamFailures(resp []byte, seqs []string) int {
	trimmed := strings.TrimSpace(string(resp))
	if trimmed == "" || trimmed == "null" {
		return -1
	}
	var r struct {
		BatchItemFailures []map[string]any `json:"batchItemFailures"`
	}
	if err := json.Unmarshal([]byte(trimmed), &r); err != nil {
		return 0
	}
	at := map[string]int{}
	for i, s := range seqs {
		at[s] = i
	}
	first := -1
	for _, f := range r.BatchItemFailures {
		id, _ := f["itemIdentifier"].(string)
		i, ok := at[id]
		if !ok {
			return 0
		}
		if first < 0 || i < first {
			first = i
		}
	}
	return first
}

// failureRecord is the invocation record Lambda sends to a stream
// mapping's OnFailure destination: the batch described, not its records
// (AWS's example invocation records for Kinesis and DynamoDB streams).
type failureRecord struct {
	RequestContext  failureRequestContext   `json:"requestContext"`
	ResponseContext *failureResponseContext `json:"responseContext,omitempty"`
	Version         string                  `json:"version"`
	Timestamp       string                  `json:"timestamp"`
}

type failureRequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

type failureResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// streamBatchInfo is the record's KinesisBatchInfo or DDBStreamBatchInfo.
type streamBatchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamARN                       string `json:"streamArn"`
}

// Arrival layouts of the batch info, as AWS's examples write them.
const (
	kinesisArrivalLayout  = "2006-01-02T15:04:05.000Z"
	dynamoDBArrivalLayout = "2006-01-02T15:04:05Z"
)

func batchInfo(shard, streamARN string, recs []streamRecord, layout string) streamBatchInfo {
	first, last := recs[0], recs[len(recs)-1]
	return streamBatchInfo{
		ShardID: shard, StartSequenceNumber: first.seq, EndSequenceNumber: last.seq,
		ApproximateArrivalOfFirstRecord: first.arrival.UTC().Format(layout),
		ApproximateArrivalOfLastRecord:  last.arrival.UTC().Format(layout),
		BatchSize:                       len(recs), StreamARN: streamARN,
	}
}

// encode is the record's JSON, with info under the member name (after the
// others, where AWS's examples have it).
func (r failureRecord) encode(name string, info streamBatchInfo) ([]byte, error) {
	head, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	tail, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	key, _ := json.Marshal(name)
	out := append(head[:len(head)-1], ',')
	out = append(append(append(out, key...), ':'), tail...)
	return append(out, '}'), nil
}
