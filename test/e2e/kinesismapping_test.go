package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/paddockhq/paddock/internal/platform"
)

// TestKinesisMappingInOrder: records put on a two-shard Kinesis stream
// (moto_server) reach the function through an event source mapping from
// TRIM_HORIZON, each once, and in order per partition key (a key's records
// are on one shard, which is read one batch at a time).
func TestKinesisMappingInOrder(t *testing.T) {
	motoURL := startMoto(t)
	kc := kinesis.New(kinesis.Options{BaseEndpoint: aws.String(motoURL), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	if _, err := kc.CreateStream(ctx(t), &kinesis.CreateStreamInput{StreamName: aws.String("esm-stream"), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	var streamARN string
	waitForLong(t, "the stream to be ACTIVE", 30*time.Second, func() bool {
		d, err := kc.DescribeStreamSummary(ctx(t), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("esm-stream")})
		if err != nil || d.StreamDescriptionSummary.StreamStatus != ktypes.StreamStatusActive {
			return false
		}
		streamARN = aws.ToString(d.StreamDescriptionSummary.StreamARN)
		return true
	})
	const keys, perKey = 4, 50
	for i := range perKey {
		for k := range keys {
			if _, err := kc.PutRecord(ctx(t), &kinesis.PutRecordInput{StreamName: aws.String("esm-stream"),
				PartitionKey: aws.String(fmt.Sprintf("key-%d", k)), Data: []byte(strconv.Itoa(i))}); err != nil {
				t.Fatal(err)
			}
		}
	}

	e := startIn(t, t.TempDir(), func(o *platform.Options) { o.AWSEndpoint = motoURL })
	// One LMI EE: every batch prints to the same stdout, so the order of
	// the lines in the logs is the order the function got the records
	// (lines of several EEs reach the log stream in no set order).
	cp := e.capacityProvider("kin")
	in := createInput(t, "kin-fn", cp, fnOpts{})
	in.Code.ZipFile = testdataZip(t, "kinesisorder")
	if _, err := e.lambda.CreateFunction(ctx(t), in); err != nil {
		t.Fatal(err)
	}
	e.scale("kin-fn", "$LATEST.PUBLISHED", 1, 1)
	v, st := e.publish("kin-fn")
	if st != types.StateActive {
		t.Fatalf("version %s %s", v, st)
	}
	if _, err := e.lambda.CreateEventSourceMapping(ctx(t), &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("kin-fn:" + v), EventSourceArn: aws.String(streamARN), BatchSize: aws.Int32(10),
		StartingPosition: types.EventSourcePositionTrimHorizon,
	}); err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	got := map[string][]int{}
	shardOf := map[string]map[string]bool{}
	waitForLong(t, "every record to reach the function", 2*time.Minute, func() bool {
		got, shardOf = map[string][]int{}, map[string]map[string]bool{}
		n := 0
		for _, r := range e.fetchLogs("kin-fn", "") {
			text := r.Message
			var j struct{ Message string }
			if json.Unmarshal([]byte(text), &j) == nil {
				text = j.Message
			}
			f := strings.Fields(text)
			if r.Stream != "stdout" || len(f) != 4 || f[0] != "kinesis" {
				continue
			}
			v, _ := strconv.Atoi(f[2])
			got[f[1]] = append(got[f[1]], v)
			if shardOf[f[1]] == nil {
				shardOf[f[1]] = map[string]bool{}
			}
			shardOf[f[1]][f[3]] = true
			n++
		}
		return n >= keys*perKey
	})
	for k := range keys {
		key := fmt.Sprintf("key-%d", k)
		seq := got[key]
		ok := len(seq) == perKey
		for i := 0; ok && i < perKey; i++ {
			ok = seq[i] == i
		}
		if !ok {
			t.Errorf("%s reached the function as %v, want 0..%d once each, in order", key, seq, perKey-1)
		}
		if len(shardOf[key]) != 1 {
			t.Errorf("%s came from shards %v", key, shardOf[key])
		}
	}
}
