package pollers

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// dynamoSource reads a DynamoDB stream (arn:aws:dynamodb:REGION:ACCOUNT:
// table/T/stream/LABEL) for a streamPoller; its records reach the function
// as aws-lambda-go's events.DynamoDBEventRecord.
type dynamoSource struct {
	client            *dynamodbstreams.Client
	region, streamARN string
}

func (s *dynamoSource) opts(o *dynamodbstreams.Options) { o.Region = s.region }

func (s *dynamoSource) shards(ctx context.Context) ([]shardInfo, error) {
	var shards []shardInfo
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(s.streamARN)}
	for {
		out, err := s.client.DescribeStream(ctx, in, s.opts)
		if err != nil {
			return nil, err
		}
		d := out.StreamDescription
		if d == nil {
			return shards, nil
		}
		for _, sh := range d.Shards {
			shards = append(shards, shardInfo{id: aws.ToString(sh.ShardId), parent: aws.ToString(sh.ParentShardId)})
		}
		if d.LastEvaluatedShardId == nil {
			return shards, nil
		}
		in = &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(s.streamARN), ExclusiveStartShardId: d.LastEvaluatedShardId}
	}
}

func (s *dynamoSource) iterator(ctx context.Context, shard, after, position string) (*string, error) {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(s.streamARN), ShardId: aws.String(shard)}
	switch {
	case after != "":
		in.ShardIteratorType, in.SequenceNumber = dtypes.ShardIteratorTypeAfterSequenceNumber, aws.String(after)
	case position == "LATEST":
		in.ShardIteratorType = dtypes.ShardIteratorTypeLatest
	default: // AT_TIMESTAMP is refused for DynamoDB streams when the mapping is made
		in.ShardIteratorType = dtypes.ShardIteratorTypeTrimHorizon
	}
	out, err := s.client.GetShardIterator(ctx, in, s.opts)
	var trimmed *dtypes.TrimmedDataAccessException
	if after != "" && errors.As(err, &trimmed) {
		// The checkpoint's record is past the stream's 24 hours: what is
		// left of the shard comes next.
		return s.iterator(ctx, shard, "", "TRIM_HORIZON")
	}
	if err != nil {
		return nil, err
	}
	return out.ShardIterator, nil
}

func (s *dynamoSource) read(ctx context.Context, _ string, it *string, limit int) ([]streamRecord, *string, error) {
	out, err := s.client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(int32(min(limit, 1000)))}, s.opts)
	if err != nil {
		var expired *dtypes.ExpiredIteratorException
		var trimmed *dtypes.TrimmedDataAccessException
		if errors.As(err, &expired) || errors.As(err, &trimmed) {
			return nil, nil, errExpiredIterator
		}
		return nil, it, err
	}
	recs := make([]streamRecord, len(out.Records))
	for i, r := range out.Records {
		er := dynamoRecord(r, s.region, s.streamARN)
		recs[i] = streamRecord{seq: er.Change.SequenceNumber, arrival: er.Change.ApproximateCreationDateTime.Time, event: er, view: recordView(er)}
	}
	return recs, out.NextShardIterator, nil
}

// dynamoRecord is r as the function gets it: the stream's record, with
// the mapping's stream as eventSourceARN.
func dynamoRecord(r dtypes.Record, region, streamARN string) events.DynamoDBEventRecord {
	er := events.DynamoDBEventRecord{
		AWSRegion: aws.ToString(r.AwsRegion), EventID: aws.ToString(r.EventID), EventName: string(r.EventName),
		EventSource: aws.ToString(r.EventSource), EventVersion: aws.ToString(r.EventVersion), EventSourceArn: streamARN,
	}
	if er.AWSRegion == "" {
		er.AWSRegion = region
	}
	if er.EventSource == "" {
		er.EventSource = "aws:dynamodb"
	}
	if er.EventVersion == "" {
		er.EventVersion = "1.1"
	}
	if u := r.UserIdentity; u != nil {
		er.UserIdentity = &events.DynamoDBUserIdentity{Type: aws.ToString(u.Type), PrincipalID: aws.ToString(u.PrincipalId)}
	}
	if d := r.Dynamodb; d != nil {
		er.Change = events.DynamoDBStreamRecord{
			Keys: attributes(d.Keys), NewImage: attributes(d.NewImage), OldImage: attributes(d.OldImage),
			SequenceNumber: aws.ToString(d.SequenceNumber), SizeBytes: aws.ToInt64(d.SizeBytes), StreamViewType: string(d.StreamViewType),
		}
		if d.ApproximateCreationDateTime != nil {
			er.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
		}
	}
	return er
}

func attributes(m map[string]dtypes.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		out[k] = attribute(v)
	}
	return out
}

func attribute(v dtypes.AttributeValue) events.DynamoDBAttributeValue {
	switch a := v.(type) {
	case *dtypes.AttributeValueMemberS:
		return events.NewStringAttribute(a.Value)
	case *dtypes.AttributeValueMemberN:
		return events.NewNumberAttribute(a.Value)
	case *dtypes.AttributeValueMemberB:
		return events.NewBinaryAttribute(a.Value)
	case *dtypes.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(a.Value)
	case *dtypes.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *dtypes.AttributeValueMemberSS:
		return events.NewStringSetAttribute(a.Value)
	case *dtypes.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(a.Value)
	case *dtypes.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(a.Value)
	case *dtypes.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(a.Value))
		for i, x := range a.Value {
			l[i] = attribute(x)
		}
		return events.NewListAttribute(l)
	case *dtypes.AttributeValueMemberM:
		return events.NewMapAttribute(attributes(a.Value))
	default:
		return events.NewNullAttribute()
	}
}
