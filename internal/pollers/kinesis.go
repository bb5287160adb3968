package pollers

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// kinesisSource reads a Kinesis stream for a streamPoller; its records
// reach the function as aws-lambda-go's events.KinesisEventRecord.
type kinesisSource struct {
	client            *kinesis.Client
	region, streamARN string
	timestamp         time.Time // StartingPositionTimestamp, for AT_TIMESTAMP
}

func (s *kinesisSource) opts(o *kinesis.Options) { o.Region = s.region }

func (s *kinesisSource) shards(ctx context.Context) ([]shardInfo, error) {
	var shards []shardInfo
	in := &kinesis.ListShardsInput{StreamARN: aws.String(s.streamARN)}
	for {
		out, err := s.client.ListShards(ctx, in, s.opts)
		if err != nil {
			return nil, err
		}
		for _, sh := range out.Shards {
			shards = append(shards, shardInfo{id: aws.ToString(sh.ShardId), parent: aws.ToString(sh.ParentShardId)})
		}
		if out.NextToken == nil {
			return shards, nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

func (s *kinesisSource) iterator(ctx context.Context, shard, after, position string) (*string, error) {
	in := &kinesis.GetShardIteratorInput{StreamARN: aws.String(s.streamARN), ShardId: aws.String(shard)}
	switch {
	case after != "":
		in.ShardIteratorType, in.StartingSequenceNumber = ktypes.ShardIteratorTypeAfterSequenceNumber, aws.String(after)
	case position == "LATEST":
		in.ShardIteratorType = ktypes.ShardIteratorTypeLatest
	case position == "AT_TIMESTAMP":
		in.ShardIteratorType, in.Timestamp = ktypes.ShardIteratorTypeAtTimestamp, aws.Time(s.timestamp)
	default:
		in.ShardIteratorType = ktypes.ShardIteratorTypeTrimHorizon
	}
	out, err := s.client.GetShardIterator(ctx, in, s.opts)
	if err != nil {
		return nil, err
	}
	return out.ShardIterator, nil
}

func (s *kinesisSource) read(ctx context.Context, shard string, it *string, limit int) ([]streamRecord, *string, error) {
	out, err := s.client.GetRecords(ctx, &kinesis.GetRecordsInput{StreamARN: aws.String(s.streamARN), ShardIterator: it, Limit: aws.Int32(int32(limit))}, s.opts)
	if err != nil {
		var expired *ktypes.ExpiredIteratorException
		if errors.As(err, &expired) {
			return nil, nil, errExpiredIterator
		}
		return nil, it, err
	}
	recs := make([]streamRecord, len(out.Records))
	for i, r := range out.Records {
		er := kinesisRecord(r, shard, s.region, s.streamARN)
		recs[i] = streamRecord{seq: er.Kinesis.SequenceNumber, arrival: er.Kinesis.ApproximateArrivalTimestamp.Time, event: er, view: kinesisView(er)}
	}
	return recs, out.NextShardIterator, nil
}

// kinesisRecord is r as the function gets it.
func kinesisRecord(r ktypes.Record, shard, region, streamARN string) events.KinesisEventRecord {
	er := events.KinesisEventRecord{
		AwsRegion: region, EventID: shard + ":" + aws.ToString(r.SequenceNumber), EventName: "aws:kinesis:record",
		EventSource: "aws:kinesis", EventSourceArn: streamARN, EventVersion: "1.0",
		Kinesis: events.KinesisRecord{
			Data: r.Data, PartitionKey: aws.ToString(r.PartitionKey), SequenceNumber: aws.ToString(r.SequenceNumber),
			KinesisSchemaVersion: "1.0", EncryptionType: string(r.EncryptionType),
		},
	}
	if r.ApproximateArrivalTimestamp != nil {
		er.Kinesis.ApproximateArrivalTimestamp = events.SecondsEpochTime{Time: *r.ApproximateArrivalTimestamp}
	}
	return er
}

// kinesisView is the record as filter patterns see it: data decoded when
// it is JSON.
func kinesisView(r events.KinesisEventRecord) map[string]any {
	v := recordView(r)
	var data any
	if k, ok := v["kinesis"].(map[string]any); ok && json.Unmarshal(r.Kinesis.Data, &data) == nil {
		k["data"] = data
		v["data"] = data
	}
	return v
}
